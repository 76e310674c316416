// L2 normalisation along the last axis of [rows, d] (torch.nn.functional.normalize, eps 1e-12).
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, grid1d, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank } from './util.js';

export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  checkTensor('l2Normalize', 'x', x); checkF32('l2Normalize', 'x', x); checkRank('l2Normalize', 'x', x, 2);
  const [rows, d] = x.shape as [number, number];
  const y = Tensor.empty(x.shape);
  const nrm = Tensor.empty([rows]);
  stream.dispatch('l2norm_fwd', { params: { rows, d, eps }, bind: { x, y, nrm }, grid: grid1d(rows), cost: { flops: 3 * rows * d, bytes: 8 * rows * d } });
  record('l2Normalize', [x], y, [y, nrm], (dy, [sy, sn]) => {
    const dx = Tensor.empty(x.shape);
    stream.dispatch('l2norm_bwd', { params: { rows, d, eps }, bind: { y: sy!, nrm: sn!, dy, dx }, grid: grid1d(rows), cost: { flops: 4 * rows * d, bytes: 12 * rows * d } });
    return [dx];
  });
  nrm.dispose();
  return y;
}
