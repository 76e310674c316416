// Every op of the engine core: GPU forward vs the float64 twin, and autograd gradients vs central
// differences of the twin (gradcheck prints one grad-report line per case with the worst coordinate).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { nudgeAwayFromKinks } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(7);
const randn = (n: number, s = 1) => { const a = new Float64Array(n); rng.fillNormal(a); for (let i = 0; i < n; i++) a[i]! *= s; return a; };
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

test.before(setupGpu);
test.after(teardownGpu);

// [2, 4, 4] and [4, 33] take the vec4 kernels; the others the scalar ones.
for (const shape of [[1], [7], [3, 33], [2, 3, 5, 7], [2, 4, 4], [4, 33]]) {
  const n = prod(shape);
  test(`add/sub/mul/affine ${shape}`, async () => {
    await checkOp({ name: `add ${shape}`, xs: [randn(n), randn(n)], shapes: [shape, shape], gpu: ([a, b]) => ops.add(a!, b!), ref: ([a, b]) => R.add(a!, b!) });
    await checkOp({ name: `sub ${shape}`, xs: [randn(n), randn(n)], shapes: [shape, shape], gpu: ([a, b]) => ops.sub(a!, b!),
      ref: ([a, b]) => a!.map((v, i) => v - b![i]!) });
    await checkOp({ name: `mul ${shape}`, xs: [randn(n), randn(n)], shapes: [shape, shape], gpu: ([a, b]) => ops.mul(a!, b!), ref: ([a, b]) => R.mulFwd(a!, b!) });
    await checkOp({ name: `affine ${shape}`, xs: [randn(n)], shapes: [shape], gpu: ([a]) => ops.affine(a!, -1.5, 0.25),
      ref: ([a]) => a!.map((v) => -1.5 * v + 0.25) });
    await checkOp({ name: `scale ${shape}`, xs: [randn(n)], shapes: [shape], gpu: ([a]) => ops.scale(a!, 3), ref: ([a]) => R.scaleFwd(a!, 3) });
  });
  test(`relu ${shape}`, async () => {
    const x = nudgeAwayFromKinks(randn(n), 1e-3);
    await checkOp({ name: `relu ${shape}`, xs: [x], shapes: [shape], gpu: ([a]) => ops.relu(a!), ref: ([a]) => R.reluFwd(a!) });
  });
}

test('reshape and flatten pass gradients through', async () => {
  await checkOp({ name: 'reshape [2,3,4]->[6,4]', xs: [randn(24)], shapes: [[2, 3, 4]], gpu: ([a]) => ops.mul(ops.reshape(a!, [6, -1]), ops.reshape(a!, [6, 4])),
    ref: ([a]) => R.mulFwd(a!, a!) });
  await checkOp({ name: 'flatten [3,2,2,2]', xs: [randn(24)], shapes: [[3, 2, 2, 2]], gpu: ([a]) => ops.relu(ops.flatten(a!)), ref: ([a]) => R.reluFwd(a!),
    fwd: { atol: 1e-6, rtol: 1e-5 } });
});

const reduceCases: [number[], number[]][] = [[[7], [0]], [[3, 33], [1]], [[3, 33], [0]], [[2, 3, 5, 7], [0, 2, 3]], [[2, 3, 5, 7], [1, 3]], [[4, 65], [0, 1]], [[1, 127], [1]]];
for (const [shape, axes] of reduceCases) {
  test(`sum/mean ${shape} axes ${axes}`, async () => {
    const n = prod(shape);
    await checkOp({ name: `sum ${shape} axes ${axes}`, xs: [randn(n)], shapes: [shape], gpu: ([a]) => ops.sum(a!, axes), ref: ([a]) => R.sumAxes(a!, shape, axes).y });
    await checkOp({ name: `mean ${shape} axes ${axes} keep`, xs: [randn(n)], shapes: [shape], gpu: ([a]) => ops.mean(a!, axes, true),
      ref: ([a]) => R.meanAxes(a!, shape, axes, true).y });
  });
}
test('sum of 100000 elements (multi-run reduction, float32 accumulation)', async () => {
  const n = 100000;
  // sqrt(n) * 2^-24 * sum|x| bounds the float32 error of a tree/strided sum.
  await checkOp({ name: 'sum [100000]', xs: [randn(n)], shapes: [[n]], gpu: ([a]) => ops.sum(a!), ref: ([a]) => R.sumAxes(a!, [n], [0]).y,
    fwd: { atol: 1e-2, rtol: 1e-4 }, grad: { maxCoords: 8 } });
});

for (const [n, c, h, w] of [[1, 1, 1, 1], [2, 3, 5, 7], [3, 5, 8, 8]] as const) {
  test(`globalAvgPool ${[n, c, h, w]}`, async () => {
    await checkOp({ name: `globalAvgPool ${[n, c, h, w]}`, xs: [randn(n * c * h * w)], shapes: [[n, c, h, w]], gpu: ([a]) => ops.globalAvgPool(a!),
      ref: ([a]) => R.globalAvgPoolFwd(a!, n, c, h * w) });
  });
}

const poolCases = [
  { n: 2, c: 3, h: 8, w: 8, k: 3, s: 2, p: 1 },
  { n: 1, c: 2, h: 7, w: 9, k: 3, s: 2, p: 1 },
  { n: 1, c: 1, h: 5, w: 5, k: 2, s: 2, p: 0 },
  { n: 2, c: 2, h: 6, w: 5, k: 3, s: 1, p: 1 },
];
for (const q of poolCases) {
  test(`maxPool2d ${JSON.stringify(q)}`, async () => {
    const shape = { n: q.n, c: q.c, h: q.h, w: q.w, kh: q.k, kw: q.k, sh: q.s, sw: q.s, ph: q.p, pw: q.p };
    // Distinct values spaced well beyond eps, so no window has a tie the FD step could flip.
    const x = new Float64Array(q.n * q.c * q.h * q.w).map((_, i) => i * 0.01);
    for (let i = x.length - 1; i > 0; i--) { const j = Math.floor(rng.uniform() * (i + 1)); const t = x[i]!; x[i] = x[j]!; x[j] = t; }
    await checkOp({ name: `maxPool2d k${q.k} s${q.s} p${q.p} ${[q.n, q.c, q.h, q.w]}`, xs: [x], shapes: [[q.n, q.c, q.h, q.w]],
      gpu: ([a]) => ops.maxPool2d(a!, { kernel: q.k, stride: q.s, padding: q.p }), ref: ([a]) => R.maxPool2dFwd(a!, shape).y });
  });
}

for (const [rows, d] of [[1, 1], [3, 7], [5, 65], [2, 300]] as const) {
  test(`l2Normalize [${rows},${d}]`, async () => {
    await checkOp({ name: `l2Normalize [${rows},${d}]`, xs: [randn(rows * d)], shapes: [[rows, d]], gpu: ([a]) => ops.l2Normalize(a!),
      ref: ([a]) => R.l2NormalizeFwd(a!, rows, d) });
  });
}

for (const [rows, d] of [[1, 3], [4, 7], [8, 65]] as const) {
  test(`losses [${rows},${d}]`, async () => {
    await checkOp({ name: `mseLoss [${rows},${d}]`, xs: [randn(rows * d), randn(rows * d)], shapes: [[rows, d], [rows, d]],
      gpu: ([a, b]) => ops.mseLoss(a!, b!), ref: ([a, b]) => R.mseFwd(a!, b!) });
    await checkOp({ name: `cosineRegressionLoss [${rows},${d}]`, xs: [randn(rows * d), randn(rows * d)], shapes: [[rows, d], [rows, d]],
      gpu: ([a, b]) => ops.cosineRegressionLoss(a!, b!), ref: ([a, b]) => R.cosineRegressionFwd(a!, b!, rows, d) });
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 5 + 1) % d);
    await checkOp({ name: `crossEntropy [${rows},${d}]`, xs: [randn(rows * d, 2)], shapes: [[rows, d]],
      gpu: ([a]) => ops.crossEntropy(a!, labels), ref: ([a]) => R.crossEntropyFwd(a!, labels, rows, d) });
  });
}

// hw % 4 == 0 (16, 4) takes the vec4 batchnorm kernels.
// [4, 2, 4096] reduces with 256-lane workgroups, the small ones with 32.
const bnCases: [number, number, number][] = [[2, 3, 1], [4, 5, 1], [2, 3, 25], [3, 4, 7], [1, 2, 9], [2, 3, 16], [3, 2, 4], [4, 2, 4096]];
for (const [n, c, hw] of bnCases) {
  const shape = hw === 1 ? [n, c] : hw === 25 ? [n, c, 5, 5] : hw === 16 ? [n, c, 4, 4] : hw === 4096 ? [n, c, 64, 64] : [n, c, hw, 1];
  test(`batchNorm train/eval ${shape}`, async () => {
    const gamma = randn(c), beta = randn(c), rm = randn(c, 0.1), rv = Float64Array.from(randn(c), (v) => 0.5 + v * v);
    const eps = 1e-5;
    const mk = (a: Float64Array) => Tensor.fromArray(Float32Array.from(a), [c]);
    for (const training of [true, false]) {
      const rmT = mk(rm), rvT = mk(rv);
      await checkOp({
        name: `batchNorm ${training ? 'train' : 'eval'} ${shape}`, xs: [randn(n * c * hw), gamma, beta], shapes: [shape, [c], [c]],
        gpu: ([x, g, b]) => ops.batchNorm(x!, g!, b!, rmT, rvT, { training, eps }),
        ref: ([x, g, b]) => (training ? R.bnFwdTrain(x!, g!, b!, n, c, hw, eps).y : R.bnFwdEval(x!, g!, b!, rm, rv, n, c, hw, eps)),
        // Normalising by a batch std of few values amplifies float32 rounding.
        fwd: { atol: 1e-4, rtol: 1e-3 }, grad: { atol: 5e-4, rtol: 5e-3 },
      });
      rmT.dispose(); rvT.dispose();
    }
  });
}

test('batchNorm updates running statistics like PyTorch', async () => {
  const n = 4, c = 3, hw = 6;
  const x = randn(n * c * hw), g = randn(c), b = randn(c), rm = randn(c), rv = Float64Array.from(randn(c), (v) => 1 + v * v);
  const want = R.bnRunningUpdate(rm, rv, ...(() => { const r = R.bnFwdTrain(x, g, b, n, c, hw, 1e-5); return [r.mean, r.varUnbiased] as const; })(), 0.1);
  const rmT = Tensor.fromArray(Float32Array.from(rm), [c]), rvT = Tensor.fromArray(Float32Array.from(rv), [c]);
  const xT = Tensor.fromArray(Float32Array.from(x), [n, c, 2, 3]);
  const gT = Tensor.fromArray(Float32Array.from(g), [c]), bT = Tensor.fromArray(Float32Array.from(b), [c]);
  const y = ops.batchNorm(xT, gT, bT, rmT, rvT, { training: true, momentum: 0.1 });
  const gotM = await rmT.read(), gotV = await rvT.read();
  for (let i = 0; i < c; i++) {
    assert.ok(Math.abs(gotM[i]! - want.runMean[i]!) < 1e-5, `running_mean[${i}] ${gotM[i]} vs ${want.runMean[i]}`);
    assert.ok(Math.abs(gotV[i]! - want.runVar[i]!) < 1e-4, `running_var[${i}] ${gotV[i]} vs ${want.runVar[i]}`);
  }
  for (const t of [y, rmT, rvT, xT, gT, bT]) t.dispose();
});

test('bad inputs name the op and the shapes', () => {
  const a = Tensor.fromArray(new Float32Array(6), [2, 3]), b = Tensor.fromArray(new Float32Array(6), [3, 2]);
  assert.throws(() => ops.add(a, b), /add: shapes differ: \[2, 3\] vs \[3, 2\]/);
  assert.throws(() => (ops.add as (...x: unknown[]) => Tensor)(a), /add: expects 2 arguments, got 1/);
  assert.throws(() => (ops.relu as (x: unknown) => Tensor)(new Float32Array(3)), /relu: argument x must be a Tensor/);
  assert.throws(() => ops.reshape(a, [4, 2]), /reshape: cannot reshape .*\[2, 3\].* to \[4, 2\]/);
  assert.throws(() => ops.globalAvgPool(a), /globalAvgPool: argument x must have rank 4/);
  assert.throws(() => ops.crossEntropy(a, Int32Array.of(0, 3)), /crossEntropy: label 3 at row 1 outside \[0, 3\)/);
  const lab = Tensor.fromArray(Int32Array.of(0, 1), [2], 'i32');
  assert.throws(() => ops.relu(lab), /relu: argument x .* must be float32, got i32/);
  assert.throws(() => ops.sum(a, 2), /sum: axis 2 out of range for shape \[2, 3\]/);
  for (const t of [a, b, lab]) t.dispose();
});

test.run();
