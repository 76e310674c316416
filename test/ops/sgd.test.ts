// The SGD kernel (kernels/optim/sgd_step.wgsl via src/optim/sgd_kernel.ts) against the float64 twin of
// torch.optim.SGD (src/ref/sgd.ts): several steps with a changing lr, every option combination, sizes 1, 7, 1000.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sgdStep } from '../../src/ref/sgd.js';
import { sgdStepRaw, type SgdStepOptions } from '../../src/optim/sgd_kernel.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setupGpu, teardownGpu, toGpu, toHost, assertClose } from '../helpers/gpu.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(3);

test.before(setupGpu);
test.after(teardownGpu);

interface Cfg { momentum: number; dampening: number; weightDecay: number; nesterov: boolean }
const configs: Cfg[] = [
  { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
  { momentum: 0, dampening: 0, weightDecay: 1e-2, nesterov: false },
  { momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
  { momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false },
  { momentum: 0.9, dampening: 0, weightDecay: 5e-2, nesterov: true },
  { momentum: 0.9, dampening: 0.3, weightDecay: 1e-2, nesterov: false },
  { momentum: 0.5, dampening: 0.9, weightDecay: 0, nesterov: false },
];
const STEPS = 6;
// A cosine-like schedule: lr differs every step, through the Params uniform.
const lrAt = (t: number) => 0.05 + 0.1 * (1 + Math.cos((Math.PI * t) / STEPS)) / 2;

for (const cfg of configs) {
  for (const n of [1, 7, 1000]) {
    const label = `momentum ${cfg.momentum} dampening ${cfg.dampening} wd ${cfg.weightDecay}${cfg.nesterov ? ' nesterov' : ''} n=${n}`;
    test(`sgd ${label}: ${STEPS} steps vs twin`, async () => {
      let pRef: Float64Array = Float64Array.from(rng.normals(n), Math.fround);
      let bRef: Float64Array | null = null;
      const param = toGpu(pRef, [n]);
      // The buffer starts poisoned with NaN: the first step must overwrite it without reading it.
      const buf = cfg.momentum !== 0 ? Tensor.empty([n]) : null;
      for (let t = 0; t < STEPS; t++) {
        const g = rng.normals(n);
        const lr = lrAt(t);
        const grad = toGpu(g, [n]);
        const opts: SgdStepOptions = { lr, ...cfg, firstStep: t === 0 };
        sgdStepRaw(param, grad, buf, opts);
        grad.dispose();
        // The twin steps from the GPU's own float32 state, so the check is per step (no float32 drift).
        const r = sgdStep(pRef, g.map(Math.fround), bRef, lr, cfg.momentum, cfg.dampening, cfg.weightDecay, cfg.nesterov, t === 0);
        const got = await toHost(param);
        // One step is a handful of float32 operations on O(1) values: a few ulps of |param| plus lr*|update|.
        assertClose(`${label} step ${t} param`, got, r.param, 2e-6, 2e-6);
        pRef = got;
        if (buf) {
          const gotB = await toHost(buf);
          assertClose(`${label} step ${t} momentum buffer`, gotB, r.momBuf!, 2e-6, 2e-6);
          bRef = gotB;
        } else {
          assert.is(r.momBuf, null);
        }
      }
      param.dispose(); buf?.dispose();
    });
  }
}

test('sgd: many steps against a purely float64 twin stay within float32 drift', async () => {
  const n = 1000, steps = 30, cfg = { momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true };
  let p: Float64Array = Float64Array.from(rng.normals(n), Math.fround);
  let b: Float64Array | null = null;
  const param = toGpu(p, [n]);
  const buf = Tensor.empty([n]);
  for (let t = 0; t < steps; t++) {
    const g = Float64Array.from(rng.normals(n), Math.fround);
    const lr = 0.02 * (1 + Math.cos((Math.PI * t) / steps)) / 2;
    const grad = toGpu(g, [n]);
    sgdStepRaw(param, grad, buf, { lr, ...cfg, firstStep: t === 0 });
    grad.dispose();
    ({ param: p, momBuf: b } = sgdStep(p, g, b, lr, cfg.momentum, cfg.dampening, cfg.weightDecay, cfg.nesterov, t === 0));
  }
  // 30 steps of a few roundings each on |values| <= ~10 (the buffer sums up to 1/(1-0.9) gradients).
  assertClose('param after 30 steps', await toHost(param), p, 1e-5, 1e-5);
  assertClose('buffer after 30 steps', await toHost(buf), b!, 1e-5, 1e-5);
  param.dispose(); buf.dispose();
});

test('sgd: by hand, momentum 0.9 nesterov with weight decay (the twin is not the only oracle)', async () => {
  // p = 1, g = 0.5, wd = 0.1 -> d = 0.6; first step buf = 0.6; nesterov update = 0.6 + 0.9*0.6 = 1.14; p = 1 - 0.1*1.14
  const param = toGpu([1], [1]), grad = toGpu([0.5], [1]), buf = Tensor.empty([1]);
  const o = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.1, nesterov: true };
  sgdStepRaw(param, grad, buf, { ...o, firstStep: true });
  assertClose('p1', await toHost(param), [1 - 0.1 * 1.14], 1e-7, 0);
  assertClose('buf1', await toHost(buf), [0.6], 1e-7, 0);
  // second step: d = 0.5 + 0.1*0.886 = 0.5886; buf = 0.9*0.6 + 0.5886 = 1.1286; update = 0.5886 + 0.9*1.1286; lr now 0.2
  sgdStepRaw(param, grad, buf, { ...o, lr: 0.2, firstStep: false });
  const d = 0.5 + 0.1 * 0.886, bb = 0.9 * 0.6 + d;
  assertClose('p2', await toHost(param), [0.886 - 0.2 * (d + 0.9 * bb)], 1e-6, 0);
  assertClose('buf2', await toHost(buf), [bb], 1e-6, 0);
  for (const t of [param, grad, buf]) t.dispose();
});

test('sgd: momentum 0 needs no buffer and lr 0 leaves the parameter unchanged', async () => {
  const n = 7, p = rng.normals(n);
  const param = toGpu(p, [n]), grad = toGpu(rng.normals(n), [n]);
  sgdStepRaw(param, grad, null, { lr: 0, momentum: 0, dampening: 0, weightDecay: 0.1, nesterov: false, firstStep: true });
  assertClose('lr 0', await toHost(param), Float64Array.from(p, Math.fround), 0, 0);
  param.dispose(); grad.dispose();
});

test('sgd: bad arguments are rejected with the reason', () => {
  const p = toGpu([1, 2], [2]), g = toGpu([1, 2], [2]), g3 = toGpu([1, 2, 3], [3]), b = Tensor.empty([2]);
  const o: SgdStepOptions = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true };
  assert.throws(() => sgdStepRaw(p, g, null, o), /sgdStep: momentum 0.9 needs a momentum buffer/);
  assert.throws(() => sgdStepRaw(p, g3, b, o), /sgdStep: grad .* does not match param/);
  assert.throws(() => sgdStepRaw(p, g, b, { ...o, nesterov: true, dampening: 0.1 }), /nesterov requires momentum > 0 and dampening = 0/);
  assert.throws(() => sgdStepRaw(p, g, null, { ...o, momentum: 0, nesterov: true }), /nesterov requires momentum > 0/);
  assert.throws(() => sgdStepRaw(p, g, b, { ...o, lr: -1 }), /invalid learning rate -1/);
  assert.throws(() => sgdStepRaw(p, g, b, { ...o, lr: NaN }), /lr=NaN must be a finite number/);
  assert.throws(() => sgdStepRaw(p, g, g3, o), /momentum buffer .* does not match param/);
  assert.throws(() => sgdStepRaw(p, g, p, o), /aliases param or grad/);
  for (const t of [p, g, g3, b]) t.dispose();
});

test('sgd: NaN in the gradient reaches the parameter (the trainer NaN check sees it)', async () => {
  const param = toGpu([1, 2, 3], [3]), grad = toGpu([0.1, NaN, 0.3], [3]), buf = Tensor.empty([3]);
  sgdStepRaw(param, grad, buf, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false, firstStep: true });
  const got = await toHost(param);
  assert.ok(Number.isFinite(got[0]!) && Number.isNaN(got[1]!) && Number.isFinite(got[2]!), `param = [${[...got]}]`);
  for (const t of [param, grad, buf]) t.dispose();
});

test.run();
