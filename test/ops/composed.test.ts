// A small residual network end to end: conv -> batchnorm -> relu -> conv -> batchnorm -> + skip -> relu ->
// maxpool -> global average pool -> linear -> cross-entropy. Loss and every parameter gradient against the
// float64 composition of the src/ref twins (and the twin against central differences through the whole net).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { tidy } from '../../src/autograd/scope.js';
import { backward } from '../../src/autograd/tape.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

test.before(setupGpu);
test.after(teardownGpu);

const N = 3, C = 3, H = 8, W = 8, F = 8, CLS = 5, EPS = 1e-5;
const labels = Int32Array.of(1, 4, 0);
const names = ['conv1.weight', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'bn2.weight', 'bn2.bias', 'skip.weight', 'fc.weight', 'fc.bias'];
const shapes = [[F, C, 3, 3], [F], [F], [F, F, 3, 3], [F], [F], [F, C, 1, 1], [CLS, F], [CLS]];

/** float64 forward of the net; returns the loss. */
function refNet(x: Float64Array, p: Float64Array[]): number {
  const [w1, g1, b1, w2, g2, b2, ws, fw, fb] = p as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const s3 = (c: number, k: number, kh: number, pad: number): R.ConvShape => ({ n: N, c, h: H, w: W, k, kh, kw: kh, sh: 1, sw: 1, ph: pad, pw: pad, groups: 1 });
  const a1 = R.conv2dFwd(x, w1, null, s3(C, F, 3, 1));
  const h1 = R.reluFwd(R.bnFwdTrain(a1, g1, b1, N, F, H * W, EPS).y);
  const a2 = R.conv2dFwd(h1, w2, null, s3(F, F, 3, 1));
  const h2 = R.bnFwdTrain(a2, g2, b2, N, F, H * W, EPS).y;
  const sk = R.conv2dFwd(x, ws, null, s3(C, F, 1, 0));
  const r = R.reluFwd(R.add(h2, sk));
  const mp = R.maxPool2dFwd(r, { n: N, c: F, h: H, w: W, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 }).y;
  const gp = R.globalAvgPoolFwd(mp, N, F, 16);
  const logits = R.linearFwd(gp, fw, fb, N, F, CLS);
  return R.crossEntropyFwd(logits, labels, N, CLS);
}

function gpuNet(x: Tensor, p: Tensor[], rm: Tensor[], rv: Tensor[]): Tensor {
  const [w1, g1, b1, w2, g2, b2, ws, fw, fb] = p as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const h1 = ops.relu(ops.batchNorm(ops.conv2d(x, w1, null, { padding: 1 }), g1, b1, rm[0]!, rv[0]!, { training: true, eps: EPS }));
  const h2 = ops.batchNorm(ops.conv2d(h1, w2, null, { padding: 1 }), g2, b2, rm[1]!, rv[1]!, { training: true, eps: EPS });
  const r = ops.relu(ops.add(h2, ops.conv2d(x, ws)));
  const gp = ops.globalAvgPool(ops.maxPool2d(r, { kernel: 3, stride: 2, padding: 1 }));
  return ops.crossEntropy(ops.linear(gp, fw, fb), labels);
}

test('residual net: loss and every parameter gradient match the float64 composition', async () => {
  const rng = new Rng(3);
  const x = rng.fillNormal(new Float64Array(N * C * H * W));
  const params = shapes.map((s, i) => {
    const a = rng.fillNormal(new Float64Array(s.reduce((u, v) => u * v, 1)));
    if (names[i]!.startsWith('bn') && names[i]!.endsWith('weight')) for (let j = 0; j < a.length; j++) a[j] = 1 + 0.2 * a[j]!;
    return a;
  });
  const xt = Tensor.fromArray(Float32Array.from(x), [N, C, H, W]);
  const pt = params.map((a, i) => { const t = Tensor.fromArray(Float32Array.from(a), shapes[i]!); t.requiresGrad = true; t.name = names[i]!; return t; });
  const rm = [0, 1].map(() => Tensor.fromArray(new Float32Array(F), [F])), rv = [0, 1].map(() => Tensor.fromArray(new Float32Array(F).fill(1), [F]));
  const loss = tidy(() => gpuNet(xt, pt, rm, rv));
  backward(loss);
  const want = refNet(x, params);
  const got = await loss.item();
  assert.ok(Math.abs(got - want) < 1e-4 * Math.max(1, Math.abs(want)), `loss ${got} vs float64 ${want}`);
  // Reference gradients by central differences of the float64 net (every coordinate of every parameter).
  for (let i = 0; i < params.length; i++) {
    const res = await gradcheck(
      (xs) => Float64Array.of(refNet(x, params.map((p, j) => (j === i ? xs[0]! : p)))),
      // L = f * r[0] in gradcheck: scale the GPU gradient of the scalar loss by r[0].
      async (_xs, r) => [(await toHost(pt[i]!.grad!)).map((v) => v * r[0]!)],
      [Float64Array.from(params[i]!)],
      // float32 network gradients vs float64 FD (eps 1e-6): agreement to ~1e-4 relative.
      { eps: 1e-6, atol: 2e-5, rtol: 2e-3, maxCoords: 1000, seed: 1 },
    );
    console.log(`grad-report net ${names[i]!.padEnd(14)} max|fd-an| ${res.maxAbs.toExponential(2)} worst [${res.worst.index}] fd ${res.worst.fd.toPrecision(6)} an ${res.worst.an.toPrecision(6)} (${res.checked} coords)`);
    assert.ok(res.ok, `${names[i]} gradient: worst [${res.worst.index}] fd ${res.worst.fd} vs GPU ${res.worst.an}`);
  }
  loss.dispose();
  for (const t of [xt, ...pt, ...rm, ...rv]) t.dispose();
});

test('a few SGD steps on a fixed batch reduce the loss', async () => {
  const rng = new Rng(9);
  const xt = Tensor.fromArray(Float32Array.from(rng.fillNormal(new Float64Array(N * C * H * W))), [N, C, H, W]);
  const pt = shapes.map((s, i) => {
    const a = rng.fillNormal(new Float64Array(s.reduce((u, v) => u * v, 1)));
    for (let j = 0; j < a.length; j++) a[j] = names[i]!.startsWith('bn') && names[i]!.endsWith('weight') ? 1 : 0.3 * a[j]!;
    const t = Tensor.fromArray(Float32Array.from(a), s); t.requiresGrad = true; return t;
  });
  const rm = [0, 1].map(() => Tensor.fromArray(new Float32Array(F), [F])), rv = [0, 1].map(() => Tensor.fromArray(new Float32Array(F).fill(1), [F]));
  const losses: number[] = [];
  for (let step = 0; step < 6; step++) {
    const loss = tidy(() => gpuNet(xt, pt, rm, rv));
    backward(loss);
    losses.push(await loss.item());
    loss.dispose();
    for (const p of pt) { ops.addInPlace(p, p.grad!, -0.2); p.zeroGrad(); }
  }
  assert.ok(losses[5]! < losses[0]! * 0.8, `loss should fall on a fixed batch: ${losses.map((l) => l.toFixed(4)).join(' ')}`);
  for (const t of [xt, ...pt, ...rm, ...rv]) t.dispose();
});

test.run();
