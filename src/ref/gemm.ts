// Float64 twins of matrix multiply and the linear layer (PyTorch layout: weight [out, in], y = x W^T + b).
import { checkDims, checkLen } from './check.js';

/**
 * C[m,n] = op(A) op(B). A is [m,k] ([k,m] when transA); B is [k,n] ([n,k] when transB).
 */
export function matmul(
  a: Float64Array, b: Float64Array, m: number, k: number, n: number,
  transA = false, transB = false,
): Float64Array {
  const fn = 'matmul';
  checkDims(fn, { m, k, n });
  checkLen(fn, 'a', a, m * k, transA ? `[k=${k}, m=${m}] (transA)` : `[m=${m}, k=${k}]`);
  checkLen(fn, 'b', b, k * n, transB ? `[n=${n}, k=${k}] (transB)` : `[k=${k}, n=${n}]`);
  const c = new Float64Array(m * n);
  // Element strides for op(A)[i,p] and op(B)[p,j], so one loop handles all four cases.
  const aI = transA ? 1 : k, aP = transA ? m : 1;
  const bP = transB ? 1 : n, bJ = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * aI + p * aP]!;
      if (av === 0) continue;
      const bo = p * bP;
      for (let j = 0; j < n; j++) c[row + j]! += av * b[bo + j * bJ]!;
    }
  }
  return c;
}

/** y[batch,outF] = x W^T + b, with x [batch,inF], W [outF,inF], b [outF] or null. */
export function linearFwd(
  x: Float64Array, w: Float64Array, b: Float64Array | null, batch: number, inF: number, outF: number,
): Float64Array {
  const fn = 'linearFwd';
  checkDims(fn, { batch, inF, outF });
  checkLen(fn, 'x', x, batch * inF, `[batch=${batch}, inF=${inF}]`);
  checkLen(fn, 'w', w, outF * inF, `[outF=${outF}, inF=${inF}]`);
  if (b) checkLen(fn, 'b', b, outF, `[outF=${outF}]`);
  const y = matmul(x, w, batch, inF, outF, false, true);
  if (b) for (let i = 0; i < batch; i++) for (let o = 0; o < outF; o++) y[i * outF + o]! += b[o]!;
  return y;
}

/** Gradients of linearFwd: dx = dy W, dW = dy^T x, db = column sums of dy. */
export function linearBwd(
  x: Float64Array, w: Float64Array, dy: Float64Array, batch: number, inF: number, outF: number, hasBias: boolean,
): { dx: Float64Array; dw: Float64Array; db: Float64Array | null } {
  const fn = 'linearBwd';
  checkDims(fn, { batch, inF, outF });
  checkLen(fn, 'x', x, batch * inF, `[batch=${batch}, inF=${inF}]`);
  checkLen(fn, 'w', w, outF * inF, `[outF=${outF}, inF=${inF}]`);
  checkLen(fn, 'dy', dy, batch * outF, `[batch=${batch}, outF=${outF}]`);
  const dx = matmul(dy, w, batch, outF, inF);
  const dw = matmul(dy, x, outF, batch, inF, true, false);
  let db: Float64Array | null = null;
  if (hasBias) {
    db = new Float64Array(outF);
    for (let i = 0; i < batch; i++) for (let o = 0; o < outF; o++) db[o]! += dy[i * outF + o]!;
  }
  return { dx, dw, db };
}
