// Distillation and pre-training end to end on small Fashion-MNIST subsets (16x16 images, ResNet-18 x0.125):
// SimReg lowers its loss and leaves the teacher bit-identical, exports carry no heads, an interrupted run
// resumed from its checkpoint reproduces the uninterrupted run's losses bit for bit (SimReg and MoCo-v2,
// queue and key encoder included), a non-finite loss stops the run and keeps the last good checkpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { Encoder, saveEncoder, loadTeacher } from '../../src/distill/models.js';
import { MocoMethod } from '../../src/distill/moco.js';
import { parseArgs } from '../../src/cli/options.js';
import { PRETRAIN_SPECS, DISTILL_SPECS, runPretrain, runDistill } from '../../src/cli/train_cmds.js';
import { train, NonFiniteLossError, type Method } from '../../src/train/trainer.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { DataLoader, makePipeline } from '../../src/data/index.js';
import { openData, subset } from '../../src/train/data.js';
import { mul } from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'simreg-distill-'));
const teacherFile = join(dir, 'teacher.safetensors');
const small = ['--data', 'fashion-mnist', '--size', '16', '--workers', '0', '--quiet', '--seed', '3'];
const student = ['--arch', 'resnet18', '--width', '0.125', '--small-stem'];
const logLosses = (out: string) => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });

test.before(async () => {
  await setupGpu();
  // A teacher with a projection head, written the way `simreg pretrain` writes one.
  const t = new Encoder({ arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: 0.25 }, { hidden: 32, out: 16 }, 5);
  await saveEncoder(teacherFile, t, { withHead: true });
  t.dispose();
});
test.after(() => { teardownGpu(); rmSync(dir, { recursive: true, force: true }); });

test('SimReg: the loss falls over a few steps, the teacher stays bit-identical, the export has the backbone only', async () => {
  const out = join(dir, 'simreg');
  const o = parseArgs('distill', ['--teacher', teacherFile, ...student, ...small, '--batch', '16', '--train-subset', '64', '--steps', '24', '--lr', '0.05', '--out', out], DISTILL_SPECS);
  const r = await runDistill(o);
  assert.is(r.result.stopped, 'done');
  const l = r.result.losses;
  const first = (l[0]! + l[1]! + l[2]! + l[3]!) / 4, last = (l[20]! + l[21]! + l[22]! + l[23]!) / 4;
  assert.ok(last < first * 0.8, `loss did not fall: first four ${first}, last four ${last}`);
  // Teacher: every parameter, running statistic and counter equals the file it was loaded from.
  const after = await r.teachers[0]!.encoder.stateDict();
  const file = (await readSafetensors(teacherFile)).tensors;
  for (const [k, v] of after) {
    const name = k.replace(/^backbone\./, '').replace(/^head\.net\./, 'fc.');
    const f = file.get(name);
    assert.ok(f, `teacher key ${name} missing from the file`);
    assert.equal(Array.from(v.data), Array.from(f!.data), `teacher ${name} changed during distillation`);
  }
  r.teachers[0]!.encoder.dispose();
  // Export: exactly the student backbone's keys, no head.
  const ex = await readSafetensors(r.exported!);
  const keys = [...ex.tensors.keys()];
  assert.ok(keys.includes('conv1.weight') && keys.includes('layer4.1.bn2.running_var'));
  assert.ok(!keys.some((k) => /head|^fc\./.test(k)), `heads leaked into the export: ${keys.filter((k) => /head|^fc\./.test(k)).join(', ')}`);
  const back = await loadTeacher(r.exported!);
  assert.is(back.hasHead, false);
  assert.is(back.encoder.featureDim, 64);
  back.encoder.dispose();
  assert.ok(existsSync(join(out, 'loss.png')), 'loss curve written');
});

for (const kind of ['simreg', 'moco'] as const) {
  test(`${kind}: stopping at step 3 and resuming gives the uninterrupted run's losses bit for bit`, async () => {
    const base = kind === 'simreg'
      ? ['--teacher', teacherFile, ...student, ...small, '--batch', '8', '--train-subset', '40', '--steps', '7', '--ckpt-every', '2']
      : [...student, ...small, '--batch', '8', '--queue', '24', '--train-subset', '40', '--steps', '7', '--ckpt-every', '2', '--key-groups', '2', '--lr', '0.05'];
    const specs = kind === 'simreg' ? DISTILL_SPECS : PRETRAIN_SPECS;
    const run = async (extra: string[]) => {
      const o = parseArgs(kind === 'simreg' ? 'distill' : 'pretrain', [...base, ...extra], specs);
      const r = kind === 'simreg' ? await runDistill(o) : await runPretrain(o);
      if ('teachers' in r) for (const t of (r as Awaited<ReturnType<typeof runDistill>>).teachers) t.encoder.dispose();
      return r;
    };
    const a = join(dir, `${kind}-straight`), b = join(dir, `${kind}-resumed`);
    await run(['--out', a]);
    const stopped = await run(['--out', b, '--stop-after', '3']);
    assert.is(stopped.result.stopped, 'interrupted');
    assert.is(stopped.exported, null);
    assert.is((await loadCheckpoint(join(b, 'checkpoint.safetensors'))).step, 3);
    const resumed = await run(['--out', b, '--resume']);
    assert.is(resumed.result.stopped, 'done');
    const la = logLosses(a), lb = logLosses(b);
    assert.equal(lb.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(lb.map((r) => r.loss), la.map((r) => r.loss), 'losses differ after resume');
    // The final states agree too (models, optimiser, queue).
    const ca = await loadCheckpoint(join(a, 'checkpoint.safetensors')), cb = await loadCheckpoint(join(b, 'checkpoint.safetensors'));
    for (const [k, v] of ca.model) assert.equal(Array.from(cb.model.get(k)!.data), Array.from(v.data), `checkpoint tensor ${k} differs`);
    for (const [k, v] of ca.optimizer!) assert.equal(Array.from(cb.optimizer!.get(k)!.data), Array.from(v.data), `optimiser tensor ${k} differs`);
  });
}

test('a non-finite loss stops the run with the step named and keeps the last good checkpoint', async () => {
  const out = join(dir, 'nan');
  const data = await openData('fashion-mnist');
  const ds = subset(data.train, 32, 1);
  const loader = new DataLoader(ds, { batchSize: 8, pipeline: makePipeline('strong', { size: 16, channels: 1 }), views: 'two', dropLast: true, seed: 1 });
  const moco = new MocoMethod({ spec: { arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: 0.125 }, hidden: 16, dim: 8, queue: 16, momentum: 0.99, temperature: 0.2, keyGroups: 2, batchSize: 8, seed: 0 });
  // The same method, except that from the fifth step on the loss is multiplied by NaN.
  const poisoned: Method = {
    name: moco.name, modules: moco.modules,
    trainable: () => moco.trainable(), extraTensors: () => moco.extraTensors(), hostState: () => moco.hostState(), loadHostState: (s) => moco.loadHostState(s),
    afterStep: (b, step) => moco.afterStep(b, step),
    loss: (b, step) => { const r = moco.loss(b, step); return step >= 4 ? { loss: mul(r.loss, Tensor.fromArray([NaN], r.loss.shape)) } : r; },
  };
  let err: Error | null = null;
  try {
    await train(poisoned, loader, { steps: 8, batchSize: 8, lr: 0.01, momentum: 0.9, weightDecay: 0, warmupSteps: 0, cosinePerEpoch: false, checkpointEvery: 2, seed: 0 },
      { outDir: out, runConfig: { test: 'nan' }, quiet: true });
  } catch (e) { err = e as Error; }
  await loader.close();
  moco.dispose();
  assert.ok(err instanceof NonFiniteLossError, `expected NonFiniteLossError, got ${err}`);
  assert.match(err!.message, /NaN at step 5/);
  assert.match(err!.message, /last good checkpoint \(step 4\)/);
  const ck = await loadCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.is(ck.step, 4);
  for (const [k, v] of ck.model) assert.ok(v.data.every(Number.isFinite), `checkpoint tensor ${k} is not finite`);
  assert.equal(logLosses(out).map((r) => r.step), [1, 2, 3, 4]);
});

test('SimReg with two teachers: one head per teacher sized to its features, both losses logged', async () => {
  const t2 = join(dir, 'teacher2.safetensors');
  const t = new Encoder({ arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: 0.5 }, null, 9);
  await saveEncoder(t2, t, { withHead: false });
  t.dispose();
  const out = join(dir, 'two');
  const r = await runDistill(parseArgs('distill', ['--teacher', teacherFile, '--teacher', t2, '--head', 'mlp2', ...student, ...small, '--batch', '8', '--train-subset', '16', '--steps', '2', '--out', out], DISTILL_SPECS));
  for (const x of r.teachers) x.encoder.dispose();
  const ck = await loadCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.equal(ck.model.get('student.head0.net.3.weight')!.shape, [128, 128]);
  assert.equal(ck.model.get('student.head1.net.3.weight')!.shape, [256, 128]);
  const rec = JSON.parse(readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n')[0]!) as Record<string, number>;
  assert.ok(Math.abs(rec.loss! - (rec.teacher0! + rec.teacher1!) / 2) < 1e-5, `loss ${rec.loss} is not the mean of ${rec.teacher0} and ${rec.teacher1}`);
});

test('SimReg cached-teacher mode: features computed once, reused by the next run, equal to the teacher on un-augmented images', async () => {
  const cacheDir = join(dir, 'cache');
  const base = ['--teacher', teacherFile, '--cache-teacher', '--cache-dir', cacheDir, ...student, ...small, '--batch', '8', '--train-subset', '24', '--steps', '2'];
  const logs: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { logs.push(a.join(' ')); };
  try {
    for (const o of ['c1', 'c2']) {
      const r = await runDistill(parseArgs('distill', [...base, '--out', join(dir, o)], DISTILL_SPECS));
      for (const x of r.teachers) x.encoder.dispose();
    }
  } finally { console.log = orig; }
  assert.ok(logs.some((l) => /teacher features: computed 24 x 128/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /teacher features: reusing the cache/.test(l)), logs.join('\n'));
  // The cache holds the teacher's eval-mode features of the eval-pipeline images.
  const { readdirSync } = await import('node:fs');
  const sub = readdirSync(cacheDir)[0]!;
  const shard = (await readSafetensors(join(cacheDir, sub, 'shard-00000.safetensors'))).tensors.get('features')!;
  assert.equal(shard.shape, [24, 128]);
  const data = await openData('fashion-mnist', { imageSize: 16 });
  const ds = subset(data.train, 24, 1234);
  const t = await loadTeacher(teacherFile);
  const { extractFeatures } = await import('../../src/eval/features.js');
  const f = await extractFeatures(t.encoder.backbone, ds, makePipeline('eval', { size: 16, channels: 1, mean: data.mean, std: data.std }));
  const v = await f.features.read();
  f.features.dispose(); t.encoder.dispose();
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i]! - shard.data[i]!) < 1e-5, `cache differs at ${i}: ${shard.data[i]} vs ${v[i]}`);
});

test('DisCo: InfoNCE and consistency are both logged, the total is their sum, the teacher is untouched', async () => {
  const out = join(dir, 'disco');
  const r = await runDistill(parseArgs('distill', ['--method', 'disco', '--teacher', teacherFile, '--dim', '16', '--hidden', '64', '--queue', '16', ...student, ...small, '--batch', '8', '--train-subset', '16', '--steps', '3', '--out', out], DISTILL_SPECS));
  const recs = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.is(recs.length, 3);
  for (const rec of recs) {
    assert.ok(rec.infonce! > 0 && rec.consistency! >= 0);
    assert.ok(Math.abs(rec.loss! - rec.infonce! - rec.consistency!) < 1e-3 * Math.max(1, rec.loss!), JSON.stringify(rec));
  }
  const after = await r.teachers[0]!.encoder.stateDict();
  const file = (await readSafetensors(teacherFile)).tensors;
  for (const [k, v] of after) assert.equal(Array.from(v.data), Array.from(file.get(k.replace(/^backbone\./, '').replace(/^head\.net\./, 'fc.'))!.data), `teacher ${k} changed`);
  r.teachers[0]!.encoder.dispose();
  const keys = [...(await readSafetensors(r.exported!)).tensors.keys()];
  assert.ok(!keys.some((k) => /^fc\.|head/.test(k)), 'DisCo export carries a head');
  let err: Error | null = null;
  const plain = join(dir, 'nohead.safetensors');
  const e = new Encoder({ arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: 0.125 }, null, 1);
  await saveEncoder(plain, e, { withHead: false });
  e.dispose();
  try { await runDistill(parseArgs('distill', ['--method', 'disco', '--teacher', plain, ...student, ...small, '--batch', '8', '--train-subset', '16', '--steps', '1', '--out', join(dir, 'd2')], DISTILL_SPECS)); } catch (x) { err = x as Error; }
  assert.match(err?.message ?? '', /DisCo: the teacher has no projection head/);
});

test.run();
