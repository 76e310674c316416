// Float64 twins of element-wise ops and their gradients.
import { checkDims, checkLen, checkSame } from './check.js';

function map1(x: Float64Array, f: (v: number) => number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]!);
  return y;
}

function map2(fn: string, na: string, a: Float64Array, nb: string, b: Float64Array, f: (u: number, v: number) => number): Float64Array {
  checkSame(fn, na, a, nb, b);
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = f(a[i]!, b[i]!);
  return y;
}

/** Numerically stable logistic function (no exp overflow for large |v|). */
function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export function reluFwd(x: Float64Array): Float64Array {
  // `v > 0 ? v : 0` would turn NaN into 0; keep NaN visible.
  return map1(x, (v) => (v <= 0 ? 0 : v));
}

/** Gradient is 0 at x <= 0 (PyTorch's choice at the kink). */
export function reluBwd(x: Float64Array, dy: Float64Array): Float64Array {
  return map2('reluBwd', 'x', x, 'dy', dy, (v, g) => (v > 0 ? g : 0));
}

export function relu6Fwd(x: Float64Array): Float64Array {
  return map1(x, (v) => (v <= 0 ? 0 : v >= 6 ? 6 : v));
}

/** Gradient is 1 strictly inside (0, 6), 0 elsewhere including both kinks (as PyTorch's hardtanh). */
export function relu6Bwd(x: Float64Array, dy: Float64Array): Float64Array {
  return map2('relu6Bwd', 'x', x, 'dy', dy, (v, g) => (v > 0 && v < 6 ? g : 0));
}

export function sigmoidFwd(x: Float64Array): Float64Array {
  return map1(x, sigmoid);
}

export function sigmoidBwd(x: Float64Array, dy: Float64Array): Float64Array {
  return map2('sigmoidBwd', 'x', x, 'dy', dy, (v, g) => { const s = sigmoid(v); return g * s * (1 - s); });
}

/** silu(x) = x * sigmoid(x). */
export function siluFwd(x: Float64Array): Float64Array {
  return map1(x, (v) => v * sigmoid(v));
}

export function siluBwd(x: Float64Array, dy: Float64Array): Float64Array {
  return map2('siluBwd', 'x', x, 'dy', dy, (v, g) => { const s = sigmoid(v); return g * s * (1 + v * (1 - s)); });
}

export function add(a: Float64Array, b: Float64Array): Float64Array {
  return map2('add', 'a', a, 'b', b, (u, v) => u + v);
}

export function scaleFwd(x: Float64Array, alpha: number): Float64Array {
  return map1(x, (v) => v * alpha);
}

/** The gradient of a scale is the same scale. */
export function scaleBwd(dy: Float64Array, alpha: number): Float64Array {
  return map1(dy, (v) => v * alpha);
}

export function mulFwd(a: Float64Array, b: Float64Array): Float64Array {
  return map2('mulFwd', 'a', a, 'b', b, (u, v) => u * v);
}

export function mulBwd(a: Float64Array, b: Float64Array, dy: Float64Array): { da: Float64Array; db: Float64Array } {
  checkSame('mulBwd', 'a', a, 'dy', dy);
  return {
    da: map2('mulBwd', 'b', b, 'dy', dy, (v, g) => g * v),
    db: map2('mulBwd', 'a', a, 'dy', dy, (u, g) => g * u),
  };
}

function checkCS(fn: string, x: { length: number }, xn: string, s: { length: number }, n: number, c: number, hw: number): void {
  checkDims(fn, { n, c, hw });
  checkLen(fn, xn, x, n * c * hw, `[n=${n}, c=${c}, hw=${hw}]`);
  checkLen(fn, 's', s, n * c, `[n=${n}, c=${c}]`);
}

/** y[n,c,:] = x[n,c,:] * s[n,c] (squeeze-and-excitation style gating). */
export function channelScaleFwd(x: Float64Array, s: Float64Array, n: number, c: number, hw: number): Float64Array {
  checkCS('channelScaleFwd', x, 'x', s, n, c, hw);
  const y = new Float64Array(x.length);
  for (let j = 0; j < n * c; j++) {
    const sv = s[j]!;
    for (let i = 0; i < hw; i++) y[j * hw + i] = x[j * hw + i]! * sv;
  }
  return y;
}

export function channelScaleBwd(
  x: Float64Array, s: Float64Array, dy: Float64Array, n: number, c: number, hw: number,
): { dx: Float64Array; ds: Float64Array } {
  const fn = 'channelScaleBwd';
  checkCS(fn, x, 'x', s, n, c, hw);
  checkLen(fn, 'dy', dy, n * c * hw, `[n=${n}, c=${c}, hw=${hw}]`);
  const dx = new Float64Array(x.length), ds = new Float64Array(n * c);
  for (let j = 0; j < n * c; j++) {
    const sv = s[j]!;
    let acc = 0;
    for (let i = 0; i < hw; i++) {
      const g = dy[j * hw + i]!;
      dx[j * hw + i] = g * sv;
      acc += g * x[j * hw + i]!;
    }
    ds[j] = acc;
  }
  return { dx, ds };
}

function dropoutScale(fn: string, mask: Float64Array, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`${fn}: p=${p} must lie in [0, 1]`);
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i]!;
    if (m !== 0 && m !== 1) throw new Error(`${fn}: mask[${i}]=${m}; the mask must hold only 0 and 1`);
  }
  // p = 1 drops everything; PyTorch multiplies by 0 rather than dividing by 0 (NaN still propagates).
  return p === 1 ? 0 : 1 / (1 - p);
}

/** y = x * mask / (1 - p), mask of 0/1 drawn by the caller. */
export function dropoutFwd(x: Float64Array, mask: Float64Array, p: number): Float64Array {
  checkSame('dropoutFwd', 'x', x, 'mask', mask);
  const k = dropoutScale('dropoutFwd', mask, p);
  return map2('dropoutFwd', 'x', x, 'mask', mask, (v, m) => v * m * k);
}

export function dropoutBwd(dy: Float64Array, mask: Float64Array, p: number): Float64Array {
  checkSame('dropoutBwd', 'dy', dy, 'mask', mask);
  const k = dropoutScale('dropoutBwd', mask, p);
  return map2('dropoutBwd', 'dy', dy, 'mask', mask, (g, m) => g * m * k);
}
