// GEMM family and the ops built on it: matmul and linear (x W^T + b), with every transpose case their backward
// needs. The variant is data (gemmFamily): chosen by adapter, shape and the tuning table.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, workgroupSize, type Grid, type Overrides } from '../gpu/stream.js';
import { Family, type Variant, type AdapterCaps } from '../gpu/variants.js';
import { checkTensor, checkF32, checkRank, opError, dummyTensor } from './util.js';
import { sum } from './reduce.js';
import { noGrad } from '../autograd/scope.js';

export interface GemmArgs {
  a: Tensor; b: Tensor; c: Tensor;
  m: number; n: number; k: number;
  transA?: boolean; transB?: boolean;
  /** Leading dimensions (default: packed). */
  lda?: number; ldb?: number; ldc?: number;
  /** Batched: element strides between consecutive matrices (0 broadcasts). */
  batch?: number; strideA?: number; strideB?: number; strideC?: number;
  bias?: Tensor | null;
}

/** The geometry every GEMM variant is chosen by. */
export interface GemmGeom {
  m: number; n: number; k: number; transA: boolean; transB: boolean;
  lda: number; ldb: number; ldc: number; batch: number; sA: number; sB: number; sC: number; bias: boolean;
}
export interface GemmTensors { a: Tensor; b: Tensor; c: Tensor; bias: Tensor | null }

const MAX_GRID = 65535;

/** Fold `tiles` row tiles over y and z (z also carries the batch). */
export function foldRows(tiles: number, batch: number): { ygrid: number; zfold: number } {
  const zfold = Math.ceil(tiles / MAX_GRID);
  const ygrid = Math.ceil(tiles / zfold);
  if (batch * zfold > MAX_GRID) throw new Error(`gemm: batch ${batch} x row folds ${zfold} exceeds ${MAX_GRID} workgroups in z`);
  return { ygrid, zfold };
}

const aligned4 = (g: GemmGeom) => g.k % 4 === 0 && g.n % 4 === 0 && (!g.transA || g.m % 4 === 0) && [g.lda, g.ldb, g.ldc, g.sA, g.sB, g.sC].every((v) => v % 4 === 0);

/** Lane groups of the subgroup kernels: 8 where every subgroup has >= 8 lanes, else 4 (common/sg_share.wgsl). */
export const laneGroup = (caps: AdapterCaps) => (caps.subgroupMinSize >= 8 ? 8 : 4);

type GemmVariant = Variant<GemmGeom, GemmTensors>;

/** The subgroup GEMM variants (16 rows x 4*WG columns per workgroup; see the kernel headers). */
function sgVariant(name: string, kernel: 'gemm_sg_v4' | 'gemm_sg', fits: (g: GemmGeom) => true | string): GemmVariant {
  const grid = (g: GemmGeom, ov: Overrides): Grid => {
    const { ygrid, zfold } = foldRows(Math.ceil(g.m / 16), g.batch);
    return [Math.ceil(g.n / (4 * workgroupSize(kernel, ov)[0])), ygrid, g.batch * zfold];
  };
  return {
    name, kernels: [kernel], requires: { subgroupSize: { min: 4 } }, fits, grid,
    overrides: (g, caps) => ({ TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, SG: laneGroup(caps) }),
    run: (g, t, ov) => launch(kernel, g, t, ov, grid(g, ov)),
  };
}

function launch(kernel: 'gemm_sg_v4' | 'gemm_sg' | 'gemm_tiled' | 'gemm_wgtile', g: GemmGeom, t: GemmTensors, ov: Overrides, grid: Grid): void {
  stream.dispatch(kernel, {
    params: { M: g.m, N: g.n, K: g.k, batch: g.batch, lda: g.lda, ldb: g.ldb, ldc: g.ldc, use_bias: g.bias ? 1 : 0, sA: g.sA, sB: g.sB, sC: g.sC, ygrid: grid[1], zfold: grid[2] / g.batch },
    bind: { A: t.a, B: t.b, bias: t.bias ?? dummyTensor(), C: t.c }, grid, overrides: ov,
    cost: { flops: 2 * g.m * g.n * g.k * g.batch, bytes: 4 * g.batch * (g.m * g.k + g.k * g.n + g.m * g.n) },
  });
}

const tiledGrid = (g: GemmGeom, ov: Overrides): Grid => {
  const [wx, wy] = workgroupSize('gemm_tiled', ov);
  const { ygrid, zfold } = foldRows(Math.ceil(g.m / (4 * wy)), g.batch);
  return [Math.ceil(g.n / (4 * wx)), ygrid, g.batch * zfold];
};

const wgtileGrid = (g: GemmGeom): Grid => {
  const { ygrid, zfold } = foldRows(Math.ceil(g.m / 64), g.batch);
  return [Math.ceil(g.n / 64), ygrid, g.batch * zfold];
};

/**
 * GEMM variants, fastest first where they fit on lavapipe: subgroup kernels with vec4 loads (4-aligned shapes),
 * with scalar loads (any shape); then, for adapters without subgroups, 64 x 64 tiles staged through workgroup
 * memory (the layout meant for discrete GPUs; a tuning table may put it first there) and the register-tiled
 * kernel that needs neither subgroups nor workgroup memory.
 */
export const gemmFamily = new Family<GemmGeom, GemmTensors>('gemm', [
  sgVariant('sg_v4', 'gemm_sg_v4', (g) => aligned4(g) || 'K, N (and M with transA), leading dimensions and strides must be multiples of 4'),
  sgVariant('sg', 'gemm_sg', () => true),
  {
    name: 'wgtile', kernels: ['gemm_wgtile'], fits: () => true, grid: wgtileGrid,
    requires: { limits: { maxComputeWorkgroupStorageSize: 8192, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 16, maxComputeWorkgroupSizeY: 16 } },
    overrides: (g) => ({ TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0 }),
    run: (g, t, ov) => launch('gemm_wgtile', g, t, ov, wgtileGrid(g)),
  },
  {
    name: 'tiled', kernels: ['gemm_tiled'], fits: () => true, grid: tiledGrid,
    overrides: (g) => ({ TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0 }),
    run: (g, t, ov) => launch('gemm_tiled', g, t, ov, tiledGrid(g, ov)),
  },
], (g) => `${g.batch > 1 ? `${g.batch} x ` : ''}${g.m}x${g.n}x${g.k}${g.transA ? ' A^T' : ''}${g.transB ? ' B^T' : ''}`);

/** The geometry of a GEMM call with its defaults filled in. */
export function gemmGeom(g: GemmArgs): GemmGeom {
  const { m, n, k } = g;
  const transA = g.transA ?? false, transB = g.transB ?? false;
  return {
    m, n, k, transA, transB, lda: g.lda ?? (transA ? m : k), ldb: g.ldb ?? (transB ? k : n), ldc: g.ldc ?? n,
    batch: g.batch ?? 1, sA: g.strideA ?? m * k, sB: g.strideB ?? k * n, sC: g.strideC ?? m * n, bias: !!g.bias,
  };
}

/** C[b] = op(A[b]) op(B[b]) (+ bias). No tape. */
export function gemm(g: GemmArgs): void {
  if (g.m === 0 || g.n === 0) return;
  if (g.k === 0) throw new Error('gemm: K = 0');
  gemmFamily.run(gemmGeom(g), { a: g.a, b: g.b, c: g.c, bias: g.bias ?? null });
}

/** [m, k] x [k, n] -> [m, n] */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'a', a); checkTensor('matmul', 'b', b);
  checkF32('matmul', 'a', a); checkF32('matmul', 'b', b);
  checkRank('matmul', 'a', a, 2); checkRank('matmul', 'b', b, 2);
  const [m, k] = a.shape as [number, number];
  const [k2, n] = b.shape as [number, number];
  if (k !== k2) throw opError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  const c = Tensor.empty([m, n]);
  gemm({ a, b, c, m, n, k });
  record('matmul', [a, b], c, [a, b], (dy, [sa, sb], needs) => {
    let da: Tensor | null = null, db: Tensor | null = null;
    if (needs[0]) { da = Tensor.empty([m, k]); gemm({ a: dy, b: sb!, c: da, m, n: k, k: n, transB: true }); }
    if (needs[1]) { db = Tensor.empty([k, n]); gemm({ a: sa!, b: dy, c: db, m: k, n, k: m, transA: true }); }
    return [da, db];
  });
  return c;
}

/** y = x W^T + b with PyTorch's layout: x [batch, in], W [out, in], b [out]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor('linear', 'x', x); checkTensor('linear', 'weight', w);
  checkRank('linear', 'x', x, 2); checkRank('linear', 'weight', w, 2);
  checkF32('linear', 'x', x); checkF32('linear', 'weight', w);
  const [rows, inF] = x.shape as [number, number];
  const [outF, inW] = w.shape as [number, number];
  if (inF !== inW) throw opError('linear', `input ${x.label()} has ${inF} features but weight ${w.label()} expects ${inW}`);
  if (bias) {
    checkTensor('linear', 'bias', bias);
    if (bias.shape.length !== 1 || bias.shape[0] !== outF) throw opError('linear', `bias ${bias.label()} must be [${outF}]`);
  }
  const y = Tensor.empty([rows, outF]);
  gemm({ a: x, b: w, c: y, m: rows, n: outF, k: inF, transB: true, bias });
  const inputs = bias ? [x, w, bias] : [x, w];
  record('linear', inputs, y, [x, w], (dy, [sx, sw], needs) => {
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (needs[0]) { dx = Tensor.empty([rows, inF]); gemm({ a: dy, b: sw!, c: dx, m: rows, n: inF, k: outF }); }
    if (needs[1]) { dw = Tensor.empty([outF, inF]); gemm({ a: dy, b: sx!, c: dw, m: outF, n: inF, k: rows, transA: true }); }
    if (bias && needs[2]) db = noGrad(() => sum(dy, 0));
    return [dx, dw, db];
  });
  return y;
}
