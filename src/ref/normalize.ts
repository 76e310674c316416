// Float64 twin of per-row L2 normalisation (torch.nn.functional.normalize, p=2, dim=-1).
import { checkDims, checkLen } from './check.js';

function checkRows(fn: string, name: string, x: { length: number }, rows: number, d: number): void {
  checkDims(fn, { rows, d });
  checkLen(fn, name, x, rows * d, `[rows=${rows}, d=${d}]`);
}

function rowNorm(x: Float64Array, o: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) { const v = x[o + j]!; s += v * v; }
  return Math.sqrt(s);
}

/** y = x / max(||x||, eps) per row. */
export function l2NormalizeFwd(x: Float64Array, rows: number, d: number, eps = 1e-12): Float64Array {
  checkRows('l2NormalizeFwd', 'x', x, rows, d);
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    const den = Math.max(rowNorm(x, o, d), eps);
    for (let j = 0; j < d; j++) y[o + j] = x[o + j]! / den;
  }
  return y;
}

/**
 * Above the clamp: dx = (dy - y (y . dy)) / ||x||. Below it the denominator is the constant eps,
 * so dx = dy / eps. At ||x|| == eps the gradient flows through the norm, as PyTorch's clamp_min.
 */
export function l2NormalizeBwd(x: Float64Array, dy: Float64Array, rows: number, d: number, eps = 1e-12): Float64Array {
  const fn = 'l2NormalizeBwd';
  checkRows(fn, 'x', x, rows, d);
  checkRows(fn, 'dy', dy, rows, d);
  const dx = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    const nrm = rowNorm(x, o, d);
    if (nrm >= eps) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += x[o + j]! * dy[o + j]!;
      const k = dot / (nrm * nrm);
      for (let j = 0; j < d; j++) dx[o + j] = (dy[o + j]! - x[o + j]! * k) / nrm;
    } else {
      for (let j = 0; j < d; j++) dx[o + j] = dy[o + j]! / eps;
    }
  }
  return dx;
}
