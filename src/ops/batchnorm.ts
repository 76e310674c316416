// Batch normalisation over (N, C, H, W) or (N, C): training mode uses batch statistics (saving mean and
// inverse std for backward) and updates the running statistics in place; eval mode uses the running ones.
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank, elemGrid, opError } from './util.js';
import { reluBwdRaw } from './elementwise.js';

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
  /** Fuse a ReLU after the affine transform (saves a pass over the activations). */
  relu?: boolean;
}

export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, runMean: Tensor, runVar: Tensor, opts: BatchNormOptions): Tensor {
  const op = 'batchNorm';
  checkTensor(op, 'x', x); checkF32(op, 'x', x); checkRank(op, 'x', x, [2, 4]);
  const [n, c] = x.shape as [number, number];
  const hw = x.shape.length === 4 ? x.shape[2]! * x.shape[3]! : 1;
  for (const [name, t] of [['weight', gamma], ['bias', beta], ['running_mean', runMean], ['running_var', runVar]] as const) {
    checkTensor(op, name, t);
    if (t.size !== c || t.shape.length !== 1) throw opError(op, `${name} ${t.label()} must be [${c}] for input ${x.label()}`);
  }
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const training = opts.training;
  const m = n * hw;
  if (training && m < 2) throw opError(op, `training mode needs more than one value per channel, got input ${x.label()}`);
  const mean = Tensor.empty([c]);
  const invstd = Tensor.empty([c]);
  // vec4 variants when every group of 4 values lies in one channel: a quarter of the gathers on lavapipe.
  const v4 = hw % 4 === 0;
  // Reduction workgroup: about 4 values per lane, between 32 and 256 lanes (one channel per workgroup).
  const perLane = (v4 ? m / 4 : m) / 4;
  const RWG = Math.min(256, Math.max(32, 2 ** Math.floor(Math.log2(Math.max(1, perLane)))));
  if (training) {
    stream.dispatch(v4 ? 'bn_stats_v4' : 'bn_stats', { RWG }, { n, c, hw, eps, momentum, update: 1 },
      [x.binding, mean.binding, invstd.binding, runMean.binding, runVar.binding], [c, 1, 1], { flops: 4 * x.size, bytes: 8 * x.size });
  } else {
    stream.dispatch('bn_eval_stats', {}, { c, eps }, [runMean.binding, runVar.binding, mean.binding, invstd.binding], [Math.ceil(c / 64), 1, 1]);
  }
  const relu = opts.relu ?? false;
  const y = Tensor.empty(x.shape);
  if (v4) {
    stream.dispatch('bn_apply_v4', {}, { total4: x.size / 4, c, hw4: hw / 4, relu: relu ? 1 : 0 },
      [x.binding, mean.binding, invstd.binding, gamma.binding, beta.binding, y.binding], elemGrid(x.size / 4), { flops: 4 * x.size, bytes: 8 * x.size });
  } else {
    stream.dispatch('bn_apply', {}, { total: x.size, c, hw, relu: relu ? 1 : 0 },
      [x.binding, mean.binding, invstd.binding, gamma.binding, beta.binding, y.binding], elemGrid(x.size), { flops: 4 * x.size, bytes: 8 * x.size });
  }
  record(relu ? 'batchNormReLU' : op, [x, gamma, beta], y, relu ? [x, mean, invstd, gamma, y] : [x, mean, invstd, gamma],
    (dyIn, saved, needs) => {
      const [sx, smean, sinv, sgamma, sy] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
      let dy = dyIn;
      if (sy) {
        dy = Tensor.empty(x.shape);
        reluBwdRaw(sy, dyIn, dy);
      }
      const dgamma = Tensor.empty([c]);
      const dbeta = Tensor.empty([c]);
      stream.dispatch(v4 ? 'bn_bwd_reduce_v4' : 'bn_bwd_reduce', { RWG }, { n, c, hw }, [sx.binding, dy.binding, smean.binding, sinv.binding, dgamma.binding, dbeta.binding],
        [c, 1, 1], { flops: 5 * x.size, bytes: 8 * x.size });
      let dx: Tensor | null = null;
      if (needs[0]) {
        dx = Tensor.empty(x.shape);
        const bufs = [sx.binding, dy.binding, smean.binding, sinv.binding, sgamma.binding, dgamma.binding, dbeta.binding, dx.binding];
        if (v4) {
          stream.dispatch('bn_bwd_data_v4', {}, { total4: x.size / 4, c, hw4: hw / 4, m, train: training ? 1 : 0 }, bufs, elemGrid(x.size / 4), { flops: 8 * x.size, bytes: 12 * x.size });
        } else {
          stream.dispatch('bn_bwd_data', {}, { total: x.size, c, hw, m, train: training ? 1 : 0 }, bufs, elemGrid(x.size), { flops: 8 * x.size, bytes: 12 * x.size });
        }
      }
      if (dy !== dyIn) dy.dispose();
      return [dx, needs[1] ? dgamma : (dgamma.dispose(), null), needs[2] ? dbeta : (dbeta.dispose(), null)];
    });
  mean.dispose();
  invstd.dispose();
  return y;
}
