// SGD class (groups, skipped parameters, state round trip) against the float64 twin, and the schedules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor } from '../../src/autograd/tensor.js';
import { SGD, decayGroups, cosineLr, stepLr } from '../../src/optim/index.js';
import { sgdStep } from '../../src/ref/sgd.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';

test.before(setupGpu);
test.after(teardownGpu);

test('cosine schedule: warm-up, cosine, floor, per-epoch steps', () => {
  const o = { baseLr: 0.1, totalSteps: 100, warmupSteps: 10 };
  assert.is(cosineLr(0, o), 0);
  assert.ok(Math.abs(cosineLr(5, o) - 0.05) < 1e-12);
  assert.ok(Math.abs(cosineLr(10, o) - 0.1) < 1e-12);
  assert.ok(Math.abs(cosineLr(55, o) - 0.05) < 1e-12, `midpoint ${cosineLr(55, o)}`);
  assert.ok(Math.abs(cosineLr(100, o)) < 1e-12);
  assert.ok(Math.abs(cosineLr(500, o)) < 1e-12, 'stays at the floor after the end');
  assert.ok(Math.abs(cosineLr(100, { ...o, minLr: 0.01 }) - 0.01) < 1e-12);
  const pe = { baseLr: 1, totalSteps: 40, stepsPerEpoch: 10 };
  assert.is(cosineLr(3, pe), cosineLr(9, pe));
  assert.ok(cosineLr(10, pe) < cosineLr(9, pe));
  assert.throws(() => cosineLr(1, { baseLr: 1, totalSteps: 0 }), /totalSteps must be positive/);
  assert.is(stepLr(14, 0.01, [15, 30]), 0.01);
  assert.ok(Math.abs(stepLr(15, 0.01, [15, 30]) - 0.001) < 1e-15);
  assert.ok(Math.abs(stepLr(31, 0.01, [15, 30]) - 0.0001) < 1e-15);
});

test('SGD with groups (no decay on 1-D params) follows the float64 formula; params without grad are skipped', async () => {
  const w = Tensor.fromArray([0.5, -1, 2, 0.25, 3, -2], [2, 3]); w.name = 'w';
  const b = Tensor.fromArray([0.1, -0.2], [2]); b.name = 'b';
  const frozen = Tensor.fromArray([7], [1]); frozen.name = 'frozen';
  for (const t of [w, b, frozen]) t.requiresGrad = true;
  const opt = new SGD(decayGroups([['w', w], ['b', b], ['frozen', frozen]], 0.01), { lr: 0.1, momentum: 0.9, nesterov: true });
  let rw: Float64Array = Float64Array.from(await w.read()), rb: Float64Array = Float64Array.from(await b.read());
  let mw: Float64Array | null = null, mb: Float64Array | null = null;
  for (let step = 0; step < 4; step++) {
    const gw = Float64Array.from({ length: 6 }, (_, i) => Math.sin(step + i));
    const gb = Float64Array.from({ length: 2 }, (_, i) => Math.cos(step * 2 + i));
    w.grad = Tensor.fromArray(Float32Array.from(gw), [2, 3]).keep();
    b.grad = Tensor.fromArray(Float32Array.from(gb), [2]).keep();
    opt.lr = 0.1 / (step + 1);
    opt.step();
    opt.zeroGrad();
    const r1 = sgdStep(rw, gw, mw, opt.lr, 0.9, 0, 0.01, true, step === 0); rw = r1.param; mw = r1.momBuf;
    const r2 = sgdStep(rb, gb, mb, opt.lr, 0.9, 0, 0, true, step === 0); rb = r2.param; mb = r2.momBuf;
  }
  assertClose('w after 4 steps', await toHost(w), rw, 1e-6, 1e-5);
  assertClose('b after 4 steps (no weight decay)', await toHost(b), rb, 1e-6, 1e-5);
  assert.is((await frozen.read())[0], 7);
  // State round trip: a fresh optimiser with the saved buffers continues identically.
  const sd = await opt.stateDict();
  assert.equal([...sd.keys()].sort(), ['momentum_buffer.b', 'momentum_buffer.w']);
  assertClose('momentum buffer w', sd.get('momentum_buffer.w')!.data, mw!, 1e-6, 1e-5);
  const opt2 = new SGD(decayGroups([['w', w], ['b', b], ['frozen', frozen]], 0.01), { lr: 0.05, momentum: 0.9, nesterov: true });
  opt2.loadStateDict(sd, 4);
  assert.is(opt2.stepCount, 4);
  assert.throws(() => opt2.loadStateDict(new Map([['momentum_buffer.nope', { shape: [1], data: new Float32Array(1) }]]), 0), /no parameter named nope/);
  assert.throws(() => new SGD([w], { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum/);
  assert.throws(() => new SGD([{ params: [w] }, { params: [w] }], { lr: 0.1 }), /appears in more than one group/);
  opt.dispose(); opt2.dispose();
  for (const t of [w, b, frozen]) t.dispose();
});

test.run();
