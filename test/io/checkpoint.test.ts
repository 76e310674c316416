// Training checkpoints (exact round trip, format tag, validation, atomic overwrite) and weight export.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CHECKPOINT_FORMAT, exportWeights, f16ToF32, f32ToF16, loadCheckpoint, readSafetensors, readSafetensorsHeader, saveCheckpoint, writeSafetensors,
  type Checkpoint, type StateDict,
} from '../../src/io/index.js';
import { bitsOf, matchAll, randomF32, reEscape, rejects, tempDir } from './util.js';

const tmp = tempDir('ckpt');
test.after(() => tmp.cleanup());

function model(): StateDict {
  const special = new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0xff800000]).buffer);
  return new Map([
    ['conv1.weight', { shape: [2, 3, 3, 3], data: randomF32(54, 1) }],
    ['bn1.weight', { shape: [4], data: special }],
    ['bn1.running_mean', { shape: [4], data: randomF32(4, 2) }],
    ['bn1.num_batches_tracked', { shape: [], data: new Float32Array([1234]), dtype: 'I64' }],
    ['fc.weight', { shape: [10, 2], data: randomF32(20, 3) }],
  ]);
}

/** model() without its NaN and infinity: what an export may hold (-0 and a denormal stay). */
function finiteModel(): StateDict {
  const m = model();
  m.set('bn1.weight', { shape: [4], data: new Float32Array(new Uint32Array([0x3fc00000, 0x80000000, 0x00000001, 0xc0000000]).buffer) });
  return m;
}

function sameDict(a: StateDict, b: StateDict): void {
  assert.equal([...a.keys()], [...b.keys()]);
  for (const [k, e] of a) {
    const g = b.get(k)!;
    assert.equal(g.shape, e.shape, k);
    assert.equal(bitsOf(g.data), bitsOf(e.data), k);
    assert.is(g.dtype, e.dtype ?? 'F32', k);
  }
}

test('checkpoint round trip is exact: tensors bit for bit, step, epoch, rng, schedule, config, extra', async () => {
  const file = tmp.path('c1.safetensors');
  const optimizer: StateDict = new Map([...model()].filter(([k]) => !k.includes('running') && !k.includes('num_batches'))
    .map(([k, e]) => [k, { shape: e.shape, data: randomF32(e.data.length, 9) }]));
  const ckpt: Checkpoint = {
    model: model(),
    optimizer,
    step: 123456,
    epoch: 7,
    rng: [0, 1, 0xffffffff, 0x9e3779b9],
    schedule: { kind: 'cosine', baseLr: 0.05, warmupEpochs: 10, milestones: [30, 60] },
    config: { arch: 'resnet18', teacher: 'mocov2_r50.safetensors', lr: 0.1 + 0.2, wd: 1e-4, nested: { ünï: 'cödé "q"', flag: true, none: null } },
    extra: { bestKnn: 0.4375, history: [1.5, 1.25] },
  };
  await saveCheckpoint(file, ckpt);
  const back = await loadCheckpoint(file);
  sameDict(ckpt.model, back.model);
  sameDict(optimizer, back.optimizer!);
  assert.is(back.step, 123456);
  assert.is(back.epoch, 7);
  assert.equal(back.rng, ckpt.rng);
  assert.equal(back.schedule, ckpt.schedule);
  assert.equal(back.config, ckpt.config);
  assert.equal(back.extra, ckpt.extra);
  assert.is((back.config as { lr: number }).lr, 0.1 + 0.2); // doubles survive JSON exactly
  // On disk: model.* / optim.* tensors, simreg.* metadata, num_batches_tracked kept as int64.
  const { tensors, metadata } = await readSafetensors(file);
  assert.ok([...tensors.keys()].every((k) => k.startsWith('model.') || k.startsWith('optim.')));
  assert.is(tensors.get('model.bn1.num_batches_tracked')!.dtype, 'I64');
  assert.is(metadata['simreg.format'], CHECKPOINT_FORMAT);
  assert.is(metadata['simreg.step'], '123456');
  assert.is(metadata['simreg.rng'], '[0,1,4294967295,2654435769]');
});

test('checkpoint without optimizer or extras; empty optimizer; string rng', async () => {
  const file = tmp.path('c2.safetensors');
  await saveCheckpoint(file, { model: model(), step: 0, epoch: 0 });
  const a = await loadCheckpoint(file);
  assert.equal(Object.keys(a).sort(), ['epoch', 'model', 'step']);
  assert.is(a.optimizer, undefined);
  await saveCheckpoint(file, { model: new Map(), optimizer: new Map(), step: 1, epoch: 0, rng: 'xoshiro:abcdef' });
  const b = await loadCheckpoint(file);
  assert.is(b.model.size, 0);
  assert.ok(b.optimizer instanceof Map && b.optimizer.size === 0);
  assert.is(b.rng, 'xoshiro:abcdef');
});

test('loadCheckpoint rejects other files with a clear message naming the file', async () => {
  const at = (f: string) => new RegExp(`^${reEscape(f)}: `);
  const plain = tmp.path('plain.safetensors');
  await exportWeights(plain, finiteModel());
  matchAll(await rejects(loadCheckpoint(plain)), at(plain), /not a simreg checkpoint \(no "simreg\.format" in __metadata__\)/);
  const future = tmp.path('future.safetensors');
  await writeSafetensors(future, [], { 'simreg.format': 'simreg-checkpoint-2', 'simreg.step': '1', 'simreg.epoch': '0' });
  matchAll(await rejects(loadCheckpoint(future)), at(future), /unsupported checkpoint format "simreg-checkpoint-2" \(this version reads "simreg-checkpoint-1"\)/);
  const base = { 'simreg.format': CHECKPOINT_FORMAT, 'simreg.step': '1', 'simreg.epoch': '0' };
  const cases: Array<[Record<string, string>, RegExp, string[]?]> = [
    [{ ...base, 'simreg.step': '-1' }, /metadata "simreg\.step" must be a non-negative integer, got "-1"/],
    [{ ...base, 'simreg.epoch': 'x' }, /metadata "simreg\.epoch" is not valid JSON/],
    [{ 'simreg.format': CHECKPOINT_FORMAT, 'simreg.epoch': '0' }, /metadata "simreg\.step" must be a non-negative integer, got null/],
    [{ ...base, 'simreg.rng': '{"a":1}' }, /"simreg\.rng" must be a string or an array of numbers/],
    [{ ...base, 'simreg.config': '3' }, /"simreg\.config" must be a JSON object or array/],
    [{ ...base, 'simreg.tensors': '{"model":2}' }, /should hold 2 model tensors but has 1/, ['model.w']],
    [base, /unexpected tensor "stray" in a checkpoint/, ['stray']],
  ];
  let i = 0;
  for (const [meta, re, names] of cases) {
    const f = tmp.path(`bad${i++}.safetensors`);
    await writeSafetensors(f, (names ?? []).map((name) => ({ name, shape: [1], data: new Float32Array(1) })), meta);
    matchAll(await rejects(loadCheckpoint(f)), at(f), re);
  }
});

test('saveCheckpoint validates step, epoch and JSON-ability, and overwrites atomically', async () => {
  const file = tmp.path('c3.safetensors');
  await saveCheckpoint(file, { model: model(), step: 5, epoch: 1 });
  const before = readFileSync(file);
  const at = new RegExp(`^${reEscape(file)}: `);
  matchAll(await rejects(saveCheckpoint(file, { model: model(), step: -1, epoch: 0 })), at, /step must be a non-negative integer, got -1/);
  matchAll(await rejects(saveCheckpoint(file, { model: model(), step: 1, epoch: 0.5 })), at, /epoch must be a non-negative integer/);
  matchAll(await rejects(saveCheckpoint(file, { model: model(), step: 1, epoch: 0, config: { opt: { lr: NaN } } })), at, /checkpoint config\.opt\.lr: NaN cannot be stored as JSON/);
  matchAll(await rejects(saveCheckpoint(file, { model: model(), step: 1, epoch: 0, rng: [1, Infinity] })), at, /checkpoint rng\[1\]: Infinity/);
  matchAll(await rejects(saveCheckpoint(file, { model: model(), step: 1, epoch: 0, extra: { f: () => 1 } })), at, /checkpoint extra\.f: a function/);
  const broken = model();
  broken.set('fc.bias', { shape: [10], data: new Float32Array(3) });
  matchAll(await rejects(saveCheckpoint(file, { model: broken, step: 6, epoch: 1 })), at, /tensor "model\.fc\.bias": shape \[10\] has 10 elements but data has 3/);
  assert.equal(readFileSync(file), before);
  assert.equal(readdirSync(tmp.dir).filter((n) => n.includes('.tmp-')), []);
  assert.is((await loadCheckpoint(file)).step, 5);
  // undefined fields in config objects are dropped like absent ones.
  await saveCheckpoint(file, { model: new Map(), step: 1, epoch: 0, config: { a: 1, b: undefined } });
  assert.equal((await loadCheckpoint(file)).config, { a: 1 });
});

test('exportWeights: bare torchvision names, format "pt", int64 num_batches_tracked, optional F16', async () => {
  const file = tmp.path('export.safetensors');
  const m = finiteModel();
  m.set('layer1.0.bn2.num_batches_tracked', { shape: [], data: new Float32Array([77]) }); // no dtype: named by key
  await exportWeights(file, m, { arch: 'resnet18' });
  const h = await readSafetensorsHeader(file);
  assert.equal(h.metadata, { format: 'pt', arch: 'resnet18' });
  assert.equal(h.entries.map((e) => [e.name, e.dtype]), [
    ['conv1.weight', 'F32'], ['bn1.weight', 'F32'], ['bn1.running_mean', 'F32'], ['bn1.num_batches_tracked', 'I64'],
    ['fc.weight', 'F32'], ['layer1.0.bn2.num_batches_tracked', 'I64'],
  ]);
  // The header is exactly what a strict reader expects: contiguous offsets from 0 to the end of the file.
  let off = 0;
  for (const e of h.entries) {
    assert.is(e.dataOffsets[0], off);
    off = e.dataOffsets[1];
  }
  assert.is(off, h.dataBytes);
  const { tensors } = await readSafetensors(file);
  assert.equal(bitsOf(tensors.get('conv1.weight')!.data), bitsOf(m.get('conv1.weight')!.data));
  assert.equal(Array.from(tensors.get('layer1.0.bn2.num_batches_tracked')!.data), [77]);
  // Half-precision export rounds floats and keeps the int64 buffers.
  const half = tmp.path('export16.safetensors');
  await exportWeights(half, m, {}, { dtype: 'F16' });
  const r = await readSafetensors(half);
  assert.is(r.tensors.get('fc.weight')!.dtype, 'F16');
  assert.is(r.tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');
  const src = m.get('fc.weight')!.data;
  assert.equal(Array.from(r.tensors.get('fc.weight')!.data), Array.from(src, (v) => f16ToF32(f32ToF16(v))));
  assert.equal(r.metadata, { format: 'pt' });
});

test('exportWeights writes nothing non-finite, and float16 refuses values beyond +-65504 unless clamped', async () => {
  const file = tmp.path('bad-export.safetensors');
  matchAll(await rejects(exportWeights(file, model())), new RegExp(`^${reEscape(file)}: bn1\\.weight holds 2 non-finite value\\(s\\) \\(the first, NaN, at index 0\\); nothing was written`));
  assert.not.ok(existsSync(file));
  const big = finiteModel();
  big.set('fc.weight', { shape: [2], data: new Float32Array([70000, -1e6]) });
  await exportWeights(file, big); // float32 holds them
  const half = tmp.path('bad-export16.safetensors');
  matchAll(await rejects(exportWeights(half, big, {}, { dtype: 'F16' })), /fc\.weight holds 2 value\(s\) beyond float16's range \+-65504 \(the first, 70000, at index 0\).*nothing was written.*--clamp/);
  assert.not.ok(existsSync(half));
  await exportWeights(half, big, {}, { dtype: 'F16', clamp: true });
  assert.equal(Array.from((await readSafetensors(half)).tensors.get('fc.weight')!.data), [65504, -65504]);
});

test.run();
