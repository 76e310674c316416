// Host side of the SIMD augmentation kernels (wasm/augment.ts, compiled into
// src/gen/augment_wasm.gen.ts): lays out one instance's memory for one output
// size and runs a whole render (resample, colour jitter, grey, blur,
// normalisation) in it, copying only the source bytes in and the finished
// planes out. The results match the TypeScript reference functions of
// augment.ts to float32 rounding (test/data/simd.test.ts).

import { AUGMENT_WASM_BASE64 } from '../gen/augment_wasm.gen.js';
import { colorJitterFused, fillColumnTable, gaussianWeights, JitterOp, reflect, type CropBox, type JitterDraw } from './augment.js';
import type { RawImage } from './dataset.js';

// The slice of the WebAssembly API used here (the project's lib settings carry no DOM types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Exports {
  memory: WasmMemory;
  heapBase(): number;
  resample(src: number, W: number, H: number, srcC: number, outC: number, i0: number, i1: number, f: number, outW: number, outH: number, boxY: number, stepY: number, out: number, np: number): void;
  jitter(p: number, n: number, np: number, contrast: number, cf: number, coff: number, ops: number, count: number, bf: number, sf: number, hue6: number, grey: number, wantSum: number): number;
  blur(src: number, dst: number, tmp: number, W: number, H: number, w: number, r: number, rx: number, ry: number, taps: number, scale: number, shift: number): void;
  normalize(src: number, dst: number, n: number, mean: number, inv: number): void;
}

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where this WebAssembly has no SIMD (then the TypeScript path runs). */
function wasmModule(): WasmModule | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(AUGMENT_WASM_BASE64, 'base64');
    compiled = wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  }
  return compiled;
}

/** Whether the SIMD kernels can run here (WebAssembly with 128-bit SIMD: Node >= 16.4). */
export function simdAvailable(): boolean {
  return wasmModule() !== null;
}

const align16 = (n: number) => (n + 15) & ~15;

/** What one render does, after the random draws. */
export interface SimdRender {
  /** Crop box in the coordinates of `src`. */
  box: CropBox;
  flip: boolean;
  jitter: JitterDraw | null;
  grayscale: boolean;
  /** 0: no blur. */
  blurSigma: number;
}

/**
 * One instance of the kernels with buffers for outH x outW renders. Not
 * shared between threads; one per Augmenter.
 */
export class SimdAugment {
  private readonly x: Exports;
  private readonly n: number;
  /** Plane stride in floats: n rounded up to 4. */
  private readonly np: number;
  private readonly work: number;
  private readonly tmp: number;
  private readonly i0: number;
  private readonly i1: number;
  private readonly f: number;
  private readonly w: number;
  private readonly rx: number;
  private readonly ry: number;
  private readonly taps: number;
  private readonly src: number;
  private readonly maxRadius: number;
  private buf: ArrayBuffer;
  private u8: Uint8Array;
  private f32: Float32Array;
  private i32: Int32Array;

  /** `maxSigma` bounds the blur sigma renders may ask for (0: no blur). */
  constructor(
    readonly outH: number,
    readonly outW: number,
    maxSigma: number,
  ) {
    const mod = wasmModule();
    if (!mod) throw new Error('SimdAugment: this WebAssembly has no 128-bit SIMD');
    this.x = new wasm.Instance(mod, {}).exports as unknown as Exports;
    this.n = outH * outW;
    this.np = (this.n + 3) & ~3;
    this.maxRadius = maxSigma > 0 ? Math.max(1, Math.ceil(3 * maxSigma)) : 0;
    const r = this.maxRadius;
    let at = align16(this.x.heapBase());
    const take = (bytes: number) => {
      const p = at;
      at = align16(at + bytes);
      return p;
    };
    this.work = take(4 * 3 * this.np);
    this.tmp = take(4 * this.np);
    this.i0 = take(4 * outW);
    this.i1 = take(4 * outW);
    this.f = take(4 * outW);
    this.w = take(4 * (r + 1));
    this.rx = take(4 * (outW + 2 * r));
    this.ry = take(4 * (outH + 2 * r));
    this.taps = take(4 * (2 * r + 2));
    this.src = at;
    this.buf = this.x.memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.f32 = new Float32Array(this.buf);
    this.i32 = new Int32Array(this.buf);
    this.reserve(0);
  }

  /** Room for a source of `bytes` bytes (plus the 3 a 4-byte pixel load reads past its end). */
  private reserve(bytes: number): void {
    const need = this.src + bytes + 16;
    const have = this.x.memory.buffer.byteLength;
    if (need > have) this.x.memory.grow(Math.ceil((need - have) / 65536));
    if (this.x.memory.buffer !== this.buf) {
      this.buf = this.x.memory.buffer;
      this.u8 = new Uint8Array(this.buf);
      this.f32 = new Float32Array(this.buf);
      this.i32 = new Int32Array(this.buf);
    }
  }

  /**
   * Render `src` per `r` and write the normalised CHW result (outChannels
   * planes) into `out` at `offset`. `workC` is the channel count worked in:
   * 3, or 1 for a grey source or a grey model (a grey source is replicated
   * to outChannels only when written out).
   */
  render(src: RawImage, r: SimdRender, workC: 1 | 3, mean: readonly number[], std: readonly number[], out: Float32Array, offset: number, outChannels: number): void {
    const { x, n, np, outH, outW } = this;
    const srcC = src.channels;
    if (!((srcC === 3 && (workC === 3 || workC === 1)) || (srcC === 1 && workC === 1))) {
      throw new Error(`SimdAugment: cannot work in ${workC} channel(s) from a ${srcC}-channel source`);
    }
    if (src.data.length !== src.width * src.height * srcC) throw new Error(`SimdAugment: source holds ${src.data.length} bytes, expected ${src.width}x${src.height}x${srcC}`);
    this.reserve(src.data.length);
    this.u8.set(src.data, this.src);

    // Resample (and flip) into the work planes.
    const q0 = this.i0 >> 2;
    fillColumnTable(r.box, outW, src.width, srcC, r.flip, this.i32.subarray(q0, q0 + outW), this.i32.subarray(this.i1 >> 2, (this.i1 >> 2) + outW), this.f32.subarray(this.f >> 2, (this.f >> 2) + outW));
    x.resample(this.src, src.width, src.height, srcC, workC, this.i0, this.i1, this.f, outW, outH, r.box.y, r.box.h / outH, this.work, np);

    // Colour: jitter ops in their drawn order, then grey, in one or two sweeps.
    if (r.jitter || r.grayscale) {
      if (workC === 3) this.jitter(r.jitter, r.grayscale);
      else if (r.jitter) colorJitterFused({ data: this.f32.subarray(this.work >> 2, (this.work >> 2) + n), channels: 1, height: outH, width: outW }, r.jitter);
    }
    // After grey the three planes are equal: blur and normalise one.
    const viewC = r.grayscale && workC === 3 ? 1 : workC;
    if (viewC !== outChannels && viewC !== 1) throw new Error(`SimdAugment: cannot turn ${viewC} channels into ${outChannels}`);
    if (mean.length !== outChannels || std.length !== outChannels) throw new Error(`SimdAugment: mean/std have ${mean.length}/${std.length} entries, expected ${outChannels}`);
    const plane = (c: number) => this.work + 4 * c * np;
    const radius = r.blurSigma > 0 ? this.prepareBlur(r.blurSigma) : -1;
    if (viewC === outChannels) {
      for (let c = 0; c < outChannels; c++) {
        const inv = 1 / std[c]!;
        if (radius >= 0) this.blur(plane(c), radius, inv, -mean[c]! * inv);
        else x.normalize(plane(c), plane(c), n, mean[c]!, inv);
      }
    } else {
      // One plane to several: blur it once, then normalise per output channel (plane 0 last).
      if (radius >= 0) this.blur(plane(0), radius, 1, 0);
      for (let c = outChannels - 1; c >= 0; c--) x.normalize(plane(0), plane(c), n, mean[c]!, 1 / std[c]!);
    }
    const w0 = this.work >> 2;
    for (let c = 0; c < outChannels; c++) out.set(this.f32.subarray(w0 + c * np, w0 + c * np + n), offset + c * n);
  }

  private jitter(j: JitterDraw | null, grey: boolean): void {
    const { x, n, np } = this;
    const order = j ? j.order : [];
    const pack = (ops: readonly JitterOp[]) => ops.reduce<number>((acc, op, i) => acc | (op << (8 * i)), 0);
    const bf = j ? j.brightness : 1;
    const cf = j ? j.contrast : 1;
    const sf = j ? j.saturation : 1;
    const h6 = j ? 6 * j.hue : 0;
    const ci = order.indexOf(JitterOp.Contrast);
    if (ci < 0) {
      x.jitter(this.work, n, np, 0, 1, 0, pack(order), order.length, bf, sf, h6, grey ? 1 : 0, 0);
      return;
    }
    // Contrast blends with the grey mean of the image as it is when contrast comes.
    const before = order.slice(0, ci);
    const after = order.slice(ci + 1);
    const sum = x.jitter(this.work, n, np, 0, 1, 0, pack(before), before.length, bf, sf, h6, 0, 1);
    x.jitter(this.work, n, np, 1, cf, (1 - cf) * (sum / n), pack(after), after.length, bf, sf, h6, grey ? 1 : 0, 0);
  }

  /** Load the taps and reflection tables of a blur with `sigma`; returns its radius. Once per render. */
  private prepareBlur(sigma: number): number {
    const { outH: H, outW: W } = this;
    const w = gaussianWeights(sigma);
    const r = w.length - 1;
    if (r > this.maxRadius) throw new Error(`SimdAugment: blur sigma ${sigma} is beyond the ${this.maxRadius}-pixel radius this instance was made for`);
    this.f32.set(w, this.w >> 2);
    const rx = this.rx >> 2;
    for (let i = 0; i < W + 2 * r; i++) this.i32[rx + i] = reflect(i - r, W);
    const ry = this.ry >> 2;
    for (let i = 0; i < H + 2 * r; i++) this.i32[ry + i] = reflect(i - r, H);
    return r;
  }

  /** Blur the plane at byte address p in place with the prepared taps of radius r, then scale * v + shift. */
  private blur(p: number, r: number, scale: number, shift: number): void {
    this.x.blur(p, p, this.tmp, this.outW, this.outH, this.w, r, this.rx, this.ry, this.taps, scale, shift);
  }
}
