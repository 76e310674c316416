// ResNet-18 (or another architecture) training step and inference on this adapter, with a per-kernel breakdown.
//   node bench/resnet18.mjs [--batch 32] [--size 32] [--width 1] [--steps 5] [--imagenet] [--classes 10] [--json]
//                           [--arch resnet18|resnet34|resnet50|mobilenet_v2|efficientnet_b0] [--lr 0.05]
// Default: the small-image ResNet-18 (3x3 stem, no max-pool), 32x32x3 inputs, 10 classes, batch 32.
// Before timing it checks itself: the loss on a fixed batch falls over the first steps, and a step reads back
// nothing but its loss.
import { initGpu, destroyGpu, gpuContext } from '../src/gpu/device.js';
import { stream } from '../src/gpu/stream.js';
import { pool, poolStats } from '../src/gpu/pool.js';
import { Tensor } from '../src/autograd/tensor.js';
import { tidy, noGrad } from '../src/autograd/scope.js';
import { backward } from '../src/autograd/tape.js';
import { crossEntropy } from '../src/ops/index.js';
import { createModel } from '../src/nn/registry.js';
import { SGD, decayGroups } from '../src/optim/index.js';
import { envRecord, stats, appendJsonl, table } from './lib/harness.js';

const args = process.argv.slice(2);
const has = (f: string) => args.includes(`--${f}`);
const num = (f: string, d: number) => {
  const i = args.indexOf(`--${f}`);
  if (i < 0) return d;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) { console.error(`--${f} needs a positive number, got ${args[i + 1]}`); process.exit(2); }
  return v;
};
if (has('help')) {
  console.log('node bench/resnet18.mjs [--batch 32] [--size 32] [--width 1] [--steps 5] [--imagenet] [--classes 10] [--json] [--arch NAME]');
  process.exit(0);
}
const imagenet = has('imagenet');
const batch = num('batch', 32), size = num('size', imagenet ? 224 : 32), width = num('width', 1), steps = num('steps', 5);
const classes = num('classes', imagenet ? 1000 : 10);
const arch = (() => { const i = args.indexOf('--arch'); return i >= 0 ? args[i + 1]! : 'resnet18'; })();
// The self-check trains on one fixed batch: the SiLU/squeeze-excitation nets want a smaller step than ResNets.
const lr = num('lr', arch.startsWith('resnet') ? 0.05 : 0.01);

await initGpu();
const env = envRecord();
const info = gpuContext().info;
console.log(`adapter: ${info.vendor} ${info.device || info.description} | ${info.description} | webgpu ${env.webgpu} | node ${env.node} | git ${env.git}${env.dirty ? '+dirty' : ''}`);
console.log(`${arch} ${imagenet ? 'ImageNet stem' : 'small-image stem'}, width x${width}, ${batch}x3x${size}x${size}, ${classes} classes`);

const model = createModel(arch, { smallStem: !imagenet, widthMultiplier: width === 1 ? undefined : width, numClasses: classes, seed: 1, dropout: 0 });
const opt = new SGD(decayGroups(model.namedParameters(), 5e-4), { lr, momentum: 0.9 });
// A fixed batch: deterministic pseudo-images and labels.
const xs = new Float32Array(batch * 3 * size * size);
for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 0.37) * Math.cos(i * 0.011);
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
const x = Tensor.fromArray(xs, [batch, 3, size, size]);
const lab = Tensor.fromArray(labels, [batch], 'i32');

// One training step as the trainer runs it: the batch uploaded (staged into the step's encoder), forward,
// backward, SGD, the loss copied out, one submission; the host then waits for the previous step's loss only.
let pendingLoss: Promise<ArrayBuffer[]> | null = null;
async function trainStep(): Promise<number | null> {
  const xt = Tensor.fromArray(xs, [batch, 3, size, size]);
  const loss = tidy(() => crossEntropy(model.forward(xt), lab));
  backward(loss);
  opt.step();
  opt.zeroGrad();
  const read = stream.readLater([{ buffer: loss.buffer, bytes: 4 }]);
  loss.dispose();
  xt.dispose();
  stream.flush();
  const prev = pendingLoss;
  pendingLoss = read;
  return prev ? new Float32Array((await prev)[0]!)[0]! : null;
}
async function drain(): Promise<number | null> {
  const prev = pendingLoss;
  pendingLoss = null;
  return prev ? new Float32Array((await prev)[0]!)[0]! : null;
}

// Self-check: the loss falls on a fixed batch, and each step is one submission that reads back only the loss.
model.train();
const first: number[] = [];
let perStep = { submits: 0, reads: 0, readBytes: 0, uploads: 0 };
for (let i = 0; i < 6; i++) {
  const s0 = stream.submits, r0 = stream.reads, b0 = stream.readBytes, u0 = stream.uploads;
  const v = await trainStep();
  if (v !== null) first.push(v);
  perStep = { submits: stream.submits - s0, reads: stream.reads - r0, readBytes: stream.readBytes - b0, uploads: stream.uploads - u0 };
  if (i > 0 && (perStep.submits !== 1 || perStep.reads !== 1 || perStep.readBytes !== 4)) {
    throw new Error(`self-check: a training step made ${perStep.submits} submissions and ${perStep.reads} read-backs (${perStep.readBytes} bytes); expected 1 and 1 (the loss)`);
  }
}
first.push((await drain())!);
if (!(first[5]! < first[0]!)) throw new Error(`self-check: loss did not fall on a fixed batch: ${first.map((l) => l.toFixed(4)).join(' ')}`);
console.log(`self-check: loss on a fixed batch ${first.map((l) => l.toFixed(3)).join(' -> ')}; per step ${perStep.submits} submission, ${perStep.reads} read-back (${perStep.readBytes} bytes, read one step late), ${perStep.uploads} upload`);

// Timed training steps (steady state: the pipelined steps' total time over their count).
pool.resetPeaks();
const d0 = stream.dispatches, s0 = stream.submits, r0 = stream.reads;
const trainMs: number[] = [];
await trainStep();
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  await trainStep();
  trainMs.push(performance.now() - t0);
}
await drain();
const dispatchesPerStep = (stream.dispatches - d0) / (steps + 1);
const submitsPerStep = (stream.submits - s0) / (steps + 1);
const readsPerStep = (stream.reads - r0) / (steps + 1);
const peakTrain = poolStats().peakBytesAllocated;

// Per-kernel breakdown of one training step (timestamp queries, one pass per dispatch).
let breakdown: { kernel: string; calls: number; ms: number; share: number; gflops: number }[] = [];
if (stream.setProfiling(true)) {
  stream.timings.clear();
  await trainStep();
  await drain();
  await stream.sync();
  stream.setProfiling(false);
  const tot = [...stream.timings.values()].reduce((s, v) => s + v.ms, 0);
  breakdown = [...stream.timings].map(([kernel, v]) => ({ kernel, calls: v.calls, ms: v.ms, share: (100 * v.ms) / tot, gflops: v.ms > 0 ? v.flops / v.ms / 1e6 : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

// Inference (eval mode, no tape).
model.eval();
const inferMs: number[] = [];
for (let i = 0; i < steps + 1; i++) {
  const t0 = performance.now();
  const y = noGrad(() => tidy(() => model.forward(x)));
  await y.read();
  y.dispose();
  if (i > 0) inferMs.push(performance.now() - t0);
}
const peakAll = poolStats().peakBytesAllocated;

const tr = stats(trainMs), inf = stats(inferMs);
const row = {
  ...env, bench: 'resnet18', config: { arch, batch, size, width, classes, imagenet, steps, lr },
  train: { imagesPerSec: (batch * 1000) / tr.median, ms: tr }, infer: { imagesPerSec: (batch * 1000) / inf.median, ms: inf },
  peakPoolBytes: Math.max(peakTrain, peakAll), dispatchesPerStep, submitsPerStep, readsPerStep, firstLosses: first, kernels: breakdown,
};
console.log(table(['', 'images/s', 'median ms', 'min ms', 'p90 ms'], [
  ['training step', row.train.imagesPerSec, tr.median, tr.min, tr.p90],
  ['inference', row.infer.imagesPerSec, inf.median, inf.min, inf.p90],
]));
console.log(`peak pool memory ${(row.peakPoolBytes / 2 ** 20).toFixed(0)} MiB | per training step: ${dispatchesPerStep} dispatches, ${submitsPerStep} submission(s), ${readsPerStep} read-back(s)`);
if (breakdown.length) {
  console.log('\nper-kernel time of one training step (timestamp queries):');
  console.log(table(['kernel', 'calls', 'total ms', 'share %', 'GFLOP/s'], breakdown.map((b) => [b.kernel, String(b.calls), b.ms, b.share, b.gflops])));
}
const path = appendJsonl('resnet18.jsonl', [row]);
if (has('json')) console.log(JSON.stringify(row));
console.log(`appended to ${path}`);
for (const t of [x, lab]) t.dispose();
opt.dispose();
model.dispose();
destroyGpu();
