// Float64 twins of 2-D convolution (NCHW, weight [K, C/groups, kh, kw] as PyTorch; no dilation).
import { checkDims, checkLen, fmtDims } from './check.js';

export interface ConvShape {
  n: number; c: number; h: number; w: number;
  k: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number;
  groups: number;
}

/** Output spatial size: floor((h + 2ph - kh) / sh) + 1 (and likewise for w). */
export function convOut(s: ConvShape): { ho: number; wo: number } {
  return {
    ho: Math.floor((s.h + 2 * s.ph - s.kh) / s.sh) + 1,
    wo: Math.floor((s.w + 2 * s.pw - s.kw) / s.sw) + 1,
  };
}

function shapeStr(s: ConvShape): string {
  return `{${fmtDims({ ...s })}}`;
}

/** Validates the shape itself; returns the output size and the per-group channel counts. */
function checkShape(fn: string, s: ConvShape): { ho: number; wo: number; cg: number; kg: number } {
  checkDims(fn, { n: s.n, c: s.c, h: s.h, w: s.w, k: s.k, ph: s.ph, pw: s.pw });
  checkDims(fn, { kh: s.kh, kw: s.kw, sh: s.sh, sw: s.sw, groups: s.groups }, true);
  if (s.c % s.groups !== 0 || s.k % s.groups !== 0) {
    throw new Error(`${fn}: c=${s.c} and k=${s.k} must both be divisible by groups=${s.groups} (shape ${shapeStr(s)})`);
  }
  const { ho, wo } = convOut(s);
  if (ho < 1 || wo < 1) throw new Error(`${fn}: kernel larger than padded input, output ${ho}x${wo} (shape ${shapeStr(s)})`);
  return { ho, wo, cg: s.c / s.groups, kg: s.k / s.groups };
}

/**
 * Visits every (weight tap, output row) pair as a run of `len` output positions starting at y
 * index `yi`, whose inputs start at x index `xi` and step by sw. Runs are clipped to the input,
 * so padding is skipped without per-element checks. The three passes (forward, data grad,
 * weight grad) are the same sum read three ways.
 */
function forEachRun(
  s: ConvShape, ho: number, wo: number, cg: number, kg: number,
  visit: (xi: number, wi: number, yi: number, len: number) => void,
): void {
  const { n, c, h, w, k, kh, kw, sh, sw, ph, pw } = s;
  for (let q = 0; q < kw; q++) {
    // Output columns whose input column ow*sw - pw + q lies in [0, w).
    const owLo = Math.max(0, Math.ceil((pw - q) / sw));
    const owHi = Math.min(wo - 1, Math.floor((w - 1 + pw - q) / sw));
    const len = owHi - owLo + 1;
    if (len <= 0) continue;
    const iw0 = owLo * sw - pw + q;
    for (let b = 0; b < n; b++) {
      for (let ko = 0; ko < k; ko++) {
        const g = Math.floor(ko / kg);
        const yBase = (b * k + ko) * ho * wo + owLo;
        for (let ci = 0; ci < cg; ci++) {
          const xBase = (b * c + g * cg + ci) * h * w + iw0;
          const wBase = (ko * cg + ci) * kh * kw + q;
          for (let r = 0; r < kh; r++) {
            for (let oh = 0; oh < ho; oh++) {
              const ih = oh * sh - ph + r;
              if (ih < 0 || ih >= h) continue;
              visit(xBase + ih * w, wBase + r * kw, yBase + oh * wo, len);
            }
          }
        }
      }
    }
  }
}

/** y[n,k,ho,wo] = sum_{ci,r,q} x[n, g*cg+ci, oh*sh-ph+r, ow*sw-pw+q] * w[k,ci,r,q] + b[k]. */
export function conv2dFwd(x: Float64Array, w: Float64Array, b: Float64Array | null, s: ConvShape): Float64Array {
  const fn = 'conv2dFwd';
  const { ho, wo, cg, kg } = checkShape(fn, s);
  checkLen(fn, 'x', x, s.n * s.c * s.h * s.w, `[${s.n}, ${s.c}, ${s.h}, ${s.w}]`);
  checkLen(fn, 'w', w, s.k * cg * s.kh * s.kw, `[${s.k}, ${cg}, ${s.kh}, ${s.kw}]`);
  if (b) checkLen(fn, 'b', b, s.k, `[${s.k}]`);
  const y = new Float64Array(s.n * s.k * ho * wo);
  const sw = s.sw;
  forEachRun(s, ho, wo, cg, kg, (xi, wi, yi, len) => {
    const wv = w[wi]!;
    for (let j = 0; j < len; j++) y[yi + j]! += x[xi + j * sw]! * wv;
  });
  if (b) {
    const hw = ho * wo;
    for (let i = 0; i < s.n * s.k; i++) {
      const bv = b[i % s.k]!;
      for (let j = 0; j < hw; j++) y[i * hw + j]! += bv;
    }
  }
  return y;
}

/** dx[n,c,h,w]: each output gradient scattered back through the taps that produced it. */
export function conv2dBwdData(dy: Float64Array, w: Float64Array, s: ConvShape): Float64Array {
  const fn = 'conv2dBwdData';
  const { ho, wo, cg, kg } = checkShape(fn, s);
  checkLen(fn, 'dy', dy, s.n * s.k * ho * wo, `[${s.n}, ${s.k}, ${ho}, ${wo}]`);
  checkLen(fn, 'w', w, s.k * cg * s.kh * s.kw, `[${s.k}, ${cg}, ${s.kh}, ${s.kw}]`);
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  const sw = s.sw;
  forEachRun(s, ho, wo, cg, kg, (xi, wi, yi, len) => {
    const wv = w[wi]!;
    for (let j = 0; j < len; j++) dx[xi + j * sw]! += dy[yi + j]! * wv;
  });
  return dx;
}

/** dw[k,c/groups,kh,kw] = sum over batch and output positions of x * dy. */
export function conv2dBwdWeight(x: Float64Array, dy: Float64Array, s: ConvShape): Float64Array {
  const fn = 'conv2dBwdWeight';
  const { ho, wo, cg, kg } = checkShape(fn, s);
  checkLen(fn, 'x', x, s.n * s.c * s.h * s.w, `[${s.n}, ${s.c}, ${s.h}, ${s.w}]`);
  checkLen(fn, 'dy', dy, s.n * s.k * ho * wo, `[${s.n}, ${s.k}, ${ho}, ${wo}]`);
  const dw = new Float64Array(s.k * cg * s.kh * s.kw);
  const sw = s.sw;
  forEachRun(s, ho, wo, cg, kg, (xi, wi, yi, len) => {
    let acc = 0;
    for (let j = 0; j < len; j++) acc += x[xi + j * sw]! * dy[yi + j]!;
    dw[wi]! += acc;
  });
  return dw;
}

/** db[k] = sum of dy over batch and output positions. */
export function conv2dBwdBias(dy: Float64Array, s: ConvShape): Float64Array {
  const fn = 'conv2dBwdBias';
  const { ho, wo } = checkShape(fn, s);
  checkLen(fn, 'dy', dy, s.n * s.k * ho * wo, `[${s.n}, ${s.k}, ${ho}, ${wo}]`);
  const db = new Float64Array(s.k);
  const hw = ho * wo;
  for (let i = 0; i < s.n * s.k; i++) {
    let acc = 0;
    for (let j = 0; j < hw; j++) acc += dy[i * hw + j]!;
    db[i % s.k]! += acc;
  }
  return db;
}
