// Float64 twins of pooling: global average pooling and 2-D max pooling (NCHW).
import { checkDims, checkLen, fmtDims } from './check.js';

/** y[n,c] = mean of x[n,c,:] over hw positions. */
export function globalAvgPoolFwd(x: Float64Array, n: number, c: number, hw: number): Float64Array {
  const fn = 'globalAvgPoolFwd';
  checkDims(fn, { n, c, hw });
  checkLen(fn, 'x', x, n * c * hw, `[n=${n}, c=${c}, hw=${hw}]`);
  const y = new Float64Array(n * c);
  for (let j = 0; j < n * c; j++) {
    let s = 0;
    for (let i = 0; i < hw; i++) s += x[j * hw + i]!;
    y[j] = s / hw;
  }
  return y;
}

/** dx[n,c,:] = dy[n,c] / hw. */
export function globalAvgPoolBwd(dy: Float64Array, n: number, c: number, hw: number): Float64Array {
  const fn = 'globalAvgPoolBwd';
  checkDims(fn, { n, c, hw });
  checkLen(fn, 'dy', dy, n * c, `[n=${n}, c=${c}]`);
  const dx = new Float64Array(n * c * hw);
  for (let j = 0; j < n * c; j++) {
    const g = dy[j]! / hw;
    for (let i = 0; i < hw; i++) dx[j * hw + i] = g;
  }
  return dx;
}

export interface PoolShape {
  n: number; c: number; h: number; w: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
}

/** Output size (floor mode, as PyTorch's default ceil_mode=false). */
export function poolOut(s: PoolShape): { ho: number; wo: number } {
  return {
    ho: Math.floor((s.h + 2 * s.ph - s.kh) / s.sh) + 1,
    wo: Math.floor((s.w + 2 * s.pw - s.kw) / s.sw) + 1,
  };
}

function checkPool(fn: string, s: PoolShape): { ho: number; wo: number } {
  checkDims(fn, { n: s.n, c: s.c, h: s.h, w: s.w, ph: s.ph, pw: s.pw });
  checkDims(fn, { kh: s.kh, kw: s.kw, sh: s.sh, sw: s.sw }, true);
  // PyTorch's rule; it also guarantees every window overlaps the input.
  if (2 * s.ph > s.kh || 2 * s.pw > s.kw) {
    throw new Error(`${fn}: padding must be at most half the kernel (shape {${fmtDims({ ...s })}})`);
  }
  const { ho, wo } = poolOut(s);
  if (ho < 1 || wo < 1) throw new Error(`${fn}: output ${ho}x${wo} is empty (shape {${fmtDims({ ...s })}})`);
  return { ho, wo };
}

/**
 * Max over each window, padding excluded. argmax holds the flat index ih*w+iw within the (n,c)
 * plane (as PyTorch's return_indices); ties keep the first position in row-major window order,
 * and a NaN wins over any number so it propagates.
 */
export function maxPool2dFwd(x: Float64Array, s: PoolShape): { y: Float64Array; argmax: Int32Array } {
  const fn = 'maxPool2dFwd';
  const { ho, wo } = checkPool(fn, s);
  const { n, c, h, w, kh, kw, sh, sw, ph, pw } = s;
  checkLen(fn, 'x', x, n * c * h * w, `[${n}, ${c}, ${h}, ${w}]`);
  const y = new Float64Array(n * c * ho * wo), argmax = new Int32Array(n * c * ho * wo);
  for (let p = 0; p < n * c; p++) {
    const xb = p * h * w;
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        let best = -Infinity, bi = -1;
        for (let r = 0; r < kh; r++) {
          const ih = oh * sh - ph + r;
          if (ih < 0 || ih >= h) continue;
          for (let q = 0; q < kw; q++) {
            const iw = ow * sw - pw + q;
            if (iw < 0 || iw >= w) continue;
            const v = x[xb + ih * w + iw]!;
            if (bi < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) { best = v; bi = ih * w + iw; }
          }
        }
        const o = (p * ho + oh) * wo + ow;
        y[o] = best; argmax[o] = bi;
      }
    }
  }
  return { y, argmax };
}

/** Routes each output gradient to its argmax position (overlapping windows accumulate). */
export function maxPool2dBwd(dy: Float64Array, argmax: Int32Array, s: PoolShape): Float64Array {
  const fn = 'maxPool2dBwd';
  const { ho, wo } = checkPool(fn, s);
  const { n, c, h, w } = s;
  checkLen(fn, 'dy', dy, n * c * ho * wo, `[${n}, ${c}, ${ho}, ${wo}]`);
  checkLen(fn, 'argmax', argmax, n * c * ho * wo, `[${n}, ${c}, ${ho}, ${wo}]`);
  const dx = new Float64Array(n * c * h * w);
  const plane = ho * wo;
  for (let o = 0; o < dy.length; o++) {
    const a = argmax[o]!;
    if (a < 0 || a >= h * w) throw new Error(`${fn}: argmax[${o}]=${a} outside the ${h}x${w} plane`);
    dx[Math.floor(o / plane) * h * w + a]! += dy[o]!;
  }
  return dx;
}
