// GEMM variants: every variant of the family, forced in turn, against the float64 twin on odd and tile-boundary
// shapes (every transpose case, with bias), outputs NaN-poisoned; each case asserts the variant that ran.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { gemm, gemmFamily, gemmGeom } from '../../src/ops/gemm.js';
import { lastVariant, supports, adapterCaps } from '../../src/gpu/variants.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { Rng } from '../helpers/rng.js';

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

for (const v of gemmFamily.variants) for (const transA of [false, true]) for (const transB of [false, true]) {
  test(`gemm/${v.name} vs twin, transA=${transA} transB=${transB} (odd and tile-boundary shapes)`, async () => {
    const s = supports(v as never, adapterCaps());
    assert.ok(s === true, `gemm/${v.name} cannot run on this adapter: ${s}`);
    gemmFamily.force(v.name);
    let ran = 0;
    try {
      for (const [m, n, k] of shapes) {
        const geom = gemmGeom({ a: null!, b: null!, c: null!, m, n, k, transA, transB, bias: null });
        if (v.fits(geom) !== true) continue;
        const a = randn(m * k), b = randn(k * n), bias = randn(n);
        const at = Tensor.fromArray(Float32Array.from(a), transA ? [k, m] : [m, k]);
        const bt = Tensor.fromArray(Float32Array.from(b), transB ? [n, k] : [k, n]);
        const bb = Tensor.fromArray(Float32Array.from(bias), [n]);
        const c = Tensor.empty([m, n]);
        gemm({ a: at, b: bt, c, m, n, k, transA, transB, bias: bb });
        assert.is(lastVariant('gemm'), v.name);
        const want = R.matmul(a, b, m, k, n, transA, transB);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j]! += bias[j]!;
        assertClose(`gemm/${v.name} ${m}x${n}x${k} tA=${transA} tB=${transB}`, await toHost(c), want, tol(k).atol, tol(k).rtol);
        // Without bias, into a poisoned output again.
        const c2 = Tensor.empty([m, n]);
        gemm({ a: at, b: bt, c: c2, m, n, k, transA, transB });
        assertClose(`gemm/${v.name} no bias ${m}x${n}x${k}`, await toHost(c2), R.matmul(a, b, m, k, n, transA, transB), tol(k).atol, tol(k).rtol);
        for (const t of [at, bt, bb, c, c2]) t.dispose();
        ran++;
      }
    } finally {
      gemmFamily.force(null);
    }
    // Every variant takes every 4-aligned shape at least; the list has 20 of those.
    assert.ok(ran >= 8, `only ${ran} shapes fit gemm/${v.name}`);
  });

  test(`gemm/${v.name}: batched with a broadcast operand (stride 0) and leading dimensions`, async () => {
    if (transA || transB) return;
    gemmFamily.force(v.name);
    try {
      const m = 8, n = 8, k = 12, batch = 3;
      const a = randn(m * k), b = randn(batch * k * n);
      const at = Tensor.fromArray(Float32Array.from(a), [m, k]);
      const bt = Tensor.fromArray(Float32Array.from(b), [batch, k, n]);
      const c = Tensor.empty([batch, m, n]);
      gemm({ a: at, b: bt, c, m, n, k, batch, strideA: 0 });
      assert.is(lastVariant('gemm'), v.name);
      const got = await toHost(c);
      for (let i = 0; i < batch; i++) {
        const want = R.matmul(a, b.subarray(i * k * n, (i + 1) * k * n), m, k, n);
        assertClose(`batch ${i}`, got.subarray(i * m * n, (i + 1) * m * n), want, tol(k).atol, tol(k).rtol);
      }
      // A sub-block through leading dimensions: C[0:5, 0:4] = A[0:5, 0:8] B[0:8, 0:4] inside larger arrays.
      const lda = 12, ldb = 8, ldc = 8;
      const c2 = Tensor.empty([5, ldc]);
      gemm({ a: at, b: bt, c: c2, m: 5, n: 4, k: 8, lda, ldb, ldc });
      const h = await toHost(c2);
      for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let q = 0; q < 8; q++) s += a[i * lda + q]! * b[q * ldb + j]!;
        assert.ok(Math.abs(h[i * ldc + j]! - s) <= tol(8).atol + 1e-4 * Math.abs(s), `ld case (${i},${j}): ${h[i * ldc + j]} vs ${s}`);
      }
      for (const t of [at, bt, c, c2]) t.dispose();
    } finally {
      gemmFamily.force(null);
    }
  });
}

test('gemm: > 65535 row tiles fold into z and reach every row', async () => {
  // 65535 * 16 + 5 rows: the row tiles need two z folds for the 16-row variants.
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
      assert.is(h[row * N + j], s, `row ${row} col ${j} (variant ${lastVariant('gemm')})`);
    }
  }
  for (const t of [At, Bt, Ct]) t.dispose();
});

test('gemm: selection takes the first variant that fits (vec4 when aligned, scalar loads otherwise)', () => {
  const caps = adapterCaps();
  const aligned = gemmGeom({ a: null!, b: null!, c: null!, m: 8, n: 8, k: 8 });
  const odd = gemmGeom({ a: null!, b: null!, c: null!, m: 8, n: 7, k: 8 });
  const runnable = gemmFamily.order().filter((v) => supports(v as never, caps) === true);
  assert.is(gemmFamily.choose(aligned).name, runnable.find((v) => v.fits(aligned) === true)!.name);
  assert.is(gemmFamily.choose(odd).name, runnable.find((v) => v.fits(odd) === true)!.name);
  assert.ok(gemmFamily.variant('sg_v4').fits(odd) !== true, 'sg_v4 must refuse N = 7');
  gemmFamily.force('sg_v4');
  try {
    assert.throws(() => gemmFamily.choose(odd), /gemm\/sg_v4 was forced but does not fit 8x7x8: K, N/);
  } finally {
    gemmFamily.force(null);
  }
});

test.run();
