// Elementwise and batch-norm variants: every elementwise family (one vec4 variant each, any size: the last vec4
// runs into the padding) and both batch-norm variants (vec4 where hw % 4 == 0, scalar), forced, against the
// float64 twins on odd sizes with NaN-poisoned outputs; each case asserts the variant that ran.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/autograd/scope.js';
import { lastVariant, family, type Family } from '../../src/gpu/variants.js';
import { sgdStepRaw } from '../../src/optim/sgd_kernel.js';
import { reluBwdRaw } from '../../src/ops/elementwise.js';
import { bnStatsFamily, bnApplyFamily, bnBwdReduceFamily, bnBwdDataFamily } from '../../src/ops/batchnorm.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { nudgeAwayFromKinks } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(21);
const randn = (n: number, s = 1) => { const a = rng.fillNormal(new Float64Array(n)); for (let i = 0; i < n; i++) a[i]! *= s; return a; };
const up = (a: Float64Array, shape = [a.length]) => Tensor.fromArray(Float32Array.from(a), shape);

test.before(setupGpu);
test.after(teardownGpu);

const SIZES = [1, 2, 3, 5, 7, 31, 33, 65, 127, 1000];

/** One elementwise family: run it on uploaded inputs (outputs start NaN) and return what the twin says. */
interface Case { run: (n: number) => Promise<{ got: Float64Array; want: Float64Array }>; atol?: number; rtol?: number }
const unary = (f: (t: Tensor) => Tensor, ref: (x: Float64Array) => Float64Array, scale = 3): Case['run'] => async (n) => {
  const x = nudgeAwayFromKinks(randn(n, scale), 1e-3);
  const xt = up(x);
  const y = f(xt);
  const got = await toHost(y);
  xt.dispose(); y.dispose();
  return { got, want: ref(x) };
};
/** Backward kernels through the op's tape: dx for a random dy. */
const grad = (f: (t: Tensor) => Tensor, ref: (x: Float64Array, dy: Float64Array) => Float64Array, scale = 3): Case['run'] => async (n) => {
  const x = nudgeAwayFromKinks(randn(n, scale), 1e-3), dy = randn(n);
  const xt = up(x); xt.requiresGrad = true;
  const dyt = up(dy);
  const y = tidy(() => f(xt));
  backward(y, dyt);
  const got = await toHost(xt.grad!);
  for (const t of [xt, dyt, y]) t.dispose();
  return { got, want: ref(x, dy) };
};

const cases: Record<string, Case> = {
  relu_fwd: { run: unary(ops.relu, R.reluFwd) },
  relu_bwd: { run: async (n) => {
    const y = R.reluFwd(randn(n)), dy = randn(n);
    const yt = up(y), dyt = up(dy), dx = Tensor.empty([n]);
    reluBwdRaw(yt, dyt, dx);
    const got = await toHost(dx);
    for (const t of [yt, dyt, dx]) t.dispose();
    return { got, want: R.reluBwd(y, dy) };
  } },
  relu6_fwd: { run: unary(ops.relu6, R.relu6Fwd, 5) },
  relu6_bwd: { run: grad(ops.relu6, R.relu6Bwd, 5) },
  sigmoid_fwd: { run: unary(ops.sigmoid, R.sigmoidFwd), atol: 1e-6, rtol: 1e-5 },
  sigmoid_bwd: { run: grad(ops.sigmoid, R.sigmoidBwd), atol: 1e-6, rtol: 1e-5 },
  silu_fwd: { run: unary(ops.silu, R.siluFwd), atol: 1e-6, rtol: 1e-5 },
  silu_bwd: { run: grad(ops.silu, R.siluBwd), atol: 1e-6, rtol: 1e-5 },
  mul: { run: async (n) => {
    const a = randn(n), b = randn(n);
    const at = up(a), bt = up(b), z = ops.mul(at, bt);
    const got = await toHost(z);
    for (const t of [at, bt, z]) t.dispose();
    return { got, want: R.mulFwd(a, b) };
  } },
  add_scaled: { run: async (n) => {
    const a = randn(n), b = randn(n);
    const at = up(a), bt = up(b), z = ops.sub(ops.affine(at, 0.5, 0.25), bt);
    const got = await toHost(z);
    for (const t of [at, bt, z]) t.dispose();
    return { got, want: a.map((v, i) => 0.5 * v + 0.25 - b[i]!) };
  } },
  axpy: { run: async (n) => {
    const a = randn(n), b = randn(n);
    const at = up(a), bt = up(b);
    ops.addInPlace(at, bt, -1.5);
    const got = await toHost(at);
    at.dispose(); bt.dispose();
    return { got, want: a.map((v, i) => v - 1.5 * b[i]!) };
  } },
  ema_update: { run: async (n) => {
    const a = randn(n), b = randn(n);
    const at = up(a), bt = up(b);
    ops.emaInPlace(at, bt, 0.9);
    const got = await toHost(at);
    at.dispose(); bt.dispose();
    return { got, want: a.map((v, i) => 0.9 * v + 0.1 * b[i]!) };
  } },
  fill: { run: async (n) => {
    const t = Tensor.empty([n]);
    ops.fillInPlace(t, -3.25);
    const got = await toHost(t);
    t.dispose();
    return { got, want: new Float64Array(n).fill(-3.25) };
  } },
  sgd_step: { run: async (n) => {
    const p = randn(n), g = randn(n), m = randn(n);
    const pt = up(p), gt = up(g), mt = up(m);
    sgdStepRaw(pt, gt, mt, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-2, nesterov: true, firstStep: false });
    const got = await toHost(pt);
    for (const t of [pt, gt, mt]) t.dispose();
    return { got, want: R.sgdStep(p, g, m, 0.1, 0.9, 0, 1e-2, true, false).param };
  } },
};

for (const [name, c] of Object.entries(cases)) {
  test(`${name}/vec4 vs twin on sizes ${SIZES.join(', ')}`, async () => {
    const fam = family(name) as Family<number, unknown>;
    fam.force('vec4');
    try {
      for (const n of SIZES) {
        const { got, want } = await c.run(n);
        assert.is(lastVariant(name), 'vec4');
        assertClose(`${name} n=${n}`, got, want, c.atol ?? 1e-6, c.rtol ?? 1e-6);
      }
    } finally {
      fam.force(null);
    }
  });
}

test('every elementwise family has a case here', async () => {
  const { families } = await import('../../src/gpu/variants.js');
  const elementwise = families().filter((f) => f.variants.length === 1 && f.variants[0]!.name === 'vec4').map((f) => f.name);
  for (const f of elementwise) assert.ok(f in cases, `elementwise family ${f} has no case in test/kernels/elementwise.test.ts`);
});

// Batch norm: [n, c, hw]; hw % 4 == 0 fits the vec4 variants, the rest only the scalar ones.
const bnCases: [number, number, number][] = [[2, 3, 4], [3, 5, 7], [2, 4, 16], [1, 3, 9], [4, 33, 1], [5, 2, 12], [2, 7, 25]];
const bnFamilies = [bnStatsFamily, bnApplyFamily, bnBwdReduceFamily, bnBwdDataFamily] as Family<unknown, unknown>[];

for (const kind of ['vec4', 'scalar']) {
  test(`batchnorm/${kind}: train and eval forward and backward vs twin`, async () => {
    for (const f of bnFamilies) f.force(kind);
    let ran = 0;
    try {
      for (const [n, c, hw] of bnCases) {
        if (kind === 'vec4' && hw % 4 !== 0) continue;
        const shape = hw === 1 ? [n, c] : [n, c, hw / (hw % 2 === 0 ? 2 : 1), hw % 2 === 0 ? 2 : 1];
        const x = randn(n * c * hw, 2), gamma = randn(c), beta = randn(c), dy = randn(n * c * hw);
        const rm = randn(c), rv = randn(c).map((v) => 0.5 + Math.abs(v));
        for (const training of [true, false]) {
          const xt = up(x, shape), gt = up(gamma), bt = up(beta), rmt = up(rm), rvt = up(rv), dyt = up(dy, shape);
          xt.requiresGrad = true; gt.requiresGrad = true; bt.requiresGrad = true;
          const y = tidy(() => ops.batchNorm(xt, gt, bt, rmt, rvt, { training, eps: 1e-5, momentum: 0.1 }));
          const yh = await toHost(y);
          backward(y, dyt);
          for (const f of bnFamilies) if (training || f !== bnStatsFamily) assert.is(lastVariant(f.name), kind, `${f.name} ran ${lastVariant(f.name)}`);
          const tag = `bn ${kind} ${training ? 'train' : 'eval'} [${n},${c},${hw}]`;
          if (training) {
            const r = R.bnFwdTrain(x, gamma, beta, n, c, hw, 1e-5);
            assertClose(`${tag} y`, yh, r.y, 1e-5, 1e-4);
            const b = R.bnBwdTrain(x, dy, gamma, r.mean, r.invstd, n, c, hw);
            assertClose(`${tag} dx`, await toHost(xt.grad!), b.dx, 1e-4, 1e-3);
            assertClose(`${tag} dgamma`, await toHost(gt.grad!), b.dgamma, 1e-4, 1e-4);
            const ru = R.bnRunningUpdate(rm, rv, r.mean, r.varUnbiased, 0.1);
            assertClose(`${tag} running_var`, await toHost(rvt), ru.runVar, 1e-5, 1e-4);
          } else {
            assertClose(`${tag} y`, yh, R.bnFwdEval(x, gamma, beta, rm, rv, n, c, hw, 1e-5), 1e-5, 1e-4);
            const b = R.bnBwdEval(dy, x, gamma, rm, rv, n, c, hw, 1e-5);
            assertClose(`${tag} dx`, await toHost(xt.grad!), b.dx, 1e-5, 1e-4);
            assertClose(`${tag} dbeta`, await toHost(bt.grad!), b.dbeta, 1e-4, 1e-4);
          }
          for (const t of [xt, gt, bt, rmt, rvt, dyt, y]) t.dispose();
          ran++;
        }
      }
    } finally {
      for (const f of bnFamilies) f.force(null);
    }
    assert.ok(ran >= 4, `only ${ran} batch-norm cases for ${kind}`);
  });
}

test.run();
