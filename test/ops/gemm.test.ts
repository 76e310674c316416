// matmul and linear: forward vs the float64 twin on odd and tile-boundary shapes (every variant the launcher
// can pick: aligned vec4 and scalar), gradients vs finite differences of the twin.
import { test } from 'uvu';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { gemm, setGemmVariant } from '../../src/ops/gemm.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { Rng } from '../helpers/rng.js';
import * as assert from 'uvu/assert';

const rng = new Rng(11);
const randn = (n: number) => rng.fillNormal(new Float64Array(n));

test.before(setupGpu);
test.after(teardownGpu);

// float32 dot products of K terms of unit-normal values: error ~ sqrt(K) * 2^-24 * K (sum of |terms|); 2e-6*K is generous.
const tol = (k: number) => ({ atol: 2e-6 * k + 1e-6, rtol: 1e-4 });

const dims = [1, 3, 7, 16, 31, 33, 65, 127];
const shapes: [number, number, number][] = [];
for (const m of dims) for (const n of [1, 4, 33, 64]) for (const k of [1, 4, 31, 65]) if ((m * n * k) % 3 === 0 || m === 127 || k === 4) shapes.push([m, n, k]);
shapes.push([128, 128, 128], [1, 1, 1], [200, 36, 520], [4, 4, 4], [16, 64, 4], [32, 36, 68], [68, 4, 132], [4, 260, 8]);

for (const variant of ['gemm_sg_v4', 'gemm_sg', 'gemm_tiled'] as const) for (const transA of [false, true]) for (const transB of [false, true]) {
  test(`${variant} vs twin, transA=${transA} transB=${transB} (odd and tile-boundary shapes)`, async () => {
    setGemmVariant(variant);
    // The vec4 variant takes only 4-aligned shapes; the others take every shape.
    const mine = variant === 'gemm_sg_v4' ? shapes.filter(([m, n, k]) => k % 4 === 0 && n % 4 === 0 && (!transA || m % 4 === 0)) : shapes;
    assert.ok(mine.length >= 8);
    for (const [m, n, k] of mine) {
      const a = randn(m * k), b = randn(k * n), bias = randn(n);
      const at = Tensor.fromArray(Float32Array.from(a), transA ? [k, m] : [m, k]);
      const bt = Tensor.fromArray(Float32Array.from(b), transB ? [n, k] : [k, n]);
      const bb = Tensor.fromArray(Float32Array.from(bias), [n]);
      const c = Tensor.empty([m, n]);
      gemm({ a: at, b: bt, c, m, n, k, transA, transB, bias: bb });
      const want = R.matmul(a, b, m, k, n, transA, transB);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j]! += bias[j]!;
      assertClose(`gemm ${m}x${n}x${k} tA=${transA} tB=${transB}`, await toHost(c), want, tol(k).atol, tol(k).rtol);
      // accumulate: C += A B
      gemm({ a: at, b: bt, c, m, n, k, transA, transB, accumulate: true });
      const want2 = R.matmul(a, b, m, k, n, transA, transB).map((v, i) => v + want[i]!);
      assertClose(`gemm += ${m}x${n}x${k}`, await toHost(c), want2, 2 * tol(k).atol, tol(k).rtol);
      for (const t of [at, bt, bb, c]) t.dispose();
    }
    setGemmVariant(null);
  });
}

test('batched gemm with a broadcast operand (stride 0) and > 65535 row tiles folded into z', async () => {
  const m = 5, n = 8, k = 12, batch = 3;
  const a = randn(m * k), b = randn(batch * k * n);
  const at = Tensor.fromArray(Float32Array.from(a), [m, k]);
  const bt = Tensor.fromArray(Float32Array.from(b), [batch, k, n]);
  const c = Tensor.empty([batch, m, n]);
  gemm({ a: at, b: bt, c, m, n, k, batch, strideA: 0 });
  const got = await toHost(c);
  for (let i = 0; i < batch; i++) {
    const want = R.matmul(a, b.subarray(i * k * n, (i + 1) * k * n), m, k, n);
    assertClose(`batch ${i}`, got.subarray(i * m * n, (i + 1) * m * n), want, tol(k).atol, tol(k).rtol);
  }
  for (const t of [at, bt, c]) t.dispose();
  // 65535 * 16 + 5 rows: the row tiles need two z folds.
  const M = 65535 * 16 + 5, N = 4, K = 4;
  const A = Float32Array.from({ length: M * K }, (_, i) => ((i * 7) % 13) - 6);
  const Bm = Float32Array.from({ length: K * N }, (_, i) => (i % 5) - 2);
  const At = Tensor.fromArray(A, [M, K]), Bt = Tensor.fromArray(Bm, [K, N]), Ct = Tensor.empty([M, N]);
  gemm({ a: At, b: Bt, c: Ct, m: M, n: N, k: K });
  const h = await Ct.read();
  for (const row of [0, 65535 * 16 - 1, 65535 * 16, M - 1]) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let q = 0; q < K; q++) s += A[row * K + q]! * Bm[q * N + j]!;
      assert.is(h[row * N + j], s, `row ${row} col ${j}`);
    }
  }
  for (const t of [At, Bt, Ct]) t.dispose();
});

for (const [m, k, n] of [[1, 1, 1], [3, 7, 5], [8, 32, 16], [33, 65, 7]] as const) {
  test(`matmul and linear gradients [${m},${k}]x[${k},${n}]`, async () => {
    await checkOp({ name: `matmul [${m},${k}]x[${k},${n}]`, xs: [randn(m * k), randn(k * n)], shapes: [[m, k], [k, n]],
      gpu: ([a, b]) => ops.matmul(a!, b!), ref: ([a, b]) => R.matmul(a!, b!, m, k, n), fwd: tol(k) });
    await checkOp({ name: `linear x[${m},${k}] W[${n},${k}] +b`, xs: [randn(m * k), randn(n * k), randn(n)], shapes: [[m, k], [n, k], [n]],
      gpu: ([x, w, b]) => ops.linear(x!, w!, b!), ref: ([x, w, b]) => R.linearFwd(x!, w!, b!, m, k, n), fwd: tol(k) });
  });
}

test('matmul/linear bad shapes name the op', () => {
  const a = Tensor.empty([2, 3]), b = Tensor.empty([4, 5]);
  assert.throws(() => ops.matmul(a, b), /matmul: inner dimensions differ: \[2, 3\] x \[4, 5\]/);
  assert.throws(() => ops.linear(a, b), /linear: input .*\[2, 3\] has 3 features but weight .*\[4, 5\] expects 5/);
  a.dispose(); b.dispose();
});

test.run();
