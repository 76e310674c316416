// GEMM launcher and the ops built on it: matmul and linear (x W^T + b), with every transpose case their
// backward needs. The variant is chosen by shape and adapter: vec4 loads when everything is 4-aligned.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream } from '../gpu/stream.js';
import { gpuContext } from '../gpu/device.js';
import { tuned } from '../gpu/tuning.js';
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
  accumulate?: boolean;
}


const MAX_GRID = 65535;

let forced: 'gemm_sg_v4' | 'gemm_sg' | 'gemm_tiled' | null = null;
/** Tests and benches: run every GEMM on one variant (null restores the shape-based choice). */
export function setGemmVariant(v: 'gemm_sg_v4' | 'gemm_sg' | 'gemm_tiled' | null): void {
  forced = v;
}

/** Fold `tiles` row tiles over y and z (z also carries the batch). */
export function foldRows(tiles: number, batch: number): { ygrid: number; zfold: number } {
  const zfold = Math.ceil(tiles / MAX_GRID);
  const ygrid = Math.ceil(tiles / zfold);
  if (batch * zfold > MAX_GRID) throw new Error(`gemm: batch ${batch} x row folds ${zfold} exceeds ${MAX_GRID} workgroups in z`);
  return { ygrid, zfold };
}

/** C[b] (= or +=) op(A[b]) op(B[b]) (+ bias). No tape. */
export function gemm(g: GemmArgs): void {
  const { m, n, k } = g;
  const transA = g.transA ?? false, transB = g.transB ?? false;
  const lda = g.lda ?? (transA ? m : k);
  const ldb = g.ldb ?? (transB ? k : n);
  const ldc = g.ldc ?? n;
  const batch = g.batch ?? 1;
  const sA = g.strideA ?? m * k, sB = g.strideB ?? k * n, sC = g.strideC ?? m * n;
  if (m === 0 || n === 0) return;
  const aligned = k % 4 === 0 && n % 4 === 0 && (!transA || m % 4 === 0) && [lda, ldb, ldc, sA, sB, sC].every((v) => v % 4 === 0);
  const sub = gpuContext().features.has('subgroups');
  let name: 'gemm_sg_v4' | 'gemm_sg' | 'gemm_tiled' = sub ? (aligned ? 'gemm_sg_v4' : 'gemm_sg') : 'gemm_tiled';
  if (forced) {
    if (forced === 'gemm_sg_v4' && !aligned) throw new Error('gemm: gemm_sg_v4 forced on a shape that is not 4-aligned');
    if (forced !== 'gemm_tiled' && !sub) throw new Error(`gemm: ${forced} needs the subgroups feature`);
    name = forced;
  }
  const ov: Record<string, number> = { ...tuned(name), TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 };
  // Columns per workgroup and rows per workgroup of each variant (see the kernel headers).
  const cols = name === 'gemm_tiled' ? 4 * (ov.WGX ?? 8) : 4 * (ov.WG ?? 8);
  const rows = name === 'gemm_tiled' ? 4 * (ov.WGY ?? 8) : 16;
  const { ygrid, zfold } = foldRows(Math.ceil(m / rows), batch);
  const bias = g.bias ?? null;
  if (k === 0) throw new Error('gemm: K = 0');
  stream.dispatch(name, ov, {
    M: m, N: n, K: k, batch, lda, ldb, ldc, use_bias: bias ? 1 : 0, sA, sB, sC, accumulate: g.accumulate ? 1 : 0, ygrid, zfold,
  }, [g.a.binding, g.b.binding, (bias ?? dummyTensor()).binding, g.c.binding], [Math.ceil(n / cols), ygrid, batch * zfold],
  { flops: 2 * m * n * k * batch, bytes: 4 * batch * (m * k + k * n + m * n) });
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
