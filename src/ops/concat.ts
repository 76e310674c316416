// Row-wise concatenation of two matrices [rows, a] ++ [rows, b] -> [rows, a + b] (InfoNCE's [positive, queue]
// logits); the backward slices the incoming gradient back into its two column blocks.
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank, opError } from './util.js';

function sliceColsRaw(x: Tensor, c0: number, w: number): Tensor {
  const [rows, cols] = x.shape as [number, number];
  const out = Tensor.empty([rows, w]);
  stream.dispatch('slice_cols', { params: { rows, cols, c0, w }, bind: { x, out }, grid: gridFor('slice_cols', rows * w), cost: { bytes: 8 * rows * w } });
  return out;
}

export function concatCols(a: Tensor, b: Tensor): Tensor {
  checkTensor('concatCols', 'a', a); checkTensor('concatCols', 'b', b);
  checkF32('concatCols', 'a', a); checkF32('concatCols', 'b', b);
  checkRank('concatCols', 'a', a, 2); checkRank('concatCols', 'b', b, 2);
  const [rows, ac] = a.shape as [number, number];
  const [rb, bc] = b.shape as [number, number];
  if (rows !== rb) throw opError('concatCols', `row counts differ: ${a.label()} vs ${b.label()}`);
  const out = Tensor.empty([rows, ac + bc]);
  stream.dispatch('concat_cols', { params: { rows, ac, bc }, bind: { a, b, out }, grid: gridFor('concat_cols', rows * (ac + bc)), cost: { bytes: 8 * rows * (ac + bc) } });
  record('concatCols', [a, b], out, [], (dy, _s, needs) => [
    needs[0] ? sliceColsRaw(dy, 0, ac) : null,
    needs[1] ? sliceColsRaw(dy, ac, bc) : null,
  ]);
  return out;
}

/**
 * out[r] = x[idx[r]] for the rows of a [n, ...] tensor (no tape). `idx` holds row numbers of x; it is uploaded
 * into the open encoder, so a gather costs no submission of its own.
 */
export function gatherRows(x: Tensor, idx: Int32Array): Tensor {
  const n = x.shape[0]!;
  const cols = x.size / Math.max(1, n);
  for (const i of idx) if (!(i >= 0 && i < n)) throw opError('gatherRows', `row index ${i} outside [0, ${n}) of ${x.label()}`);
  const out = Tensor.empty([idx.length, ...x.shape.slice(1)]);
  const it = Tensor.fromArray(idx, [idx.length], 'i32');
  stream.dispatch('gather_rows', { params: { rows: idx.length, cols }, bind: { x, idx: it, out }, grid: gridFor('gather_rows', idx.length * cols), cost: { bytes: 8 * idx.length * cols } });
  it.dispose();
  return out;
}
