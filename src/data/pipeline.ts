// Augmentation pipelines as plain data (so worker threads can receive them)
// and the per-sample executor that runs one.

import {
  centerCropBox,
  colorJitterFused,
  gaussianBlurNormalizeInto,
  normalizeInto,
  resizedCrop,
  sampleJitter,
  sampleResizedCrop,
  type CropBox,
  type FloatImage,
  type JitterDraw,
  type JitterStrength,
} from './augment.js';
import type { DecodeHint, RawImage, RegionRequest } from './dataset.js';
import type { Rng } from './rng.js';
import { SimdAugment, simdAvailable } from './simd.js';

export type CropSpec =
  /** torchvision RandomResizedCrop. */
  | { type: 'random-resized'; scale: [number, number]; ratio: [number, number] }
  /** Resize the shorter side to `resize`, then take the centred output (evaluation). */
  | { type: 'center'; resize: number };

export interface PipelineSpec {
  /** For reports; 'weak', 'strong', 'eval' or anything. */
  name: string;
  height: number;
  width: number;
  /** Channels the model expects: grey sources are replicated to 3, colour ones turned grey for 1. */
  channels: 1 | 3;
  crop: CropSpec;
  /** Probability of a horizontal flip. */
  flip: number;
  /** Colour jitter strengths and the probability of applying it at all. */
  jitter?: JitterStrength & { p: number };
  /** Probability of turning the image grey. */
  grayscale: number;
  /** Gaussian blur: probability and the range sigma is drawn from (pixels). */
  blur?: { p: number; sigma: [number, number] };
  /** Per output channel. */
  mean: number[];
  std: number[];
}

export type PipelineName = 'weak' | 'strong' | 'eval';

export interface PipelineOptions {
  /** Output size: a square side or [height, width]. */
  size: number | [number, number];
  /** Default 3. */
  channels?: 1 | 3;
  /** Per-channel mean subtracted after augmentation (default 0: no shift). */
  mean?: number[];
  /** Per-channel divisor (default 1). */
  std?: number[];
  /** Random-resized-crop area range (weak and strong; default [0.2, 1]). */
  scale?: [number, number];
  /** Random-resized-crop aspect-ratio range (default [3/4, 4/3]). */
  ratio?: [number, number];
  /** Evaluation resize of the shorter side (default: the larger output side / 0.875, rounded, for sizes >= 128; else the larger output side). */
  resize?: number;
}

/** The usual ImageNet statistics (torchvision). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/**
 * Build a named pipeline:
 * - `weak`: random resized crop (scale 0.2-1) + flip, the view SimReg feeds teacher and student.
 * - `strong`: MoCo-v2: random resized crop 0.2-1, colour jitter (0.4, 0.4, 0.4, 0.1) with p 0.8,
 *   grayscale p 0.2, Gaussian blur p 0.5 with sigma in [0.1, 2], flip.
 * - `eval`: resize the shorter side, centre crop.
 */
export function makePipeline(name: PipelineName, opts: PipelineOptions): PipelineSpec {
  const [height, width] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
  const channels = opts.channels ?? 3;
  const mean = opts.mean ?? new Array<number>(channels).fill(0);
  const std = opts.std ?? new Array<number>(channels).fill(1);
  const randomCrop: CropSpec = { type: 'random-resized', scale: opts.scale ?? [0.2, 1], ratio: opts.ratio ?? [3 / 4, 4 / 3] };
  const base = { height, width, channels, mean, std, grayscale: 0 };
  let spec: PipelineSpec;
  switch (name) {
    case 'weak':
      spec = { ...base, name, crop: randomCrop, flip: 0.5 };
      break;
    case 'strong':
      spec = {
        ...base,
        name,
        crop: randomCrop,
        flip: 0.5,
        jitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
        grayscale: 0.2,
        blur: { p: 0.5, sigma: [0.1, 2.0] },
      };
      break;
    case 'eval': {
      // The shorter side goes to `resize`; the larger crop side must fit in it.
      const side = Math.max(height, width);
      const resize = opts.resize ?? (side >= 128 ? Math.round(side / 0.875) : side);
      spec = { ...base, name, crop: { type: 'center', resize }, flip: 0 };
      break;
    }
    default:
      throw new Error(`unknown pipeline '${name as string}': expected weak, strong or eval`);
  }
  checkPipeline(spec);
  return spec;
}

/** Reject impossible settings early, with the field named. */
export function checkPipeline(p: PipelineSpec): void {
  const bad = (what: string) => {
    throw new Error(`pipeline '${p.name}': ${what}`);
  };
  if (!(Number.isInteger(p.height) && p.height > 0 && Number.isInteger(p.width) && p.width > 0)) bad(`size ${p.height}x${p.width} must be positive integers`);
  if (p.channels !== 1 && p.channels !== 3) bad(`channels ${p.channels} must be 1 or 3`);
  if (p.mean.length !== p.channels || p.std.length !== p.channels) bad(`mean and std need ${p.channels} entries, got ${p.mean.length} and ${p.std.length}`);
  if (p.std.some((s) => !(s > 0))) bad(`std entries must be > 0, got [${p.std.join(', ')}]`);
  const prob = (v: number, what: string) => {
    if (!(v >= 0 && v <= 1)) bad(`${what} probability ${v} is not in [0, 1]`);
  };
  prob(p.flip, 'flip');
  prob(p.grayscale, 'grayscale');
  if (p.crop.type === 'random-resized') {
    const [s0, s1] = p.crop.scale;
    const [r0, r1] = p.crop.ratio;
    if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) bad(`crop scale [${s0}, ${s1}] must satisfy 0 < min <= max <= 1`);
    if (!(r0 > 0 && r0 <= r1)) bad(`crop ratio [${r0}, ${r1}] must satisfy 0 < min <= max`);
  } else if (p.crop.type === 'center') {
    if (!(p.crop.resize >= Math.max(p.height, p.width))) bad(`eval resize ${p.crop.resize} is smaller than the crop ${p.height}x${p.width}`);
  } else {
    bad(`unknown crop type '${(p.crop as { type: string }).type}'`);
  }
  if (p.jitter) {
    prob(p.jitter.p, 'jitter');
    const j = p.jitter;
    if (![j.brightness, j.contrast, j.saturation].every((v) => v >= 0)) bad('jitter strengths must be >= 0');
    if (!(j.hue >= 0 && j.hue <= 0.5)) bad(`jitter hue ${j.hue} must be in [0, 0.5]`);
  }
  if (p.blur) {
    prob(p.blur.p, 'blur');
    const [a, b] = p.blur.sigma;
    if (!(a > 0 && a <= b)) bad(`blur sigma range [${a}, ${b}] must satisfy 0 < min <= max`);
  }
}

/** The decode hint a pipeline gives a data set that decodes (evaluation resizes while decoding). */
export function pipelineHint(p: PipelineSpec): DecodeHint {
  return p.crop.type === 'center' ? { resizeShortSide: p.crop.resize } : {};
}

/** What one draw of the pipeline decided (also returned for tests and debugging). */
export interface AugmentDraw {
  /** Source rectangle in full-image pixels. */
  box: CropBox;
  flip: boolean;
  /** The colour-jitter draw, or null when jitter was not applied. */
  jitter: JitterDraw | null;
  grayscale: boolean;
  /** 0 when no blur. */
  blurSigma: number;
}

/** Where a decoded image lies in the full one: full x = x + decoded x * scaleX. */
export interface Origin {
  x: number;
  y: number;
  scaleX: number;
  scaleY: number;
}

const IDENTITY: Origin = { x: 0, y: 0, scaleX: 1, scaleY: 1 };

export interface AugmenterOptions {
  /**
   * 'simd' (default where WebAssembly has SIMD): the wasm kernels of
   * wasm/augment.ts; 'js': the TypeScript reference functions of augment.ts.
   * Both give the same images to float32 rounding.
   */
  kernels?: 'simd' | 'js';
}

/**
 * Runs one pipeline on one sample at a time into a slot of a batch,
 * reusing its scratch buffer. Not shared between threads.
 */
export class Augmenter {
  readonly spec: PipelineSpec;
  readonly hint: DecodeHint;
  /** Random crops are drawn from the full size, so decoders can decode just the crop. */
  readonly cropsRegions: boolean;
  /** Which kernels render: see AugmenterOptions. */
  readonly kernels: 'simd' | 'js';
  private readonly simd: SimdAugment | null;
  private work: Float32Array | null = null;

  constructor(spec: PipelineSpec, opts: AugmenterOptions = {}) {
    checkPipeline(spec);
    this.spec = spec;
    this.hint = pipelineHint(spec);
    this.cropsRegions = spec.crop.type === 'random-resized';
    if (opts.kernels === 'simd' && !simdAvailable()) throw new Error('Augmenter: SIMD kernels asked for, but this WebAssembly has no 128-bit SIMD');
    this.kernels = opts.kernels ?? (simdAvailable() ? 'simd' : 'js');
    this.simd = this.kernels === 'simd' ? new SimdAugment(spec.height, spec.width, spec.blur && spec.blur.p > 0 ? spec.blur.sigma[1] : 0) : null;
  }

  /** Floats per sample in the batch (C x H x W). */
  get sampleSize(): number {
    return this.spec.channels * this.spec.height * this.spec.width;
  }

  /**
   * Draw every random decision for an image of width x height. The draws
   * are always made in the same order (crop, flip, jitter, grayscale, blur),
   * so they depend only on the rng's seed and the image size.
   */
  draw(rng: Rng, width: number, height: number): AugmentDraw {
    const p = this.spec;
    const box =
      p.crop.type === 'random-resized'
        ? sampleResizedCrop(rng, width, height, p.crop.scale, p.crop.ratio)
        : centerCropBox(width, height, p.crop.resize, p.width, p.height);
    const flip = p.flip > 0 && rng.chance(p.flip);
    const jitterOn = p.jitter !== undefined && rng.chance(p.jitter.p);
    const jitter = jitterOn ? sampleJitter(rng, p.jitter!) : null;
    const grayscale = p.grayscale > 0 && rng.chance(p.grayscale);
    const blurOn = p.blur !== undefined && rng.chance(p.blur.p);
    const blurSigma = blurOn ? rng.range(p.blur!.sigma[0], p.blur!.sigma[1]) : 0;
    return { box, flip, jitter, grayscale, blurSigma };
  }

  /**
   * The part of a width x height image that the draws read: the union of
   * their boxes plus one pixel (the bilinear taps), and, when every box is
   * at least twice the output size, a filtered shrink of it (less to decode
   * and to resample, and no aliasing).
   */
  regionFor(draws: AugmentDraw[], width: number, height: number): RegionRequest {
    let x0 = width;
    let y0 = height;
    let x1 = 0;
    let y1 = 0;
    let shrink = Infinity;
    for (const d of draws) {
      const b = d.box;
      x0 = Math.min(x0, Math.floor(b.x) - 1);
      y0 = Math.min(y0, Math.floor(b.y) - 1);
      x1 = Math.max(x1, Math.ceil(b.x + b.w) + 1);
      y1 = Math.max(y1, Math.ceil(b.y + b.h) + 1);
      shrink = Math.min(shrink, b.w / this.spec.width, b.h / this.spec.height);
    }
    x0 = Math.max(0, x0);
    y0 = Math.max(0, y0);
    x1 = Math.min(width, x1);
    y1 = Math.min(height, y1);
    const box = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
    if (shrink < 2) return { box };
    const f = Math.floor(shrink);
    return { box, width: Math.max(1, Math.round(box.w / f)), height: Math.max(1, Math.round(box.h / f)) };
  }

  /**
   * Apply `draw` to `src` (which may be a decoded region of the full image,
   * placed by `origin`) and write the normalised CHW result to `out` at `offset`.
   */
  render(src: RawImage, draw: AugmentDraw, out: Float32Array, offset: number, origin: Origin = IDENTITY): void {
    const p = this.spec;
    const b = draw.box;
    const box = origin === IDENTITY ? b : { x: (b.x - origin.x) / origin.scaleX, y: (b.y - origin.y) / origin.scaleY, w: b.w / origin.scaleX, h: b.h / origin.scaleY };
    // A grey source stays one plane through every op (colour ops are
    // identities on grey) and is replicated only when written out.
    const workC = src.channels === 1 || p.channels === 1 ? 1 : 3;
    if (this.simd) {
      this.simd.render(src, { box, flip: draw.flip, jitter: draw.jitter, grayscale: draw.grayscale, blurSigma: draw.blurSigma }, workC, p.mean, p.std, out, offset, p.channels);
      return;
    }
    this.work ??= new Float32Array(3 * p.height * p.width);
    const img: FloatImage = resizedCrop(src, box, p.height, p.width, { flip: draw.flip, channels: workC, out: this.work });
    if (draw.jitter || draw.grayscale) colorJitterFused(img, draw.jitter, draw.grayscale);
    // After grayscale the three planes are equal: blur and normalise one, replicate it.
    const view = draw.grayscale && img.channels === 3 ? { ...img, channels: 1 } : img;
    // The blur's last pass writes the normalised result straight into the batch.
    if (draw.blurSigma > 0) gaussianBlurNormalizeInto(view, draw.blurSigma, p.mean, p.std, out, offset, p.channels);
    else normalizeInto(view, p.mean, p.std, out, offset, p.channels);
  }

  /** Draw and render in one go (the whole image in memory). */
  apply(src: RawImage, rng: Rng, out: Float32Array, offset: number): AugmentDraw {
    const d = this.draw(rng, src.width, src.height);
    this.render(src, d, out, offset);
    return d;
  }
}
