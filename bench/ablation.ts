// The papers' ablations in miniature on Fashion-MNIST (README "The papers' claims, reproduced in miniature"):
//   node bench/ablation.mjs [--steps 150] [--batch 64] [--knn-train 5000] [--knn-test 1000]
//                           [--teacher A.safetensors] [--teacher-b B.safetensors] [--only name,name] [--out runs/ablation]
// Every student is ResNet-18 x0.125 (small stem, 1 channel), trained from the same seed for the same number of
// steps with the same batch, and scored by k-NN top-1 (k = 1, 20) on fixed subsets. Rows:
//   SimReg head: linear | 2-layer | 4-layer (same weak view);  views: same weak view vs different strong views;
//   teachers: A alone, B alone, A + B (one head each);  DisCo hidden width 512 vs 2048.
// Results append to bench/results/ablation.jsonl; the table prints in the README's format.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { initGpu, destroyGpu } from '../src/gpu/device.js';
import { parseArgs } from '../src/cli/options.js';
import { DISTILL_SPECS, runDistill } from '../src/cli/train_cmds.js';
import { evalSetup, evaluateOne, type EvalRow } from '../src/cli/eval_cmds.js';
import { loadTeacher, buildBackbone } from '../src/distill/models.js';
import { SHIPPED_TEACHER, SHIPPED_TEACHER_B } from '../src/cli/demo.js';
import { envRecord, appendJsonl, table } from './lib/harness.js';

const args = process.argv.slice(2);
const val = (f: string, d: string) => { const i = args.indexOf(`--${f}`); return i >= 0 ? args[i + 1]! : d; };
if (args.includes('--help')) { console.log('node bench/ablation.mjs [--steps 150] [--batch 64] [--knn-train 5000] [--knn-test 1000] [--teacher A] [--teacher-b B] [--only a,b] [--out runs/ablation]'); process.exit(0); }
const steps = val('steps', '150'), batch = val('batch', '64');
const knnTrain = Number(val('knn-train', '5000')), knnTest = Number(val('knn-test', '1000'));
const A = val('teacher', SHIPPED_TEACHER), B = val('teacher-b', SHIPPED_TEACHER_B);
const out = val('out', join('runs', 'ablation'));
const only = args.includes('--only') ? val('only', '').split(',') : null;
for (const f of [A, B]) if (!existsSync(f)) { console.error(`teacher ${f} is missing`); process.exit(1); }

interface Case { name: string; group: string; args: string[] }
const cases: Case[] = [
  { name: 'head-linear', group: 'SimReg head', args: ['--method', 'simreg', '--teacher', A, '--head', 'linear'] },
  { name: 'head-mlp2', group: 'SimReg head', args: ['--method', 'simreg', '--teacher', A, '--head', 'mlp2'] },
  { name: 'head-mlp4', group: 'SimReg head / teacher A alone / same weak view', args: ['--method', 'simreg', '--teacher', A, '--head', 'mlp4'] },
  { name: 'views-different-strong', group: 'SimReg views', args: ['--method', 'simreg', '--teacher', A, '--views', 'different', '--aug', 'strong'] },
  { name: 'teacher-b-alone', group: 'teachers', args: ['--method', 'simreg', '--teacher', B] },
  { name: 'teachers-a+b', group: 'teachers', args: ['--method', 'simreg', '--teacher', A, '--teacher', B] },
  { name: 'disco-hidden-512', group: 'DisCo hidden width', args: ['--method', 'disco', '--teacher', A, '--hidden', '512'] },
  { name: 'disco-hidden-2048', group: 'DisCo hidden width', args: ['--method', 'disco', '--teacher', A, '--hidden', '2048'] },
];

await initGpu();
const env = envRecord();
const setup = await evalSetup('fashion-mnist', { knnTrain, knnTest });
const eo = { ks: [1, 20], weighted: false, probe: false, probeEpochs: 40, batch: 256 };
const rows: { name: string; group: string; knn1: number; knn20: number; trainSeconds: number; finalLoss: number }[] = [];
const t0 = performance.now();
for (const [name, file] of [['teacher A', A], ['teacher B', B]] as const) {
  if (only && !only.includes(name.replace(' ', '-'))) continue;
  const t = await loadTeacher(file);
  const r: EvalRow = await evaluateOne(name, t.encoder.backbone, setup, eo);
  t.encoder.dispose();
  rows.push({ name: `${name} (${file.split('/').pop()})`, group: 'reference', knn1: r.knn[1]!, knn20: r.knn[20]!, trainSeconds: 0, finalLoss: NaN });
  console.log(`${name}: 1-NN ${(100 * r.knn[1]!).toFixed(2)}%, 20-NN ${(100 * r.knn[20]!).toFixed(2)}%`);
}
// The floor: every student's common initialisation, untrained.
if (!only || only.includes('untrained')) {
  const init = buildBackbone({ arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: 0.125 }, 0);
  const r = await evaluateOne('untrained', init, setup, eo);
  init.dispose();
  rows.push({ name: 'student, untrained (the common initialisation)', group: 'reference', knn1: r.knn[1]!, knn20: r.knn[20]!, trainSeconds: 0, finalLoss: NaN });
  console.log(`untrained student: 1-NN ${(100 * r.knn[1]!).toFixed(2)}%, 20-NN ${(100 * r.knn[20]!).toFixed(2)}%`);
}
for (const c of cases) {
  if (only && !only.includes(c.name)) continue;
  const o = parseArgs('distill', [...c.args, '--preset', 'fmnist', '--width', '0.125', '--steps', steps, '--batch', batch, '--ckpt-every', '0', '--cosine-per-step', '--quiet', '--workers', '2', '--out', join(out, c.name)], DISTILL_SPECS);
  const r = await runDistill(o);
  for (const t of r.teachers) t.encoder.dispose();
  const s = await loadTeacher(r.exported!);
  const e = await evaluateOne(c.name, s.encoder.backbone, setup, eo);
  s.encoder.dispose();
  const last = r.result.losses.slice(-10);
  rows.push({ name: c.name, group: c.group, knn1: e.knn[1]!, knn20: e.knn[20]!, trainSeconds: r.result.seconds, finalLoss: last.reduce((a, b) => a + b, 0) / last.length });
  console.log(`${c.name}: 1-NN ${(100 * e.knn[1]!).toFixed(2)}%, 20-NN ${(100 * e.knn[20]!).toFixed(2)}% (${r.result.seconds.toFixed(0)} s training)`);
}
const total = (performance.now() - t0) / 1000;
console.log(`\nFashion-MNIST, student ResNet-18 x0.125, ${steps} steps of batch ${batch}; k-NN memory ${setup.train.length} training images, ${setup.test.length} test images; total ${(total / 60).toFixed(1)} min`);
console.log(table(['run', 'ablation', '1-NN %', '20-NN %', 'train s', 'final loss'], rows.map((r) => [r.name, r.group, 100 * r.knn1, 100 * r.knn20, r.group === 'reference' ? '' : r.trainSeconds, Number.isNaN(r.finalLoss) ? '' : r.finalLoss])));
const path = appendJsonl('ablation.jsonl', [{ ...env, bench: 'ablation', config: { steps: Number(steps), batch: Number(batch), knnTrain, knnTest, teachers: [A, B] }, rows, totalSeconds: total }]);
console.log(`appended to ${path}`);
destroyGpu();
