// The mobile-backbone ops: relu6, sigmoid, silu, channelScale (squeeze-and-excitation gate) and dropout.
// GPU forward vs the float64 twins of src/ref/elementwise.ts, autograd gradients vs central differences of
// the twin (checkOp), NaN propagation through every forward, and dropout's mask statistics and determinism.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import { relu6, sigmoid, silu } from '../../src/ops/activations.js';
import { channelScale } from '../../src/ops/channel_scale.js';
import { dropout, dropoutMask } from '../../src/ops/dropout.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { tidy } from '../../src/autograd/scope.js';
import { backward } from '../../src/autograd/tape.js';
import { setupGpu, teardownGpu, toGpu, toHost, assertClose } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { nudgeAwayFromKinks } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(11);
const randn = (n: number, s = 1, m = 0) => { const a = new Float64Array(n); rng.fillNormal(a); for (let i = 0; i < n; i++) a[i] = m + a[i]! * s; return a; };
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

test.before(setupGpu);
test.after(teardownGpu);

/** Run a forward on host data and read the result back (no gradients). */
async function fwd(x: Float64Array, shape: number[], f: (t: Tensor) => Tensor): Promise<Float64Array> {
  const t = toGpu(x, shape);
  const y = tidy(() => f(t));
  const out = await toHost(y);
  y.dispose(); t.dispose();
  return out;
}

// ---- relu6 / sigmoid / silu

// [4, 5] and [2, 2, 3, 4] (sizes % 4 == 0) take the vec4 kernels where they exist.
const shapes = [[1], [7], [3, 33], [257], [2, 3, 5, 7], [1, 3, 31, 11], [4, 5], [2, 2, 3, 4]];
for (const shape of shapes) {
  const n = prod(shape);
  test(`relu6 ${shape}`, async () => {
    // Spread over both kinks (mean 3, std 4), then nudged so the FD step never straddles 0 or 6.
    const x = nudgeAwayFromKinks(randn(n, 4, 3), 1e-3, [0, 6]);
    await checkOp({ name: `relu6 ${shape}`, xs: [x], shapes: [shape], gpu: ([a]) => relu6(a!), ref: ([a]) => R.relu6Fwd(a!) });
  });
  test(`sigmoid ${shape}`, async () => {
    // std 4 reaches the saturated tails where 1 - y loses relative precision (absolute error stays ~1e-7).
    await checkOp({ name: `sigmoid ${shape}`, xs: [randn(n, 4)], shapes: [shape], gpu: ([a]) => sigmoid(a!), ref: ([a]) => R.sigmoidFwd(a!),
      fwd: { atol: 1e-6, rtol: 1e-5 } });
  });
  test(`silu ${shape}`, async () => {
    await checkOp({ name: `silu ${shape}`, xs: [randn(n, 4)], shapes: [shape], gpu: ([a]) => silu(a!), ref: ([a]) => R.siluFwd(a!),
      fwd: { atol: 1e-6, rtol: 1e-5 } });
  });
}

test('relu6 / sigmoid / silu: exact values at the kinks and extremes, no overflow', async () => {
  const x = Float64Array.from([-1, 0, 3, 6, 7, -100, 100, -1e30, 1e30, -Infinity, Infinity]);
  const shape = [x.length];
  assertClose('relu6', await fwd(x, shape, relu6), [0, 0, 3, 6, 6, 0, 6, 0, 6, 0, 6], 0, 0);
  const s = await fwd(x, shape, sigmoid);
  // float32 exp(-100) is denormal or flushed; either way sigmoid(-100) is within 1e-30 of 0.
  assertClose('sigmoid', s, R.sigmoidFwd(x), 1e-7, 1e-6);
  const si = await fwd(x.subarray(0, 9), [9], silu);
  assertClose('silu', si, R.siluFwd(x.subarray(0, 9)), 1e-6, 1e-6);
  // Gradients at the kinks: 0 at x = 0 and x = 6 (PyTorch's hardtanh), 1 strictly inside.
  const t = toGpu([0, 6, 3, -2, 8], [5], true);
  const y = relu6(t);
  backward(y, toGpu([1, 1, 1, 1, 1], [5]));
  assertClose('relu6 grad at kinks', await toHost(t.grad!), [0, 0, 1, 0, 0], 0, 0);
  y.dispose(); t.zeroGrad(); t.dispose();
});

test('relu6 / sigmoid / silu: unit-level tape wiring (chain silu(sigmoid(relu6(x))))', async () => {
  const n = 37, shape = [n];
  const x = nudgeAwayFromKinks(randn(n, 4, 3), 1e-3, [0, 6]);
  await checkOp({
    name: 'silu(sigmoid(relu6(x)))', xs: [x], shapes: [shape],
    gpu: ([a]) => silu(sigmoid(relu6(a!))), ref: ([a]) => R.siluFwd(R.sigmoidFwd(R.relu6Fwd(a!))),
  });
});

// ---- channelScale (squeeze-and-excitation gate)

const csShapes: [number, number, number, number][] = [[1, 1, 1, 1], [2, 3, 1, 1], [1, 5, 1, 3], [2, 4, 7, 7], [2, 3, 15, 20], [3, 2, 1, 7]];
for (const [n, c, h, w] of csShapes) {
  test(`channelScale ${[n, c, h, w]} (hw ${h * w})`, async () => {
    const hw = h * w;
    // ds sums hw products of two N(0,1) values: float32 error ~ sqrt(hw) * 2^-24 * sum|dy x|, far below atol 2e-4.
    await checkOp({
      name: `channelScale ${[n, c, h, w]}`, xs: [randn(n * c * hw), randn(n * c)], shapes: [[n, c, h, w], [n, c]],
      gpu: ([x, s]) => channelScale(x!, s!), ref: ([x, s]) => R.channelScaleFwd(x!, s!, n, c, hw),
    });
  });
}

test('channelScale accepts a [N, C, 1, 1] gate and computes ds over hw = 12544 (one 112x112 plane)', async () => {
  const n = 1, c = 2, h = 112, w = 112, hw = h * w;
  const x = randn(n * c * hw), s = randn(n * c), dy = randn(n * c * hw);
  const xt = toGpu(x, [n, c, h, w], true), st = toGpu(s, [n, c, 1, 1], true);
  const y = channelScale(xt, st);
  assertClose('fwd', await toHost(y), R.channelScaleFwd(x, s, n, c, hw), 1e-6, 1e-5);
  backward(y, toGpu(dy, [n, c, h, w]));
  const want = R.channelScaleBwd(x, s, dy, n, c, hw);
  assert.equal([...st.grad!.shape], [n, c, 1, 1]);
  // sum of 12544 products of N(0,1): |sum| ~ 112, sum|.| ~ 1e4; float32 tree-sum error ~ sqrt(hw) 2^-24 1e4 ~ 7e-5.
  assertClose('ds', await toHost(st.grad!), want.ds, 2e-3, 1e-5);
  assertClose('dx', await toHost(xt.grad!), want.dx, 1e-6, 1e-5);
  y.dispose(); xt.zeroGrad(); st.zeroGrad(); xt.dispose(); st.dispose();
});

test('channelScale rejects a gate of the wrong shape, naming the op and shapes', () => {
  const x = toGpu(new Float64Array(2 * 3 * 4), [2, 3, 2, 2]);
  const bad = [toGpu(new Float64Array(6), [3, 2]), toGpu(new Float64Array(3), [3]), toGpu(new Float64Array(24), [2, 3, 2, 2])];
  for (const s of bad) assert.throws(() => channelScale(x, s), /channelScale: gate s .* must be \[2, 3\] or \[2, 3, 1, 1\]/);
  assert.throws(() => channelScale(toGpu(new Float64Array(6), [2, 3]), bad[0]!), /channelScale: argument x must have rank 4/);
  for (const t of [x, ...bad]) t.dispose();
});

// ---- dropout

test('dropout: eval mode and p = 0 are the identity (values and gradient)', async () => {
  const n = 1000, x = randn(n).map(Math.fround); // float32 values, so the identity is exact
  for (const [p, training] of [[0.5, false], [0, true], [0, false]] as const) {
    await checkOp({ name: `dropout p=${p} ${training ? 'train' : 'eval'}`, xs: [x], shapes: [[n]],
      gpu: ([a]) => dropout(a!, p, { training, seed: 5 }), ref: ([a]) => a!.slice(), fwd: { atol: 0, rtol: 0 } });
  }
});

test('dropout: training keep-fraction is 1 - p over 100k elements (binomial tolerance), values are x / (1 - p) or 0', async () => {
  const n = 100_000;
  const x = randn(n);
  nudgeAwayFromKinks(x, 1e-3);
  for (const p of [0.1, 0.2, 0.5, 0.8]) {
    for (const seed of [1, 0xdeadbeef]) {
      const y = await fwd(x, [n], (t) => dropout(t, p, { training: true, seed }));
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const v = y[i]!;
        if (v === 0) continue;
        kept++;
        const want = Math.fround(x[i]!) * Math.fround(1 / (1 - p));
        if (Math.abs(v - want) > 1e-6 * Math.abs(want)) assert.unreachable(`p=${p} seed=${seed}: y[${i}] = ${v}, want 0 or ${want}`);
      }
      // Binomial(n, 1-p): std sqrt(n p (1-p)) <= 158; 5 sigma.
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(Math.abs(kept - n * (1 - p)) < 5 * sd, `p=${p} seed=${seed}: kept ${kept} of ${n}, expected ${n * (1 - p)} +- ${5 * sd}`);
    }
  }
});

test('dropout: the mask has no visible structure (halves, parity and neighbours agree with independence)', async () => {
  const n = 100_000, p = 0.5;
  const m = dropoutMask([n], p, 12345);
  const mask = await toHost(m);
  m.dispose();
  let lo = 0, hi = 0, even = 0, both = 0;
  for (let i = 0; i < n; i++) {
    if (i < n / 2) lo += mask[i]!; else hi += mask[i]!;
    if (i % 2 === 0) even += mask[i]!;
    if (i + 1 < n) both += mask[i]! * mask[i + 1]!;
  }
  const sdHalf = Math.sqrt((n / 2) * 0.25);
  assert.ok(Math.abs(lo - n / 4) < 5 * sdHalf, `first half kept ${lo}`);
  assert.ok(Math.abs(hi - n / 4) < 5 * sdHalf, `second half kept ${hi}`);
  assert.ok(Math.abs(even - n / 4) < 5 * sdHalf, `even indices kept ${even}`);
  // Adjacent pairs both kept: ~n/4 with std below sqrt(n * 3/16) * 2 (dependent neighbours share terms).
  assert.ok(Math.abs(both - n / 4) < 5 * 2 * Math.sqrt(n * 3 / 16), `adjacent both kept ${both}`);
});

test('dropout: same seed gives the same mask, another seed a different one, p = 1 drops everything', async () => {
  const n = 4099, p = 0.3;
  const x = nudgeAwayFromKinks(randn(n), 1e-3);
  const a = await fwd(x, [n], (t) => dropout(t, p, { training: true, seed: 77 }));
  const b = await fwd(x, [n], (t) => dropout(t, p, { training: true, seed: 77 }));
  const c = await fwd(x, [n], (t) => dropout(t, p, { training: true, seed: 78 }));
  assertClose('same seed', b, a, 0, 0);
  let differ = 0, agree = 0;
  for (let i = 0; i < n; i++) { if ((a[i] === 0) !== (c[i] === 0)) differ++; else agree++; }
  // Independent masks disagree with probability 2 p (1 - p) = 0.42.
  assert.ok(differ > 0.3 * n && differ < 0.54 * n, `seeds 77 and 78 differ at ${differ} of ${n} positions (agree ${agree})`);
  // The debug mask is the one the forward applied.
  const m = dropoutMask([n], p, 77);
  const mask = await toHost(m);
  m.dispose();
  for (let i = 0; i < n; i++) if ((a[i] !== 0) !== (mask[i] === 1)) assert.unreachable(`mask[${i}] = ${mask[i]} but y = ${a[i]}`);
  const z = await fwd(x, [n], (t) => dropout(t, 1, { training: true, seed: 3 }));
  assert.ok(z.every((v) => v === 0), 'p = 1 zeroes everything');
});

for (const [shape, p] of [[[1], 0.5], [[7], 0.25], [[2, 3, 5, 7], 0.5], [[3, 129], 0.1]] as [number[], number][]) {
  test(`dropout gradient vs twin with the forward's mask ${shape} p=${p}`, async () => {
    const n = prod(shape), seed = 4242 + n;
    // x away from 0 so y / x reads the mask back unambiguously.
    const x = nudgeAwayFromKinks(randn(n), 1e-2);
    const y = await fwd(x, shape, (t) => dropout(t, p, { training: true, seed }));
    const mask = Float64Array.from(y, (v) => (v === 0 ? 0 : 1));
    for (let i = 0; i < n; i++) {
      if (mask[i] && Math.abs(y[i]! / Math.fround(x[i]!) - 1 / (1 - p)) > 1e-6) assert.unreachable(`y/x at ${i} = ${y[i]! / x[i]!}`);
    }
    await checkOp({ name: `dropout ${shape} p=${p}`, xs: [x], shapes: [shape],
      gpu: ([a]) => dropout(a!, p, { training: true, seed }), ref: ([a]) => R.dropoutFwd(a!, mask, p) });
    // And the backward twin directly: dx = dy * mask / (1 - p).
    const dy = randn(n);
    const xt = toGpu(x, shape, true);
    const yt = dropout(xt, p, { training: true, seed });
    backward(yt, toGpu(dy, shape));
    assertClose('dx', await toHost(xt.grad!), R.dropoutBwd(dy, mask, p), 1e-6, 1e-5);
    yt.dispose(); xt.zeroGrad(); xt.dispose();
  });
}

test('dropout rejects bad p, a missing seed and missing options', () => {
  const x = toGpu(new Float64Array(4), [4]);
  for (const p of [-0.1, 1.5, NaN]) assert.throws(() => dropout(x, p, { training: true, seed: 1 }), /dropout: p=.* must be a number in \[0, 1\]/);
  assert.throws(() => dropout(x, 0.5, { training: true }), /dropout: seed=undefined must be an integer/);
  assert.throws(() => dropout(x, 0.5, { training: true, seed: -1 }), /dropout: seed=-1/);
  assert.throws(() => dropout(x, 0.5, { training: true, seed: 2 ** 32 }), /dropout: seed=4294967296/);
  assert.throws(() => (dropout as (...a: unknown[]) => Tensor)(x, 0.5), /dropout: expects 3 arguments, got 2/);
  x.dispose();
});

// ---- NaN propagation through every forward

test('NaN propagates through every forward', async () => {
  const n = 300;
  const x = randn(n, 4, 3);
  const nanAt = [0, 17, 255, 256, 299];
  for (const i of nanAt) x[i] = NaN;
  const checkNaN = (label: string, y: Float64Array) => {
    for (let i = 0; i < y.length; i++) {
      const isNaN = Number.isNaN(y[i]!);
      if (isNaN !== nanAt.includes(i)) assert.unreachable(`${label}: y[${i}] = ${y[i]} (x = ${x[i]})`);
    }
  };
  checkNaN('relu6', await fwd(x, [n], relu6));
  checkNaN('sigmoid', await fwd(x, [n], sigmoid));
  checkNaN('silu', await fwd(x, [n], silu));
  // Training dropout: a NaN stays NaN whether its element is kept or dropped (x * 0 = NaN), for p = 0.5 and 1.
  checkNaN('dropout p=0.5', await fwd(x, [n], (t) => dropout(t, 0.5, { training: true, seed: 9 })));
  checkNaN('dropout p=1', await fwd(x, [n], (t) => dropout(t, 1, { training: true, seed: 9 })));
  checkNaN('dropout eval', await fwd(x, [n], (t) => dropout(t, 0.5, { training: false })));
  // channelScale: NaN in x poisons its element; NaN in the gate poisons its whole (n, c) plane.
  const [N, C, H, W] = [2, 3, 5, 10];
  checkNaN('channelScale x', await fwd(x, [N, C, H, W], (t) => {
    const s = toGpu(randn(N * C), [N, C]);
    return channelScale(t, s);
  }));
  const s = randn(N * C);
  s[4] = NaN;
  const y = await fwd(randn(n), [N, C, H, W], (t) => channelScale(t, toGpu(s, [N, C])));
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(y[i]!) !== (Math.floor(i / (H * W)) === 4)) assert.unreachable(`channelScale gate NaN: y[${i}] = ${y[i]}`);
  }
});

test('NaN in dy or x propagates through the channelScale gate gradient (tree reduction)', async () => {
  const [N, C, H, W] = [1, 2, 9, 9];
  const x = randn(N * C * H * W);
  x[100] = NaN; // plane 1
  const xt = toGpu(x, [N, C, H, W]), st = toGpu(randn(N * C), [N, C], true);
  const y = channelScale(xt, st);
  backward(y, toGpu(randn(N * C * H * W), [N, C, H, W]));
  const ds = await toHost(st.grad!);
  assert.ok(Number.isFinite(ds[0]!) && Number.isNaN(ds[1]!), `ds = [${ds[0]}, ${ds[1]}]`);
  y.dispose(); st.zeroGrad(); xt.dispose(); st.dispose();
});

test('a launch over 65535 workgroups folds into y and covers every element (silu, 16.8M elements)', async () => {
  const n = 65535 * 256 + 513;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = ((i % 2001) - 1000) / 100;
  const y = await fwd(x, [n], silu);
  // Spot the tail (past the first y-row of workgroups) and a sample of the rest: no poisoned NaN left.
  const idx = [0, 1, 65535 * 256 - 1, 65535 * 256, n - 513, n - 1];
  for (let i = 0; i < n; i += 9973) idx.push(i);
  const want = R.siluFwd(Float64Array.from(idx, (i) => x[i]!));
  assertClose('silu folded', Float64Array.from(idx, (i) => y[i]!), want, 1e-6, 1e-5);
  let nan = 0;
  for (let i = 0; i < n; i++) if (Number.isNaN(y[i]!)) nan++;
  assert.is(nan, 0, 'no element left unwritten');
});

test.run();
