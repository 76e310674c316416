// Models: parameter counts equal torchvision's; forward and every parameter gradient on a tiny input match
// the float64 composition of the src/ref twins; ResNet-50 shapes; state dicts round-trip through safetensors
// bit-exactly; bad weight files are refused without touching the model; SGD on a fixed batch lowers the loss.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../../src/autograd/tensor.js';
import { tidy, noGrad } from '../../src/autograd/scope.js';
import { backward } from '../../src/autograd/tape.js';
import * as ops from '../../src/ops/index.js';
import { createModel, ARCHITECTURES, ResNet, simregHead, projectionHead, loadWeights, saveWeights, Module } from '../../src/nn/index.js';
import { writeSafetensors } from '../../src/io/index.js';
import { SGD } from '../../src/optim/index.js';
import { setupGpu, teardownGpu, toHost } from '../helpers/gpu.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { hostParams, refForward } from '../helpers/ref_model.js';
import { Rng } from '../helpers/rng.js';

test.before(setupGpu);
test.after(teardownGpu);

const TORCHVISION_PARAMS: Record<string, number> = {
  resnet18: 11689512, resnet34: 21797672, resnet50: 25557032, mobilenet_v2: 3504872, efficientnet_b0: 5288548,
};

test('parameter counts equal torchvision (1000-class classifier)', () => {
  for (const a of ARCHITECTURES) {
    const m = createModel(a);
    assert.is(m.numParameters(), TORCHVISION_PARAMS[a], a);
    m.dispose();
  }
});

test('torchvision names: ResNet-18 and MobileNet-v2 key samples', () => {
  const r = createModel('resnet18');
  const keys = [...r.stateShapes().keys()];
  for (const k of ['conv1.weight', 'bn1.running_var', 'bn1.num_batches_tracked', 'layer1.0.conv1.weight', 'layer2.0.downsample.0.weight', 'layer2.0.downsample.1.running_mean', 'layer4.1.bn2.bias', 'fc.weight', 'fc.bias']) {
    assert.ok(keys.includes(k), `missing ${k}`);
  }
  assert.is(keys.length, 122);
  assert.equal(r.stateShapes().get('layer3.0.conv1.weight'), [256, 128, 3, 3]);
  r.dispose();
  const mb = createModel('mobilenet_v2');
  const mk = mb.stateShapes();
  assert.equal(mk.get('features.1.conv.0.0.weight'), [32, 1, 3, 3]);
  assert.equal(mk.get('features.2.conv.1.0.weight'), [96, 1, 3, 3]);
  assert.equal(mk.get('features.3.conv.1.0.weight'), [144, 1, 3, 3]);
  assert.equal(mk.get('features.18.0.weight'), [1280, 320, 1, 1]);
  assert.equal(mk.get('classifier.1.weight'), [1000, 1280]);
  mb.dispose();
  const ef = createModel('efficientnet_b0');
  const ek = ef.stateShapes();
  assert.equal(ek.get('features.1.0.block.1.fc1.weight'), [8, 32, 1, 1]);
  assert.equal(ek.get('features.6.3.block.3.0.weight'), [192, 1152, 1, 1]);
  ef.dispose();
});

test('unknown architecture is named', () => {
  assert.throws(() => createModel('resnet19'), /unknown architecture 'resnet19' \(known: resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0\)/);
});

// Tolerances: float32 GPU gradients against float64 central differences (eps 1e-7, small enough not to cross
// ReLU/max-pool kinks) through a whole network. Deep nets whose batchnorms see few values per channel amplify
// float32 rounding: ResNet-50 and EfficientNet-B0 get rtol 2e-2 (measured worst 1.0%), the others 5e-3.
// coords = 0 checks each parameter tensor along one random direction over all its entries (2 forwards per
// tensor), which keeps the float64 composition of the larger models affordable.
async function checkModel(name: string, m: Module, xShape: number[], labels: Int32Array, coords = 3, seed = 1, tol = { atol: 3e-5, rtol: 5e-3, loss: 2e-4, maxTensors: 1000 }): Promise<void> {
  const rng = new Rng(seed);
  const xd = rng.fillNormal(new Float64Array(xShape.reduce((a, b) => a * b, 1)));
  const x = Tensor.fromArray(Float32Array.from(xd), xShape);
  const loss = tidy(() => ops.crossEntropy(m.forward(x), labels));
  backward(loss);
  const got = await loss.item();
  // Host values after the forward: in training mode the running stats moved, but the forward used batch stats.
  const p = await hostParams(m);
  const refLoss = (pp: typeof p) => {
    const y = refForward(m, { d: xd, s: xShape }, pp);
    return (globalThis as unknown as { __ce: (l: Float64Array, n: number, c: number) => number }).__ce(y.d, y.s[0]!, y.s[1]!);
  };
  (globalThis as unknown as { __ce: (l: Float64Array, n: number, c: number) => number }).__ce = (l, n, c) => ceRef(l, labels, n, c);
  const want = refLoss(p);
  assert.ok(Math.abs(got - want) < tol.loss * Math.max(1, Math.abs(want)), `${name}: loss ${got} vs float64 ${want}`);
  let worst = 0, worstName = '';
  const failures: string[] = [];
  // Every parameter tensor for the ResNet-18 cases; evenly spaced ones (first and last included) for the larger
  // models, whose float64 composition costs ~0.1 s a forward on this machine.
  const named = m.namedParameters();
  const pick = named.length <= tol.maxTensors ? named : named.filter((_, i) => i % Math.ceil(named.length / tol.maxTensors) === 0 || i === named.length - 1);
  for (const [pname, t] of pick) {
    const base = p.get(t)!;
    const res = await gradcheck(
      (xs) => { const q = new Map(p); q.set(t, xs[0]!); return Float64Array.of(refLoss(q)); },
      async (_xs, r) => [(await toHost(t.grad!)).map((v) => v * r[0]!)],
      [Float64Array.from(base)],
      // float32 GPU gradients vs float64 central differences through a whole network.
      { eps: 1e-7, atol: tol.atol, rtol: tol.rtol, maxCoords: coords, seed: 3, skipDirectional: false },
    );
    if (res.maxAbs > worst) { worst = res.maxAbs; worstName = `${pname}[${res.worst.index}] fd ${res.worst.fd.toPrecision(5)} an ${res.worst.an.toPrecision(5)}`; }
    if (!res.ok) failures.push(`${pname}[${res.worst.index}] fd ${res.worst.fd.toPrecision(6)} vs GPU ${res.worst.an.toPrecision(6)}`);
  }
  assert.ok(failures.length === 0, `${name}: ${failures.length} parameter gradients differ: ${failures.slice(0, 6).join('; ')}`);
  console.log(`grad-report model ${name.padEnd(24)} loss ${got.toFixed(6)} vs ${want.toFixed(6)}; ${pick.length} of ${named.length} parameter tensors; worst |fd-an| ${worst.toExponential(2)} at ${worstName}`);
  loss.dispose();
  x.dispose();
}

function ceRef(logits: Float64Array, labels: Int32Array, n: number, c: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits[i * c + j]!);
    let z = 0;
    for (let j = 0; j < c; j++) z += Math.exp(logits[i * c + j]! - m);
    s += m + Math.log(z) - logits[i * c + labels[i]!]!;
  }
  return s / n;
}

test('ResNet-18 (small stem, width 1/16): forward and every parameter gradient vs float64 composition', async () => {
  const m = new ResNet('resnet18', { smallStem: true, widthMultiplier: 1 / 16, numClasses: 5, inChannels: 1, seed: 2 });
  await checkModel('resnet18 w1/16 small', m, [2, 1, 8, 8], Int32Array.of(1, 3));
  m.dispose();
});

test('ResNet-18 (ImageNet stem with max-pool): forward and gradients vs float64 composition', async () => {
  const m = new ResNet('resnet18', { widthMultiplier: 1 / 16, numClasses: 3, seed: 4 });
  await checkModel('resnet18 w1/16 imagenet', m, [2, 3, 33, 33], Int32Array.of(0, 2), 2);
  m.dispose();
});

test('ResNet-50 (bottleneck, width 1/16): forward and gradients vs float64 composition', async () => {
  const m = new ResNet('resnet50', { smallStem: true, widthMultiplier: 1 / 16, numClasses: 4, seed: 5 });
  await checkModel('resnet50 w1/16 small', m, [2, 3, 16, 16], Int32Array.of(3, 0), 0, 1, { atol: 1e-4, rtol: 2e-2, loss: 1e-3, maxTensors: 40 });
  m.dispose();
});

test('MobileNet-v2 (width 0.25, small stem): forward and gradients vs float64 composition', async () => {
  const m = createModel('mobilenet_v2', { widthMultiplier: 0.25, numClasses: 3, smallStem: true, dropout: 0, seed: 6 });
  await checkModel('mobilenet_v2 w0.25', m, [2, 3, 16, 16], Int32Array.of(2, 1), 0, 1, { atol: 1e-4, rtol: 5e-3, loss: 2e-4, maxTensors: 40 });
  m.dispose();
});

test('EfficientNet-B0 (small stem): forward and gradients vs float64 composition', async () => {
  const m = createModel('efficientnet_b0', { numClasses: 3, smallStem: true, dropout: 0, seed: 7 });
  await checkModel('efficientnet_b0', m, [2, 3, 16, 16], Int32Array.of(0, 1), 0, 1, { atol: 1e-4, rtol: 2e-2, loss: 1e-3, maxTensors: 40 });
  m.dispose();
});

test('ResNet-50 full width: forward/backward shapes at 64x64, feature extractor mode', async () => {
  const m = createModel('resnet50', { numClasses: 0 });
  assert.is(m.featureDim, 2048);
  const x = Tensor.fromArray(new Float32Array(2 * 3 * 64 * 64).map((_, i) => Math.sin(i)), [2, 3, 64, 64]);
  const f = tidy(() => m.features(x));
  assert.equal([...f.shape], [2, 2048]);
  const l = tidy(() => ops.mean(ops.mul(f, f)));
  backward(l);
  const g = m.namedParameters().find(([n]) => n === 'conv1.weight')![1].grad!;
  assert.equal([...g.shape], [64, 3, 7, 7]);
  const gh = await g.read();
  assert.ok(gh.some((v) => v !== 0) && gh.every((v) => Number.isFinite(v)));
  for (const t of [x, f, l]) t.dispose();
  m.dispose();
});

test('heads: SimReg 4-layer/2-layer/linear and DisCo projection shapes and names', () => {
  const h4 = simregHead(8, 6, 'mlp4');
  assert.equal([...h4.stateShapes().keys()].filter((k) => k.endsWith('weight')), ['net.0.weight', 'net.1.weight', 'net.3.weight', 'net.4.weight', 'net.5.weight', 'net.7.weight']);
  assert.equal(h4.stateShapes().get('net.0.weight'), [16, 8]);
  assert.equal(h4.stateShapes().get('net.7.weight'), [6, 16]);
  assert.is(simregHead(8, 6, 'mlp2').outDim, 6);
  assert.is(simregHead(8, 6, 'linear').numParameters(), 8 * 6 + 6);
  const pj = projectionHead(8);
  assert.equal(pj.stateShapes().get('net.0.weight'), [2048, 8]);
  assert.equal(pj.stateShapes().get('net.2.weight'), [128, 2048]);
  for (const h of [h4, pj]) h.dispose();
});

test('state dict round trip through safetensors gives bit-identical outputs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'simreg-models-'));
  const a = new ResNet('resnet18', { smallStem: true, widthMultiplier: 0.125, numClasses: 7, seed: 11 });
  // Move the running statistics and num_batches_tracked away from their defaults first.
  const x = Tensor.fromArray(new Float32Array(4 * 3 * 16 * 16).map((_, i) => Math.cos(i * 0.3)), [4, 3, 16, 16]);
  noGrad(() => tidy(() => a.forward(x)).dispose());
  a.eval();
  const path = join(dir, 'w.safetensors');
  await saveWeights(a, path);
  const b = new ResNet('resnet18', { smallStem: true, widthMultiplier: 0.125, numClasses: 7, seed: 99 });
  b.eval();
  await loadWeights(b, path);
  const ya = await noGrad(() => tidy(() => a.forward(x))).read();
  const yb = await noGrad(() => tidy(() => b.forward(x))).read();
  assert.equal(Array.from(yb), Array.from(ya));
  const sb = await b.stateDict();
  assert.is(sb.get('bn1.num_batches_tracked')!.data[0], 1);
  a.dispose(); b.dispose(); x.dispose();
});

test('bad weight files are refused with the key named, and the model is untouched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'simreg-models-'));
  const m = new ResNet('resnet18', { smallStem: true, widthMultiplier: 0.125, numClasses: 3, seed: 1 });
  const before = await m.stateDict();
  const good = join(dir, 'good.safetensors');
  await saveWeights(m, good);
  const sd = await m.stateDict();
  const write = async (name: string, mutate: (e: { name: string; shape: number[]; data: Float32Array }[]) => void) => {
    const list = [...sd].map(([k, v]) => ({ name: k, shape: v.shape, data: v.data }));
    mutate(list);
    const p = join(dir, name);
    await writeSafetensors(p, list);
    return p;
  };
  const missing = await write('missing.safetensors', (l) => l.splice(l.findIndex((e) => e.name === 'layer2.0.conv1.weight'), 1));
  await assert.not.throws(async () => undefined);
  await rejects(() => loadWeights(m, missing), /missing\.safetensors.*layer2\.0\.conv1\.weight/s);
  const extra = await write('extra.safetensors', (l) => l.push({ name: 'layer9.weight', shape: [1], data: new Float32Array(1) }));
  await rejects(() => loadWeights(m, extra), /layer9\.weight/);
  const shape = await write('shape.safetensors', (l) => { const e = l.find((x) => x.name === 'fc.weight')!; e.shape = [e.shape[1]!, e.shape[0]!]; });
  await rejects(() => loadWeights(m, shape), /fc\.weight.*\[64, 3\].*\[3, 64\]|fc\.weight/);
  const trunc = join(dir, 'trunc.safetensors');
  const bytes = readFileSync(good);
  writeFileSync(trunc, bytes.subarray(0, bytes.length - 100));
  await rejects(() => loadWeights(m, trunc), /trunc\.safetensors/);
  const junk = join(dir, 'junk.safetensors');
  writeFileSync(junk, 'not a safetensors file at all');
  await rejects(() => loadWeights(m, junk), /junk\.safetensors/);
  await rejects(() => loadWeights(m, join(dir, 'nope.safetensors')), /nope\.safetensors/);
  // MoCo-style prefixes: found by matching the names against the model (the queue lies outside and is not read),
  // or given; a prefix that matches nothing is named.
  const moco = await write('moco.safetensors', (l) => { for (const e of l) e.name = `module.encoder_q.${e.name}`; l.push({ name: 'module.queue', shape: [4, 2], data: new Float32Array(8) }); });
  const report = await loadWeights(m, moco);
  assert.is(report.strip, 'module.encoder_q.');
  assert.match(report.layout, /MoCo v1\/v2/);
  assert.is(report.outside, 1);
  await rejects(() => loadWeights(m, moco, { strip: 'module.encoder_k.' }), /--strip "module\.encoder_k\.": no name starts with it/);
  await loadWeights(m, moco, { stripPrefixes: ['module.encoder_q.'], ignore: [/^module\.queue/] });
  const after = await m.stateDict();
  for (const [k, v] of before) assert.equal(Array.from(after.get(k)!.data), Array.from(v.data), `model changed at ${k}`);
  m.dispose();
});

async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try { await fn(); } catch (e) { assert.match((e as Error).message, re); return; }
  assert.unreachable(`expected a rejection matching ${re}`);
}

test('a few SGD steps on a fixed batch reduce the loss (ResNet-18, width 1/8)', async () => {
  const m = new ResNet('resnet18', { smallStem: true, widthMultiplier: 0.125, numClasses: 4, seed: 3 });
  const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const x = Tensor.fromArray(new Float32Array(8 * 3 * 16 * 16).map((_, i) => Math.sin(i * 0.7)), [8, 3, 16, 16]);
  const labels = Int32Array.of(0, 1, 2, 3, 0, 1, 2, 3);
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const l = tidy(() => ops.crossEntropy(m.forward(x), labels));
    backward(l);
    opt.step();
    opt.zeroGrad();
    losses.push(await l.item());
    l.dispose();
  }
  assert.ok(losses[7]! < 0.7 * losses[0]!, `losses ${losses.map((v) => v.toFixed(3)).join(' ')}`);
  opt.dispose(); m.dispose(); x.dispose();
});

test.run();
