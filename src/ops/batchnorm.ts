// Batch normalisation over (N, C, H, W) or (N, C): training mode uses batch statistics (saving mean and
// inverse std for backward) and updates the running statistics in place; eval mode uses the running ones.
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, gridFor, type Overrides } from '../gpu/stream.js';
import { Family } from '../gpu/variants.js';
import { checkTensor, checkF32, checkRank, opError } from './util.js';
import { reluBwdRaw } from './elementwise.js';

/** Batch-norm geometry: n images (or rows), c channels, hw values per channel and image. */
export interface BnGeom { n: number; c: number; hw: number }
const bnDescribe = (g: BnGeom) => `n${g.n} c${g.c} hw${g.hw}`;
// The vec4 kernels read four values of one channel at a time: hw must be a multiple of 4.
const fitsV4 = (g: BnGeom) => (g.hw % 4 === 0 ? true : `hw ${g.hw} is not a multiple of 4`);
// Reduction workgroup: about 4 values per lane, between 32 and 256 lanes (one channel per workgroup).
function reduceLanes(g: BnGeom, v4: boolean): Overrides {
  const perLane = (v4 ? (g.n * g.hw) / 4 : g.n * g.hw) / 4;
  return { RWG: Math.min(256, Math.max(32, 2 ** Math.floor(Math.log2(Math.max(1, perLane))))) };
}

interface StatsArgs { x: Tensor; mean: Tensor; invstd: Tensor; runMean: Tensor; runVar: Tensor; eps: number; momentum: number }
/** Training statistics per channel (mean, 1/std) and the running-statistics update: one workgroup per channel. */
export const bnStatsFamily = new Family<BnGeom, StatsArgs>('batchnorm.stats', (['vec4', 'scalar'] as const).map((kind) => {
  const kernel = kind === 'vec4' ? 'bn_stats_v4' as const : 'bn_stats' as const;
  return {
    name: kind, kernels: [kernel], fits: kind === 'vec4' ? fitsV4 : () => true as const,
    overrides: (g: BnGeom) => reduceLanes(g, kind === 'vec4'),
    grid: (g: BnGeom): [number, number, number] => [g.c, 1, 1],
    run: (g: BnGeom, a: StatsArgs, ov: Overrides) => stream.dispatch(kernel, {
      params: { n: g.n, c: g.c, hw: g.hw, eps: a.eps, momentum: a.momentum, update: 1 },
      bind: { x: a.x, mean: a.mean, invstd: a.invstd, run_mean: a.runMean, run_var: a.runVar }, grid: [g.c, 1, 1], overrides: ov,
      cost: { flops: 4 * a.x.size, bytes: 8 * a.x.size },
    }),
  };
}), bnDescribe);

interface ApplyArgs { x: Tensor; mean: Tensor; invstd: Tensor; gamma: Tensor; beta: Tensor; y: Tensor; relu: boolean }
/** y = (x - mean) invstd gamma + beta (then ReLU when asked), training and eval alike. */
export const bnApplyFamily = new Family<BnGeom, ApplyArgs>('batchnorm.apply', [
  {
    name: 'vec4', kernels: ['bn_apply_v4'], fits: fitsV4, grid: (g, ov) => gridFor('bn_apply_v4', (g.n * g.c * g.hw) / 4, ov),
    run: (g, a, ov) => stream.dispatch('bn_apply_v4', {
      params: { total4: (g.n * g.c * g.hw) / 4, c: g.c, hw4: g.hw / 4, relu: a.relu ? 1 : 0 },
      bind: { x: a.x, mean: a.mean, invstd: a.invstd, gamma: a.gamma, beta: a.beta, y: a.y },
      grid: gridFor('bn_apply_v4', (g.n * g.c * g.hw) / 4, ov), overrides: ov, cost: { flops: 4 * a.x.size, bytes: 8 * a.x.size },
    }),
  },
  {
    name: 'scalar', kernels: ['bn_apply'], fits: () => true, grid: (g, ov) => gridFor('bn_apply', g.n * g.c * g.hw, ov),
    run: (g, a, ov) => stream.dispatch('bn_apply', {
      params: { total: g.n * g.c * g.hw, c: g.c, hw: g.hw, relu: a.relu ? 1 : 0 },
      bind: { x: a.x, mean: a.mean, invstd: a.invstd, gamma: a.gamma, beta: a.beta, y: a.y },
      grid: gridFor('bn_apply', g.n * g.c * g.hw, ov), overrides: ov, cost: { flops: 4 * a.x.size, bytes: 8 * a.x.size },
    }),
  },
], bnDescribe);

interface BwdReduceArgs { x: Tensor; dy: Tensor; mean: Tensor; invstd: Tensor; dgamma: Tensor; dbeta: Tensor }
/** dgamma = sum dy (x - mean) invstd, dbeta = sum dy, per channel: one workgroup per channel. */
export const bnBwdReduceFamily = new Family<BnGeom, BwdReduceArgs>('batchnorm.bwd_reduce', (['vec4', 'scalar'] as const).map((kind) => {
  const kernel = kind === 'vec4' ? 'bn_bwd_reduce_v4' as const : 'bn_bwd_reduce' as const;
  return {
    name: kind, kernels: [kernel], fits: kind === 'vec4' ? fitsV4 : () => true as const,
    overrides: (g: BnGeom) => reduceLanes(g, kind === 'vec4'),
    grid: (g: BnGeom): [number, number, number] => [g.c, 1, 1],
    run: (g: BnGeom, a: BwdReduceArgs, ov: Overrides) => stream.dispatch(kernel, {
      params: { n: g.n, c: g.c, hw: g.hw }, bind: { x: a.x, dy: a.dy, mean: a.mean, invstd: a.invstd, dgamma: a.dgamma, dbeta: a.dbeta },
      grid: [g.c, 1, 1], overrides: ov, cost: { flops: 5 * a.x.size, bytes: 8 * a.x.size },
    }),
  };
}), bnDescribe);

interface BwdDataArgs { x: Tensor; dy: Tensor; mean: Tensor; invstd: Tensor; gamma: Tensor; dgamma: Tensor; dbeta: Tensor; dx: Tensor; training: boolean }
/** dx from dy and the reduced sums (training: through the batch statistics; eval: dy gamma invstd). */
export const bnBwdDataFamily = new Family<BnGeom, BwdDataArgs>('batchnorm.bwd_data', [
  {
    name: 'vec4', kernels: ['bn_bwd_data_v4'], fits: fitsV4, grid: (g, ov) => gridFor('bn_bwd_data_v4', (g.n * g.c * g.hw) / 4, ov),
    run: (g, a, ov) => stream.dispatch('bn_bwd_data_v4', {
      params: { total4: (g.n * g.c * g.hw) / 4, c: g.c, hw4: g.hw / 4, m: g.n * g.hw, train: a.training ? 1 : 0 },
      bind: { x: a.x, dy: a.dy, mean: a.mean, invstd: a.invstd, gamma: a.gamma, dgamma: a.dgamma, dbeta: a.dbeta, dx: a.dx },
      grid: gridFor('bn_bwd_data_v4', (g.n * g.c * g.hw) / 4, ov), overrides: ov, cost: { flops: 8 * a.x.size, bytes: 12 * a.x.size },
    }),
  },
  {
    name: 'scalar', kernels: ['bn_bwd_data'], fits: () => true, grid: (g, ov) => gridFor('bn_bwd_data', g.n * g.c * g.hw, ov),
    run: (g, a, ov) => stream.dispatch('bn_bwd_data', {
      params: { total: g.n * g.c * g.hw, c: g.c, hw: g.hw, m: g.n * g.hw, train: a.training ? 1 : 0 },
      bind: { x: a.x, dy: a.dy, mean: a.mean, invstd: a.invstd, gamma: a.gamma, dgamma: a.dgamma, dbeta: a.dbeta, dx: a.dx },
      grid: gridFor('bn_bwd_data', g.n * g.c * g.hw, ov), overrides: ov, cost: { flops: 8 * a.x.size, bytes: 12 * a.x.size },
    }),
  },
], bnDescribe);

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
  const g: BnGeom = { n, c, hw };
  if (training) {
    bnStatsFamily.run(g, { x, mean, invstd, runMean, runVar, eps, momentum });
  } else {
    stream.dispatch('bn_eval_stats', { params: { c, eps }, bind: { run_mean: runMean, run_var: runVar, mean, invstd }, grid: gridFor('bn_eval_stats', c) });
  }
  const relu = opts.relu ?? false;
  const y = Tensor.empty(x.shape);
  bnApplyFamily.run(g, { x, mean, invstd, gamma, beta, y, relu });
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
      bnBwdReduceFamily.run(g, { x: sx, dy, mean: smean, invstd: sinv, dgamma, dbeta });
      let dx: Tensor | null = null;
      if (needs[0]) {
        dx = Tensor.empty(x.shape);
        bnBwdDataFamily.run(g, { x: sx, dy, mean: smean, invstd: sinv, gamma: sgamma, dgamma, dbeta, dx, training });
      }
      if (dy !== dyIn) dy.dispose();
      return [dx, needs[1] ? dgamma : (dgamma.dispose(), null), needs[2] ? dbeta : (dbeta.dispose(), null)];
    });
  mean.dispose();
  invstd.dispose();
  return y;
}
