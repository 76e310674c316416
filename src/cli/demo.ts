// simreg demo (npm start): the mission on an embedded default. Distil the shipped MoCo-v2 Fashion-MNIST
// teacher into a 4x smaller student with SimReg, train the same student with MoCo-v2 alone for the same
// number of steps, and compare raw pixels, teacher and both students by k-NN top-1.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTeacher, describeSpec, buildBackbone } from '../distill/models.js';
import { parseArgs, type OptSpec } from './options.js';
import { PRETRAIN_SPECS, DISTILL_SPECS, runPretrain, runDistill } from './train_cmds.js';
import { evalSetup, evaluateOne, formatTable, type EvalRow } from './eval_cmds.js';
import { formatDuration } from '../train/progress.js';

// The project root: the nearest folder above this bundle with a package.json (dist/cli.js and dist/bench/*.js alike).
function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) { if (existsSync(join(d, 'package.json'))) return d; d = dirname(d); }
  return process.cwd();
}
const root = projectRoot();
export const SHIPPED_TEACHER = join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors');
/** A second, weaker teacher for the two-teacher ablation: the same pre-training run's checkpoint halfway. */
export const SHIPPED_TEACHER_B = join(root, 'assets', 'fmnist-moco-resnet18x0.25-halfway.safetensors');

export const DEMO_OPTS: OptSpec[] = [
  { name: 'teacher', type: 'string', default: SHIPPED_TEACHER, help: 'teacher weight file (default: the shipped MoCo-v2 Fashion-MNIST ResNet-18 x0.25)' },
  { name: 'steps', type: 'int', min: 1, help: 'training steps of each student (default 400; 6 with --fast)' },
  { name: 'batch', type: 'int', default: 64, min: 2, help: 'batch size' },
  { name: 'width', type: 'number', default: 0.125, help: 'student width multiplier (ResNet-18)' },
  { name: 'knn-train', type: 'int', min: 20, help: 'k-NN memory: a fixed subset of the training set (default 10000; 400 with --fast)' },
  { name: 'knn-test', type: 'int', min: 1, help: 'test images (default 2000; 200 with --fast)' },
  { name: 'workers', type: 'int', default: 2, min: 0, help: 'data-loading worker threads' },
  { name: 'out', type: 'string', default: join('runs', 'demo'), help: 'where the runs, logs and weights go' },
  { name: 'fast', type: 'bool', default: false, help: 'shrink everything (CI smoke run: a few steps, small k-NN sets)' },
  { name: 'seed', type: 'int', default: 0, help: 'seed' },
];

export async function runDemo(o: Record<string, unknown>): Promise<EvalRow[]> {
  const t0 = performance.now();
  const fast = Boolean(o.fast);
  const steps = (o.steps as number | undefined) ?? (fast ? 6 : 400);
  const knnTrain = (o['knn-train'] as number | undefined) ?? (fast ? 400 : 10000);
  const knnTest = (o['knn-test'] as number | undefined) ?? (fast ? 200 : 2000);
  const out = String(o.out);
  mkdirSync(out, { recursive: true });
  const base = ['--data', 'fashion-mnist', '--batch', String(o.batch), '--workers', String(o.workers), '--seed', String(o.seed)];
  // The students' runs are shorter than an epoch: their cosine decays per step (per epoch it would stay at the base rate).
  // The demo owns <out>/simreg and <out>/moco-student: a second `npm start` replaces its own earlier runs there.
  const common = [...base, '--ckpt-every', '0', '--cosine-per-step', '--overwrite'];
  const times: [string, number][] = [];
  const lap = (label: string, since: number) => { const s = (performance.now() - since) / 1000; times.push([label, s]); return s; };

  let teacher = String(o.teacher);
  if (!existsSync(teacher)) {
    const tsteps = fast ? 6 : 2800;
    console.log(`The teacher ${teacher} is missing: pre-training one with MoCo-v2 (${tsteps} steps; about ${fast ? 'a minute' : '85 minutes'} on a 2-core CPU without a GPU (measured: 5134 s)).`);
    const t = performance.now();
    // The shipped teacher's own command (README), with its checkpoints every 200 steps.
    const r = await runPretrain(parseArgs('pretrain', ['--preset', 'fmnist', '--steps', String(tsteps), '--ckpt-every', '200', '--half', '--out', join(out, 'teacher'), ...base], PRETRAIN_SPECS));
    if (!r.exported) throw new Error('teacher pre-training was interrupted');
    teacher = r.exported;
    console.log(`teacher pre-trained in ${formatDuration(lap('teacher pre-training', t))}`);
  }
  const info = await loadTeacher(teacher);
  console.log(`teacher: ${teacher} (${describeSpec(info.spec)}, ${(info.encoder.backbone.numParameters() / 1e6).toFixed(3)} M parameters)`);

  console.log(`\n[1/3] SimReg: distil the teacher into ResNet-18 x${o.width} for ${steps} steps`);
  let t = performance.now();
  const sr = await runDistill(parseArgs('distill', ['--preset', 'fmnist', '--method', 'simreg', '--teacher', teacher, '--width', String(o.width), '--steps', String(steps), '--out', join(out, 'simreg'), ...common], DISTILL_SPECS));
  lap('SimReg distillation', t);
  for (const x of sr.teachers) x.encoder.dispose();

  console.log(`\n[2/3] MoCo-v2 alone: the same student, the same ${steps} steps, no teacher`);
  t = performance.now();
  const mc = await runPretrain(parseArgs('pretrain', ['--preset', 'fmnist', '--width', String(o.width), '--steps', String(steps), '--out', join(out, 'moco-student'), ...common], PRETRAIN_SPECS));
  lap('MoCo-v2 student', t);
  if (!sr.exported || !mc.exported) throw new Error('a training run was interrupted');

  console.log(`\n[3/3] k-NN evaluation (${knnTrain} training images as memory, ${knnTest} test images)`);
  t = performance.now();
  const s = await evalSetup('fashion-mnist', { knnTrain, knnTest });
  const eo = { ks: [1, 20], weighted: false, probe: false, probeEpochs: 40, batch: 256 };
  const rows: EvalRow[] = [];
  rows.push(await evaluateOne('raw pixels', 'raw', s, eo));
  rows.push(await evaluateOne(`teacher (MoCo-v2, ${describeSpec(info.spec)})`, info.encoder.backbone, s, { ...eo, params: info.encoder.backbone.numParameters() }));
  info.encoder.dispose();
  for (const [name, file] of [[`student, SimReg from the teacher, ${steps} steps`, sr.exported], [`student, MoCo-v2 alone, ${steps} steps`, mc.exported]] as const) {
    const m = await loadTeacher(file);
    rows.push(await evaluateOne(name, m.encoder.backbone, s, { ...eo, params: m.encoder.backbone.numParameters() }));
    m.encoder.dispose();
  }
  // The honest floor: the students' common initialisation, untrained (random features already cluster Fashion-MNIST).
  const init = buildBackbone({ arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: Number(o.width) }, Number(o.seed));
  rows.push(await evaluateOne('student, untrained (the initialisation both start from)', init, s, { ...eo, params: init.numParameters() }));
  init.dispose();
  lap('k-NN evaluation', t);
  console.log(`\nFashion-MNIST k-NN top-1 (L2-normalised pooled features, majority vote; ${knnTrain} train / ${knnTest} test images):`);
  console.log(formatTable(rows, [1, 20]));
  const total = (performance.now() - t0) / 1000;
  console.log(`\ntime: ${times.map(([l, s]) => `${l} ${formatDuration(s)}`).join(', ')}; total ${formatDuration(total)}`);
  writeFileSync(join(out, 'results.json'), `${JSON.stringify({ steps, knnTrain, knnTest, teacher, rows, times: Object.fromEntries(times), totalSeconds: total }, null, 2)}\n`);
  console.log(`results: ${join(out, 'results.json')}`);
  return rows;
}
