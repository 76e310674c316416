// Host-side augmentations: tight typed-array loops over one sample at a time.
//
// Images here are float32 planes (CHW) with values in [0, 1], except the
// 8-bit HWC source the crop reads from. The conventions follow torchvision
// (bilinear sampling with align_corners=false, RandomResizedCrop's sampling
// of scale and log-ratio, ColorJitter's random order and factor ranges,
// clamping after every colour op), so recipes carry over. Differences:
// resampling never anti-aliases (for crops at least twice the output size
// the folder decoder shrinks with a filter first, see Augmenter.regionFor),
// the grey weights are ITU-R 601 (0.299, 0.587,
// 0.114, which sum to one so grey images stay fixed under the colour ops),
// and the blur kernel has radius ceil(3 sigma).

import type { RawImage } from './dataset.js';
import type { Rng } from './rng.js';

/** A float image, planar (CHW), values in [0, 1] before normalisation. */
export interface FloatImage {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** A rectangle of the source image, in source pixels (may be fractional). */
export interface CropBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

export const GREY_R = 0.299;
export const GREY_G = 0.587;
export const GREY_B = 0.114;

// ---------------------------------------------------------------- geometry

/** Round half to even, as Python's round() (which torchvision's box arithmetic uses). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's RandomResizedCrop.get_params: area fraction uniform in
 * `scale`, aspect ratio log-uniform in `ratio`, 10 tries, then a centred
 * crop with the ratio clamped. Integer box, always inside the image.
 */
export function sampleResizedCrop(rng: Rng, width: number, height: number, scale: readonly [number, number], ratio: readonly [number, number]): CropBox {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.range(scale[0], scale[1]);
    const aspect = Math.exp(rng.range(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = rng.int(height - h + 1);
      const x = rng.int(width - w + 1);
      return { x, y, w, h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) {
    h = Math.max(1, Math.min(height, roundHalfEven(w / ratio[0])));
  } else if (inRatio > ratio[1]) {
    w = Math.max(1, Math.min(width, roundHalfEven(h * ratio[1])));
  }
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), w, h };
}

/**
 * The source rectangle that "resize the shorter side to `resize`, then take
 * the centred outW x outH" reads, so both happen in one resampling pass.
 * Offsets are rounded in resized pixels, as torchvision's CenterCrop does.
 */
export function centerCropBox(width: number, height: number, resize: number, outW: number, outH: number): CropBox {
  // torchvision: the longer side becomes int(resize * long / short).
  const rw = width <= height ? resize : Math.floor((resize * width) / height);
  const rh = height < width ? resize : Math.floor((resize * height) / width);
  if (outW > rw || outH > rh) {
    throw new Error(`centre crop ${outW}x${outH} is larger than the resized image ${rw}x${rh}; make resize >= crop size`);
  }
  const sx = rw / width;
  const sy = rh / height;
  const x = roundHalfEven((rw - outW) / 2);
  const y = roundHalfEven((rh - outH) / 2);
  return { x: x / sx, y: y / sy, w: outW / sx, h: outH / sy };
}

// Per output column: the two source offsets and the weight (one reused scratch).
interface ColTable {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}
const colScratch: ColTable = { i0: new Int32Array(0), i1: new Int32Array(0), f: new Float32Array(0) };

function columnTable(box: CropBox, outW: number, srcW: number, srcC: number, flip: boolean): ColTable {
  if (colScratch.i0.length < outW) {
    colScratch.i0 = new Int32Array(outW);
    colScratch.i1 = new Int32Array(outW);
    colScratch.f = new Float32Array(outW);
  }
  fillColumnTable(box, outW, srcW, srcC, flip, colScratch.i0, colScratch.i1, colScratch.f);
  return colScratch;
}

/**
 * The horizontal half of the bilinear resample: for each output column, the
 * offsets (in bytes of an srcC-channel row) of its two source pixels and the
 * weight of the second. A flip mirrors the output, so it is folded in here.
 */
export function fillColumnTable(box: CropBox, outW: number, srcW: number, srcC: number, flip: boolean, i0: Int32Array, i1: Int32Array, f: Float32Array): void {
  const step = box.w / outW;
  for (let ox = 0; ox < outW; ox++) {
    let sx = box.x + (ox + 0.5) * step - 0.5;
    if (sx < 0) sx = 0;
    if (sx > srcW - 1) sx = srcW - 1;
    const x0 = Math.floor(sx);
    const x1 = x0 + 1 < srcW ? x0 + 1 : x0;
    const o = flip ? outW - 1 - ox : ox;
    i0[o] = x0 * srcC;
    i1[o] = x1 * srcC;
    f[o] = sx - x0;
  }
}

/**
 * Bilinear resample of `box` of an 8-bit HWC source to outH x outW float CHW
 * in [0, 1], optionally mirrored. `channels` picks the output channels:
 * equal to the source's, or 1 from an RGB source (grey, ITU-R 601 weights),
 * or 3 from a grey source (replicated).
 */
export function resizedCrop(
  src: RawImage,
  box: CropBox,
  outH: number,
  outW: number,
  opts: { flip?: boolean; channels?: number; out?: Float32Array } = {},
): FloatImage {
  const srcC = src.channels;
  const outC = opts.channels ?? srcC;
  if (srcC !== 1 && srcC !== 3) throw new Error(`resizedCrop: source has ${srcC} channels, expected 1 or 3`);
  if (outC !== 1 && outC !== 3) throw new Error(`resizedCrop: cannot produce ${outC} channels, expected 1 or 3`);
  const plane = outH * outW;
  const out = opts.out ?? new Float32Array(outC * plane);
  if (out.length < outC * plane) throw new Error(`resizedCrop: output buffer holds ${out.length} floats, needs ${outC * plane}`);
  const s = src.data;
  const W = src.width;
  const H = src.height;
  const rowStride = W * srcC;
  const { i0, i1, f } = columnTable(box, outW, W, srcC, opts.flip ?? false);
  const stepY = box.h / outH;
  for (let oy = 0; oy < outH; oy++) {
    let sy = box.y + (oy + 0.5) * stepY - 0.5;
    if (sy < 0) sy = 0;
    if (sy > H - 1) sy = H - 1;
    const y0 = Math.floor(sy);
    const y1 = y0 + 1 < H ? y0 + 1 : y0;
    const fy = sy - y0;
    // The 1/255 scale is folded into the two row weights.
    const wTop = (1 - fy) / 255;
    const wBot = fy / 255;
    const r0 = y0 * rowStride;
    const dr = (y1 - y0) * rowStride;
    const o = oy * outW;
    // One loop per channel layout, so no branch is left inside the pixel loop.
    if (srcC === 3 && outC === 3) {
      for (let ox = 0; ox < outW; ox++) {
        const a = r0 + i0[ox]!;
        const b = r0 + i1[ox]!;
        const fx = f[ox]!;
        const gx = 1 - fx;
        out[o + ox] = (gx * s[a]! + fx * s[b]!) * wTop + (gx * s[a + dr]! + fx * s[b + dr]!) * wBot;
        out[plane + o + ox] = (gx * s[a + 1]! + fx * s[b + 1]!) * wTop + (gx * s[a + dr + 1]! + fx * s[b + dr + 1]!) * wBot;
        out[2 * plane + o + ox] = (gx * s[a + 2]! + fx * s[b + 2]!) * wTop + (gx * s[a + dr + 2]! + fx * s[b + dr + 2]!) * wBot;
      }
    } else if (srcC === 3) {
      for (let ox = 0; ox < outW; ox++) {
        const a = r0 + i0[ox]!;
        const b = r0 + i1[ox]!;
        const fx = f[ox]!;
        const gx = 1 - fx;
        const red = (gx * s[a]! + fx * s[b]!) * wTop + (gx * s[a + dr]! + fx * s[b + dr]!) * wBot;
        const green = (gx * s[a + 1]! + fx * s[b + 1]!) * wTop + (gx * s[a + dr + 1]! + fx * s[b + dr + 1]!) * wBot;
        const blue = (gx * s[a + 2]! + fx * s[b + 2]!) * wTop + (gx * s[a + dr + 2]! + fx * s[b + dr + 2]!) * wBot;
        out[o + ox] = GREY_R * red + GREY_G * green + GREY_B * blue;
      }
    } else {
      for (let ox = 0; ox < outW; ox++) {
        const a = r0 + i0[ox]!;
        const b = r0 + i1[ox]!;
        const fx = f[ox]!;
        const gx = 1 - fx;
        out[o + ox] = (gx * s[a]! + fx * s[b]!) * wTop + (gx * s[a + dr]! + fx * s[b + dr]!) * wBot;
      }
      if (outC === 3) {
        out.copyWithin(plane + o, o, o + outW);
        out.copyWithin(2 * plane + o, o, o + outW);
      }
    }
  }
  return { data: out, channels: outC, height: outH, width: outW };
}

/** A mirrored copy (left-right). */
export function hflip(img: FloatImage): FloatImage {
  const { channels, height, width } = img;
  const src = img.data;
  const out = new Float32Array(src.length);
  for (let r = 0; r < channels * height; r++) {
    const o = r * width;
    for (let x = 0; x < width; x++) out[o + x] = src[o + width - 1 - x]!;
  }
  return { data: out, channels, height, width };
}

/** The image converted to float CHW in [0, 1], no resampling. */
export function toFloatImage(src: RawImage): FloatImage {
  return resizedCrop(src, { x: 0, y: 0, w: src.width, h: src.height }, src.height, src.width);
}

// ------------------------------------------------------------------ colour

/** Colour-jitter operations, in the numbering torchvision's ColorJitter uses. */
export const JitterOp = { Brightness: 0, Contrast: 1, Saturation: 2, Hue: 3 } as const;
export type JitterOp = (typeof JitterOp)[keyof typeof JitterOp];

/** One colour-jitter draw: the operations in the order to apply them, with their factors. */
export interface JitterDraw {
  order: JitterOp[];
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

export interface JitterStrength {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/**
 * torchvision's ColorJitter.get_params: a random order of the four ops;
 * factors uniform in [max(0, 1 - s), 1 + s] (hue: [-h, h]). An op with
 * strength 0 is left out.
 */
export function sampleJitter(rng: Rng, s: JitterStrength): JitterDraw {
  const perm = [0, 1, 2, 3];
  for (let i = 3; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  const factor = (v: number) => rng.range(Math.max(0, 1 - v), 1 + v);
  const brightness = factor(s.brightness);
  const contrast = factor(s.contrast);
  const saturation = factor(s.saturation);
  const hue = rng.range(-s.hue, s.hue);
  const active = [s.brightness > 0, s.contrast > 0, s.saturation > 0, s.hue > 0];
  return { order: perm.filter((op) => active[op]) as JitterOp[], brightness, contrast, saturation, hue };
}

// Math.min/max compile to branch-free min/max instructions.
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** Mean of the grey image (torchvision's contrast reference). */
export function greyMean(img: FloatImage): number {
  const d = img.data;
  const n = img.height * img.width;
  let sum = 0;
  if (img.channels === 1) {
    for (let i = 0; i < n; i++) sum += d[i]!;
  } else {
    for (let i = 0; i < n; i++) sum += GREY_R * d[i]! + GREY_G * d[n + i]! + GREY_B * d[2 * n + i]!;
  }
  return sum / n;
}

/** Multiply by `f`, clamp to [0, 1]. In place. */
export function adjustBrightness(img: FloatImage, f: number): void {
  const d = img.data;
  const n = img.channels * img.height * img.width;
  for (let i = 0; i < n; i++) d[i] = Math.min(1, Math.max(0, d[i]! * f));
}

/** Blend with the grey mean: f x + (1 - f) mean, clamped. In place. */
export function adjustContrast(img: FloatImage, f: number): void {
  const m = (1 - f) * greyMean(img);
  const d = img.data;
  const n = img.channels * img.height * img.width;
  for (let i = 0; i < n; i++) d[i] = Math.min(1, Math.max(0, f * d[i]! + m));
}

/** Blend each pixel with its grey value, clamped. No-op on grey images. In place. */
export function adjustSaturation(img: FloatImage, f: number): void {
  if (img.channels === 1) return;
  const d = img.data;
  const n = img.height * img.width;
  const wr = (1 - f) * GREY_R;
  const wg = (1 - f) * GREY_G;
  const wb = (1 - f) * GREY_B;
  for (let i = 0; i < n; i++) {
    const r = d[i]!;
    const g = d[n + i]!;
    const b = d[2 * n + i]!;
    const y = wr * r + wg * g + wb * b;
    d[i] = Math.min(1, Math.max(0, f * r + y));
    d[n + i] = Math.min(1, Math.max(0, f * g + y));
    d[2 * n + i] = Math.min(1, Math.max(0, f * b + y));
  }
}

/**
 * Rotate the hue by `shift` turns (in [-0.5, 0.5]) in HSV space; value and
 * saturation stay. No-op on grey images. In place.
 *
 * Same map as torchvision's _rgb2hsv / _hsv2rgb, written without the
 * round trip: a pixel keeps its largest (M) and smallest (m) channel, and
 * only which channel holds them and the middle value change with the hue.
 */
export function adjustHue(img: FloatImage, shift: number): void {
  if (img.channels === 1) return;
  const d = img.data;
  const n = img.height * img.width;
  const n2 = 2 * n;
  const s6 = 6 * shift;
  for (let i = 0; i < n; i++) {
    const r = d[i]!;
    const g = d[n + i]!;
    const b = d[n2 + i]!;
    const hi = Math.max(r, g, b);
    const lo = Math.min(r, g, b);
    const c = hi - lo;
    if (c === 0) continue; // grey pixel: no hue, unchanged
    // Hue in sixths of a turn, [0, 6).
    let h = hi === r ? (g - b) / c : hi === g ? 2 + (b - r) / c : 4 + (r - g) / c;
    h += s6;
    h -= 6 * Math.floor(h / 6);
    if (h >= 6) h = 0; // rounding at the wrap
    const sector = h | 0;
    const x = c * (h - sector);
    switch (sector) {
      case 0: d[i] = hi; d[n + i] = lo + x; d[n2 + i] = lo; break;
      case 1: d[i] = hi - x; d[n + i] = hi; d[n2 + i] = lo; break;
      case 2: d[i] = lo; d[n + i] = hi; d[n2 + i] = lo + x; break;
      case 3: d[i] = lo; d[n + i] = hi - x; d[n2 + i] = hi; break;
      case 4: d[i] = lo + x; d[n + i] = lo; d[n2 + i] = hi; break;
      default: d[i] = hi; d[n + i] = lo; d[n2 + i] = hi - x; break;
    }
  }
}

/** Apply one colour-jitter draw: its ops in its order, each clamping to [0, 1]. In place. */
export function colorJitter(img: FloatImage, j: JitterDraw): void {
  for (const op of j.order) {
    if (op === JitterOp.Brightness) adjustBrightness(img, j.brightness);
    else if (op === JitterOp.Contrast) adjustContrast(img, j.contrast);
    else if (op === JitterOp.Saturation) adjustSaturation(img, j.saturation);
    else adjustHue(img, j.hue);
  }
}

/**
 * The same result as `colorJitter` followed (when `thenGrey`) by
 * `toGrayscale`, in one or two sweeps instead of up to six: the per-pixel
 * ops run back to back while a pixel sits in registers, and contrast only
 * splits the work where it needs the grey mean of the image as it is then.
 * The op order is fixed per image, so its branches are perfectly predicted.
 */
export function colorJitterFused(img: FloatImage, j: JitterDraw | null, thenGrey = false): void {
  const order = j ? j.order : [];
  const ci = order.indexOf(JitterOp.Contrast);
  if (img.channels === 1) {
    // Grey: saturation, hue and grayscale leave it alone; brightness and contrast in order.
    for (const op of order) {
      if (op === JitterOp.Brightness) adjustBrightness(img, j!.brightness);
      else if (op === JitterOp.Contrast) adjustContrast(img, j!.contrast);
    }
    return;
  }
  if (ci < 0) {
    jitterSweep(img, j, order, false, 0, thenGrey, false);
    return;
  }
  const mean = jitterSweep(img, j, order.slice(0, ci), false, 0, false, true);
  jitterSweep(img, j, order.slice(ci + 1), true, (1 - j!.contrast) * mean, thenGrey, false);
}

// One sweep over an RGB image: optional contrast (factor from j, offset given)
// first, then `ops` (brightness / saturation / hue, in order), then optional
// grey. Returns the grey mean of the result when asked.
function jitterSweep(img: FloatImage, j: JitterDraw | null, ops: JitterOp[], contrast: boolean, cOffset: number, grey: boolean, wantMean: boolean): number {
  const d = img.data;
  const n = img.height * img.width;
  const n2 = 2 * n;
  const hIdx = ops.indexOf(JitterOp.Hue);
  const before = hIdx < 0 ? ops : ops.slice(0, hIdx);
  const after = hIdx < 0 ? [] : ops.slice(hIdx + 1);
  // Up to two brightness/saturation ops on each side of the hue shift.
  const a0: number = before[0] ?? -1;
  const a1: number = before[1] ?? -1;
  const b0: number = after[0] ?? -1;
  const b1: number = after[1] ?? -1;
  const hue = hIdx >= 0;
  const writes = contrast || ops.length > 0 || grey;
  const B = JitterOp.Brightness;
  const S = JitterOp.Saturation;
  const bf = j ? j.brightness : 1;
  const cf = j ? j.contrast : 1;
  const sf = j ? j.saturation : 1;
  const s6 = j ? 6 * j.hue : 0;
  const wr = (1 - sf) * GREY_R;
  const wg = (1 - sf) * GREY_G;
  const wb = (1 - sf) * GREY_B;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let r = d[i]!;
    let g = d[n + i]!;
    let b = d[n2 + i]!;
    if (contrast) {
      r = Math.min(1, Math.max(0, cf * r + cOffset));
      g = Math.min(1, Math.max(0, cf * g + cOffset));
      b = Math.min(1, Math.max(0, cf * b + cOffset));
    }
    if (a0 === B) {
      r = Math.min(1, Math.max(0, r * bf));
      g = Math.min(1, Math.max(0, g * bf));
      b = Math.min(1, Math.max(0, b * bf));
    } else if (a0 === S) {
      const y = wr * r + wg * g + wb * b;
      r = Math.min(1, Math.max(0, sf * r + y));
      g = Math.min(1, Math.max(0, sf * g + y));
      b = Math.min(1, Math.max(0, sf * b + y));
    }
    if (a1 === B) {
      r = Math.min(1, Math.max(0, r * bf));
      g = Math.min(1, Math.max(0, g * bf));
      b = Math.min(1, Math.max(0, b * bf));
    } else if (a1 === S) {
      const y = wr * r + wg * g + wb * b;
      r = Math.min(1, Math.max(0, sf * r + y));
      g = Math.min(1, Math.max(0, sf * g + y));
      b = Math.min(1, Math.max(0, sf * b + y));
    }
    if (hue) {
      // As adjustHue.
      const hi = Math.max(r, g, b);
      const lo = Math.min(r, g, b);
      const c = hi - lo;
      if (c !== 0) {
        let h = hi === r ? (g - b) / c : hi === g ? 2 + (b - r) / c : 4 + (r - g) / c;
        h += s6;
        h -= 6 * Math.floor(h / 6);
        if (h >= 6) h = 0;
        const sector = h | 0;
        const x = c * (h - sector);
        if (sector === 0) { r = hi; g = lo + x; b = lo; }
        else if (sector === 1) { r = hi - x; g = hi; b = lo; }
        else if (sector === 2) { r = lo; g = hi; b = lo + x; }
        else if (sector === 3) { r = lo; g = hi - x; b = hi; }
        else if (sector === 4) { r = lo + x; g = lo; b = hi; }
        else { r = hi; g = lo; b = hi - x; }
      }
    }
    if (b0 === B) {
      r = Math.min(1, Math.max(0, r * bf));
      g = Math.min(1, Math.max(0, g * bf));
      b = Math.min(1, Math.max(0, b * bf));
    } else if (b0 === S) {
      const y = wr * r + wg * g + wb * b;
      r = Math.min(1, Math.max(0, sf * r + y));
      g = Math.min(1, Math.max(0, sf * g + y));
      b = Math.min(1, Math.max(0, sf * b + y));
    }
    if (b1 === B) {
      r = Math.min(1, Math.max(0, r * bf));
      g = Math.min(1, Math.max(0, g * bf));
      b = Math.min(1, Math.max(0, b * bf));
    } else if (b1 === S) {
      const y = wr * r + wg * g + wb * b;
      r = Math.min(1, Math.max(0, sf * r + y));
      g = Math.min(1, Math.max(0, sf * g + y));
      b = Math.min(1, Math.max(0, sf * b + y));
    }
    if (grey) {
      const y = GREY_R * r + GREY_G * g + GREY_B * b;
      r = y;
      g = y;
      b = y;
    }
    if (writes) {
      d[i] = r;
      d[n + i] = g;
      d[n2 + i] = b;
    }
    if (wantMean) sum += GREY_R * r + GREY_G * g + GREY_B * b;
  }
  return sum / n;
}

/** Replace every channel by the grey value (channel count kept, as RandomGrayscale does). In place. */
export function toGrayscale(img: FloatImage): void {
  if (img.channels === 1) return;
  const d = img.data;
  const n = img.height * img.width;
  for (let i = 0; i < n; i++) {
    const y = GREY_R * d[i]! + GREY_G * d[n + i]! + GREY_B * d[2 * n + i]!;
    d[i] = y;
    d[n + i] = y;
    d[2 * n + i] = y;
  }
}

// -------------------------------------------------------------------- blur

/**
 * Normalised 1-D Gaussian weights w[0..r] (w[k] for offsets +-k),
 * r = ceil(3 sigma) less trailing taps too small to change a float32 result.
 */
export function gaussianWeights(sigma: number): Float32Array {
  let r = Math.max(1, Math.ceil(3 * sigma));
  const e = new Float64Array(r + 1);
  for (let k = 0; k <= r; k++) e[k] = Math.exp(-(k * k) / (2 * sigma * sigma));
  while (r > 0 && e[r]! < 1e-8) r--;
  let sum = e[0]!;
  for (let k = 1; k <= r; k++) sum += 2 * e[k]!;
  const w = new Float32Array(r + 1);
  for (let k = 0; k <= r; k++) w[k] = e[k]! / sum;
  return w;
}

let blurTmp = new Float32Array(0);

/** Reflect an index into [0, n) without repeating the edge (torchvision's 'reflect'). */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

/** Separable Gaussian blur with reflected borders. In place. */
export function gaussianBlur(img: FloatImage, sigma: number): void {
  const n = img.height * img.width;
  for (let c = 0; c < img.channels; c++) blurPlane(img, c, gaussianWeights(sigma), img.data, c * n, 1, 0);
}

/**
 * Blur, then normalise into `out` at `offset` in the same sweep (the last
 * pass writes (v - mean) / std straight into the batch). One-channel images
 * are replicated to `outChannels`.
 */
export function gaussianBlurNormalizeInto(img: FloatImage, sigma: number, mean: readonly number[], std: readonly number[], out: Float32Array, offset: number, outChannels = img.channels): void {
  checkNormalize(img, mean, std, outChannels);
  if (img.channels !== outChannels) {
    // One plane to several: blur it once in place, then replicate while normalising.
    gaussianBlur(img, sigma);
    normalizeInto(img, mean, std, out, offset, outChannels);
    return;
  }
  const w = gaussianWeights(sigma);
  const n = img.height * img.width;
  for (let c = 0; c < outChannels; c++) {
    const inv = 1 / std[c]!;
    blurPlane(img, c, w, out, offset + c * n, inv, -mean[c]! * inv);
  }
}

/**
 * Blur plane `c` of `img` and write scale * blurred + shift to dst[at..].
 * Rows first into a scratch plane, then columns; borders reflected. dst may
 * be the source plane itself (the row pass reads it all first).
 */
function blurPlane(img: FloatImage, c: number, w: Float32Array, dst: Float32Array, at: number, scale: number, shift: number): void {
  const r = w.length - 1;
  const { height: H, width: W } = img;
  const plane = H * W;
  const src = img.data;
  const base = c * plane;
  if (r === 0 || W < 2 || H < 2) {
    // Kernel of one tap (tiny sigma) or a degenerate image: only the affine map remains.
    const w0 = w[0]! * scale;
    for (let i = 0; i < plane; i++) dst[at + i] = w0 * src[base + i]! + shift;
    return;
  }
  if (blurTmp.length < plane) blurTmp = new Float32Array(plane);
  const tmp = blurTmp;
  const up = blurUp.length > r ? blurUp : (blurUp = new Int32Array(r + 1));
  const dn = blurDn.length > r ? blurDn : (blurDn = new Int32Array(r + 1));
  const unit = blurUnit.length > r ? blurUnit : (blurUnit = new Float64Array(r + 1));
  const scaled = blurScaled.length > r ? blurScaled : (blurScaled = new Float64Array(r + 1));
  for (let k = 0; k <= r; k++) {
    unit[k] = w[k]!;
    scaled[k] = w[k]! * scale;
  }
  const lo = Math.min(r, W);
  const hi = Math.max(lo, W - r);
  // Reflected column of every x in [-r, W + r), for the border pixels.
  const rx = blurReflect.length >= W + 2 * r ? blurReflect : (blurReflect = new Int32Array(W + 2 * r));
  for (let i = 0; i < W + 2 * r; i++) rx[i] = reflect(i - r, W);
  for (let y = 0; y < H; y++) {
    const row = base + y * W;
    const o = y * W;
    // Interior: every tap lands inside the row.
    if (hi > lo) {
      for (let k = 1; k <= r; k++) {
        up[k] = row + lo - k;
        dn[k] = row + lo + k;
      }
      symmetricTaps(src, row + lo, up, dn, r, unit, 0, tmp, o + lo, hi - lo);
    }
    // Borders (the first and last r pixels): reflect.
    for (let x = 0; x < W; x++) {
      if (x === lo) x = hi;
      if (x >= W) break;
      let acc = unit[0]! * src[row + x]!;
      for (let k = 1; k <= r; k++) acc += unit[k]! * (src[row + rx[x - k + r]!]! + src[row + rx[x + k + r]!]!);
      tmp[o + x] = acc;
    }
  }
  // Columns: whole rows of the row-blurred plane as taps, the affine map folded into the weights.
  for (let y = 0; y < H; y++) {
    for (let k = 1; k <= r; k++) {
      up[k] = reflect(y - k, H) * W;
      dn[k] = reflect(y + k, H) * W;
    }
    symmetricTaps(tmp, y * W, up, dn, r, scaled, shift, dst, at + y * W, W);
  }
}

let blurReflect = new Int32Array(0);
let blurUp = new Int32Array(8);
let blurDn = new Int32Array(8);
let blurUnit = new Float64Array(8);
let blurScaled = new Float64Array(8);

/**
 * out[o + x] = w0 s[c + x] + sum_k wk (s[up_k + x] + s[dn_k + x]) + shift for x < n:
 * one symmetric filter tap set applied along a run, the row and column passes
 * alike. Unrolled for radii up to 6 (sigma <= 2), so each output costs one
 * store and the sum stays in registers; a generic loop beyond.
 */
function symmetricTaps(s: Float32Array, c: number, up: Int32Array, dn: Int32Array, r: number, w: Float64Array, shift: number, out: Float32Array, o: number, n: number): void {
  const w0 = w[0]!;
  const w1 = w[1] ?? 0;
  const u1 = up[1]!;
  const d1 = dn[1]!;
  if (r === 1) {
    for (let x = 0; x < n; x++) out[o + x] = w0 * s[c + x]! + w1 * (s[u1 + x]! + s[d1 + x]!) + shift;
    return;
  }
  const w2 = w[2]!;
  const u2 = up[2]!;
  const d2 = dn[2]!;
  if (r === 2) {
    for (let x = 0; x < n; x++) out[o + x] = w0 * s[c + x]! + w1 * (s[u1 + x]! + s[d1 + x]!) + w2 * (s[u2 + x]! + s[d2 + x]!) + shift;
    return;
  }
  const w3 = w[3]!;
  const u3 = up[3]!;
  const d3 = dn[3]!;
  if (r === 3) {
    for (let x = 0; x < n; x++) {
      out[o + x] = w0 * s[c + x]! + w1 * (s[u1 + x]! + s[d1 + x]!) + w2 * (s[u2 + x]! + s[d2 + x]!) + w3 * (s[u3 + x]! + s[d3 + x]!) + shift;
    }
    return;
  }
  const w4 = w[4]!;
  const u4 = up[4]!;
  const d4 = dn[4]!;
  if (r === 4) {
    for (let x = 0; x < n; x++) {
      out[o + x] =
        w0 * s[c + x]! + w1 * (s[u1 + x]! + s[d1 + x]!) + w2 * (s[u2 + x]! + s[d2 + x]!) + w3 * (s[u3 + x]! + s[d3 + x]!) + w4 * (s[u4 + x]! + s[d4 + x]!) + shift;
    }
    return;
  }
  const w5 = w[5]!;
  const u5 = up[5]!;
  const d5 = dn[5]!;
  if (r === 5) {
    for (let x = 0; x < n; x++) {
      out[o + x] =
        w0 * s[c + x]! +
        w1 * (s[u1 + x]! + s[d1 + x]!) +
        w2 * (s[u2 + x]! + s[d2 + x]!) +
        w3 * (s[u3 + x]! + s[d3 + x]!) +
        w4 * (s[u4 + x]! + s[d4 + x]!) +
        w5 * (s[u5 + x]! + s[d5 + x]!) +
        shift;
    }
    return;
  }
  const w6 = w[6]!;
  const u6 = up[6]!;
  const d6 = dn[6]!;
  if (r === 6) {
    for (let x = 0; x < n; x++) {
      out[o + x] =
        w0 * s[c + x]! +
        w1 * (s[u1 + x]! + s[d1 + x]!) +
        w2 * (s[u2 + x]! + s[d2 + x]!) +
        w3 * (s[u3 + x]! + s[d3 + x]!) +
        w4 * (s[u4 + x]! + s[d4 + x]!) +
        w5 * (s[u5 + x]! + s[d5 + x]!) +
        w6 * (s[u6 + x]! + s[d6 + x]!) +
        shift;
    }
    return;
  }
  // Wider kernels (sigma > 2): centre tap, then tap by tap over the run.
  for (let x = 0; x < n; x++) out[o + x] = w0 * s[c + x]! + shift;
  for (let k = 1; k <= r; k++) {
    const wk = w[k]!;
    const uk = up[k]!;
    const dk = dn[k]!;
    for (let x = 0; x < n; x++) out[o + x] = out[o + x]! + wk * (s[uk + x]! + s[dk + x]!);
  }
}

// ----------------------------------------------------------- normalisation

/**
 * Write (x - mean[c]) / std[c] into `out` starting at `offset`, as `outChannels`
 * planes; a one-channel image is replicated when outChannels is 3.
 */
export function normalizeInto(img: FloatImage, mean: readonly number[], std: readonly number[], out: Float32Array, offset: number, outChannels = img.channels): void {
  checkNormalize(img, mean, std, outChannels);
  const n = img.height * img.width;
  const d = img.data;
  for (let c = 0; c < outChannels; c++) {
    const m = mean[c]!;
    const inv = 1 / std[c]!;
    const src = img.channels === 1 ? 0 : c * n;
    const dst = offset + c * n;
    for (let i = 0; i < n; i++) out[dst + i] = (d[src + i]! - m) * inv;
  }
}

function checkNormalize(img: FloatImage, mean: readonly number[], std: readonly number[], outChannels: number): void {
  if (img.channels !== outChannels && img.channels !== 1) {
    throw new Error(`normalizeInto: cannot turn ${img.channels} channels into ${outChannels}`);
  }
  if (mean.length !== outChannels || std.length !== outChannels) {
    throw new Error(`normalizeInto: mean/std have ${mean.length}/${std.length} entries, expected ${outChannels} (one per channel)`);
  }
}

/** Mean and standard deviation per channel of images in [0, 1] (for normalisation constants). */
export function channelStats(images: Iterable<RawImage>): { mean: number[]; std: number[]; count: number } {
  let sums: Float64Array | null = null;
  let sq: Float64Array | null = null;
  let count = 0;
  let channels = 0;
  for (const im of images) {
    if (!sums) {
      channels = im.channels;
      sums = new Float64Array(channels);
      sq = new Float64Array(channels);
    } else if (im.channels !== channels) {
      throw new Error(`channelStats: images differ in channels (${channels} and ${im.channels})`);
    }
    const d = im.data;
    const n = im.width * im.height;
    for (let c = 0; c < channels; c++) {
      let s = 0;
      let s2 = 0;
      for (let i = c; i < n * channels; i += channels) {
        const v = d[i]!;
        s += v;
        s2 += v * v;
      }
      sums[c] = sums[c]! + s / 255;
      sq![c] = sq![c]! + s2 / (255 * 255);
    }
    count += n;
  }
  if (!sums || count === 0) throw new Error('channelStats: no images');
  const mean = Array.from(sums, (s) => s / count);
  const std = Array.from(sq!, (s, c) => Math.sqrt(Math.max(0, s / count - mean[c]! * mean[c]!)));
  return { mean, std, count: count };
}
