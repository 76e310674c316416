// Pooling: global average pooling (the backbone's feature) and max pooling (the ResNet stem: 3x3 s2 p1).
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank, opError } from './util.js';

/** [n, c, h, w] -> [n, c] */
export function globalAvgPool(x: Tensor): Tensor {
  checkTensor('globalAvgPool', 'x', x); checkF32('globalAvgPool', 'x', x); checkRank('globalAvgPool', 'x', x, 4);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const nc = n * c, hw = h * w;
  if (hw === 0) throw opError('globalAvgPool', `empty spatial size in ${x.label()}`);
  const y = Tensor.empty([n, c]);
  stream.dispatch('gap_fwd', { params: { nc, hw }, bind: { x, y }, grid: gridFor('gap_fwd', nc), cost: { flops: nc * hw, bytes: 4 * (nc * hw + nc) } });
  record('globalAvgPool', [x], y, [], (dy) => {
    const dx = Tensor.empty(x.shape);
    stream.dispatch('gap_bwd', { params: { nc, hw }, bind: { dy, dx }, grid: gridFor('gap_bwd', nc * hw), cost: { bytes: 4 * (nc * hw + nc) } });
    return [dx];
  });
  return y;
}

export interface MaxPoolOptions { kernel?: number | [number, number]; stride?: number | [number, number]; padding?: number | [number, number] }

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

export function maxPool2d(x: Tensor, opts: MaxPoolOptions = {}): Tensor {
  checkTensor('maxPool2d', 'x', x); checkF32('maxPool2d', 'x', x); checkRank('maxPool2d', 'x', x, 4);
  const [kh, kw] = pair(opts.kernel ?? 3);
  const [sh, sw] = pair(opts.stride ?? opts.kernel ?? 3);
  const [ph, pw] = pair(opts.padding ?? 0);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if ([kh, kw, sh, sw].some((v) => !Number.isInteger(v) || v < 1) || [ph, pw].some((v) => !Number.isInteger(v) || v < 0)) {
    throw opError('maxPool2d', `kernel/stride must be positive integers and padding non-negative, got kernel ${kh}x${kw} stride ${sh}x${sw} padding ${ph}x${pw}`);
  }
  if (ph * 2 > kh || pw * 2 > kw) throw opError('maxPool2d', `padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw}`);
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1, wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (ho < 1 || wo < 1) throw opError('maxPool2d', `input ${x.label()} is smaller than the kernel ${kh}x${kw}`);
  const nc = n * c;
  const params = { nc, h, w, ho, wo, kh, kw, sh, sw, ph, pw };
  const y = Tensor.empty([n, c, ho, wo]);
  const arg = Tensor.empty([n, c, ho, wo], 'i32');
  stream.dispatch('maxpool_fwd', { params, bind: { x, y, arg }, grid: gridFor('maxpool_fwd', nc * ho * wo), cost: { bytes: 4 * (nc * h * w + 2 * nc * ho * wo) } });
  record('maxPool2d', [x], y, [arg], (dy, [sarg]) => {
    const dx = Tensor.empty(x.shape);
    stream.dispatch('maxpool_bwd', { params, bind: { dy, arg: sarg!, dx }, grid: gridFor('maxpool_bwd', nc * h * w), cost: { bytes: 4 * (nc * h * w + 2 * nc * ho * wo) } });
    return [dx];
  });
  arg.dispose();
  return y;
}
