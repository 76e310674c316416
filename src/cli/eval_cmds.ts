// simreg eval | export.
import { existsSync, realpathSync, statSync, accessSync, constants as fsConstants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeTextAtomic } from '../train/rundir.js';
import { Tensor } from '../autograd/tensor.js';
import { DataLoader, makePipeline, type Dataset, type PipelineSpec } from '../data/index.js';
import { knnClassify } from '../eval/knn.js';
import { extractFeatures, type FeatureExtractor } from '../eval/features.js';
import { linearProbe } from '../eval/probe.js';
import { loadCheckpoint, exportWeights } from '../io/checkpoint.js';
import type { StateDict } from '../io/state_dict.js';
import { openData, subset, type DataInfo } from '../train/data.js';
import { loadTeacher, describeSpec, describeLoad, MODEL_META_KEY, type ModelSpec } from '../distill/models.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { teacherSpecs, teacherLoadOptions } from './train_cmds.js';

export const EVAL_OPTS: OptSpec[] = [
  { name: 'weights', type: 'list', help: 'weight file(s) to evaluate: safetensors or torch.save (.pth, .pth.tar, .pt); simreg exports name their architecture, others need --teacher-arch' },
  { name: 'teacher-key', type: 'list', help: 'for each torch.save file, the dict holding its weights (default: found)' },
  { name: 'teacher-strip', type: 'list', help: 'for each file, the prefix to strip from its names (default: found)' },
  { name: 'teacher-arch', type: 'list', help: 'architecture of each weight file that does not name its own' },
  { name: 'teacher-small-stem', type: 'bool', default: false, help: 'files given by --teacher-arch use the small-image stem' },
  { name: 'teacher-width', type: 'number', default: 1, above: 0, max: 16, help: 'width multiplier of files given by --teacher-arch' },
  { name: 'raw', type: 'bool', default: false, help: 'also evaluate raw pixels (the normalised image as the feature)' },
  { name: 'knn-train', type: 'int', min: 1, help: 'use a fixed random subset of this many training images as the k-NN memory (default: all)' },
  { name: 'knn-test', type: 'int', min: 1, help: 'evaluate on a fixed random subset of this many test images (default: all)' },
  { name: 'k', type: 'list', default: ['1', '20'], help: 'neighbour counts' },
  { name: 'weighted', type: 'bool', default: false, help: 'similarity-weighted vote instead of majority' },
  { name: 'probe', type: 'bool', default: false, help: 'also train the linear probe (SGD lr 0.01, steps at 15/40 and 30/40 of the epochs)' },
  { name: 'probe-epochs', type: 'int', default: 40, min: 1, help: 'linear-probe epochs' },
  { name: 'batch', type: 'int', default: 256, min: 1, help: 'feature-extraction batch size' },
  { name: 'json', type: 'string', help: 'also write the results to this JSON file' },
];

export interface EvalRow { name: string; dim: number; params: number | null; knn: Record<number, number>; probe?: number; seconds: number }

export interface EvalSetup { data: DataInfo; train: Dataset; test: Dataset; pipeline: PipelineSpec; size: number }

export async function evalSetup(dataSpec: string, o: { size?: number; knnTrain?: number; knnTest?: number }): Promise<EvalSetup> {
  const data = await openData(dataSpec, { imageSize: o.size });
  if (!data.test) throw new UsageError(`${data.name} has no test split (val/ or test/) to evaluate on`);
  const size = o.size ?? data.size;
  const pipeline = makePipeline('eval', { size, channels: data.channels, mean: data.mean, std: data.std });
  return { data, size, pipeline, train: subset(data.train, o.knnTrain, 11), test: subset(data.test, o.knnTest, 12) };
}

async function rawPixels(ds: Dataset, pipe: PipelineSpec): Promise<{ features: Tensor; labels: Int32Array }> {
  const d = pipe.channels * pipe.height * pipe.width;
  const x = new Float32Array(ds.length * d);
  const labels = new Int32Array(ds.length);
  const loader = new DataLoader(ds, { batchSize: 512, pipeline: pipe, views: 'single', shuffle: false });
  let row = 0;
  try {
    for await (const b of loader.epoch(0)) { x.set(b.images[0]!, row * d); labels.set(b.labels, row); row += b.size; b.release(); }
  } finally { await loader.close(); }
  return { features: Tensor.fromArray(x, [ds.length, d]).keep(), labels };
}

export async function evaluateOne(name: string, model: FeatureExtractor | 'raw', s: EvalSetup, o: { ks: number[]; weighted: boolean; probe: boolean; probeEpochs: number; batch: number; params?: number | null }): Promise<EvalRow> {
  const t0 = performance.now();
  const tr = model === 'raw' ? await rawPixels(s.train, s.pipeline) : await extractFeatures(model, s.train, s.pipeline, { batchSize: o.batch });
  const te = model === 'raw' ? await rawPixels(s.test, s.pipeline) : await extractFeatures(model, s.test, s.pipeline, { batchSize: o.batch });
  try {
    const knn = await knnClassify(tr.features, tr.labels, te.features, te.labels, { ks: o.ks, numClasses: s.data.train.numClasses, weighted: o.weighted });
    const row: EvalRow = { name, dim: tr.features.shape[1]!, params: o.params ?? null, knn: knn.accuracy, seconds: 0 };
    if (o.probe) {
      const p = await linearProbe(await tr.features.read(), tr.labels, await te.features.read(), te.labels, row.dim, { numClasses: s.data.train.numClasses, epochs: o.probeEpochs });
      row.probe = p.top1;
    }
    row.seconds = (performance.now() - t0) / 1000;
    return row;
  } finally { tr.features.dispose(); te.features.dispose(); }
}

export function formatTable(rows: EvalRow[], ks: number[]): string {
  const head = ['model', 'feature dim', 'params (M)', ...ks.map((k) => `${k}-NN top-1 %`), ...(rows.some((r) => r.probe !== undefined) ? ['linear top-1 %'] : [])];
  const body = rows.map((r) => [r.name, String(r.dim), r.params === null ? '-' : (r.params / 1e6).toFixed(3), ...ks.map((k) => (100 * r.knn[k]!).toFixed(2)), ...(r.probe !== undefined ? [(100 * r.probe).toFixed(2)] : [])]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [line(head), `|${w.map((x, i) => (i === 0 ? '-'.repeat(x + 2) : `${'-'.repeat(x + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The same file after resolving links. */
export function sameFile(a: string, b: string): boolean {
  try { return realpathSync(a) === realpathSync(b); } catch { return resolve(a) === resolve(b); }
}

/** An output file must not be one of the inputs and must be writable: checked before any long work. */
export function checkOutput(flag: string, out: string, inputs: string[]): void {
  for (const i of inputs) if (sameFile(out, i)) throw new UsageError(`${flag} ${out} is one of the inputs (${i}); writing it would destroy that file. Choose another path`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`${flag} ${out} is a directory`);
  const parent = dirname(resolve(out));
  if (!existsSync(parent)) throw new UsageError(`${flag} ${out}: the directory ${parent} does not exist`);
  try { accessSync(parent, fsConstants.W_OK); } catch { throw new UsageError(`${flag} ${out}: the directory ${parent} is not writable`); }
}

export async function runEval(o: Parsed): Promise<EvalRow[]> {
  const files = (o.weights as string[] | undefined) ?? [];
  if (!files.length && !o.raw) throw new UsageError('simreg eval: give --weights FILE (or --raw for the raw-pixel baseline)');
  for (const f of files) if (!existsSync(f)) throw new UsageError(`weight file ${f} does not exist`);
  if (o.json) checkOutput('--json', String(o.json), files);
  const ks = (o.k as string[]).map(Number);
  if (!ks.every((k) => Number.isInteger(k) && k >= 1 && k <= 64)) throw new UsageError(`--k: neighbour counts must be integers in 1..64, got ${(o.k as string[]).join(',')}`);
  const s = await evalSetup(String(o.data), { size: o.size as number | undefined, knnTrain: o['knn-train'] as number | undefined, knnTest: o['knn-test'] as number | undefined });
  console.log(`evaluating on ${s.data.name}: ${s.train.length} training images as the k-NN memory, ${s.test.length} test images, ${s.size}x${s.size}`);
  const specs = teacherSpecs({ ...o, teacher: files } as Parsed, s.data.channels);
  const loadOpts = teacherLoadOptions(o, files, 'weights');
  const opts = { ks, weighted: Boolean(o.weighted), probe: Boolean(o.probe), probeEpochs: Number(o['probe-epochs']), batch: Number(o.batch) };
  const rows: EvalRow[] = [];
  if (o.raw) rows.push(await evaluateOne('raw pixels', 'raw', s, opts));
  for (let i = 0; i < files.length; i++) {
    const t = await loadTeacher(files[i]!, specs[i], loadOpts[i]);
    console.log(`weights ${describeLoad(t)}`);
    if ((t.spec.inChannels ?? 3) !== s.data.channels) throw new UsageError(`${files[i]} takes ${t.spec.inChannels ?? 3}-channel images but ${s.data.name} has ${s.data.channels}`);
    rows.push(await evaluateOne(`${files[i]} (${describeSpec(t.spec)})`, t.encoder.backbone, s, { ...opts, params: t.encoder.backbone.numParameters() }));
    t.encoder.dispose();
  }
  console.log(formatTable(rows, ks));
  if (o.json) {
    const path = String(o.json);
    writeTextAtomic(path, `${JSON.stringify({ data: s.data.name, train: s.train.length, test: s.test.length, rows }, null, 2)}\n`);
  }
  return rows;
}

export const EXPORT_OPTS: OptSpec[] = [
  { name: 'checkpoint', type: 'string', help: 'a checkpoint written by simreg pretrain or distill (<out>/checkpoint.safetensors)' },
  { name: 'out', type: 'string', help: 'the weight file to write' },
  { name: 'with-head', type: 'bool', default: false, help: 'keep the MoCo projection head as fc.0/fc.2 (pre-training checkpoints; makes a DisCo teacher)' },
  { name: 'half', type: 'bool', default: false, help: 'store as float16 (refused for values beyond +-65504 unless --clamp)' },
  { name: 'clamp', type: 'bool', default: false, help: 'with --half: clamp values beyond float16\'s range to +-65504' },
];

/** Export the student (or MoCo query encoder) backbone of a checkpoint. */
export async function runExport(o: Parsed): Promise<void> {
  if (!o.checkpoint || !o.out) throw new UsageError('simreg export: --checkpoint FILE and --out FILE are required');
  const file = String(o.checkpoint);
  if (!existsSync(file)) throw new UsageError(`checkpoint ${file} does not exist`);
  checkOutput('--out', String(o.out), [file]);
  const ck = await loadCheckpoint(file);
  const cfg = ck.config as { student?: ModelSpec; moco?: { spec: ModelSpec } } | undefined;
  const spec = cfg?.student ?? cfg?.moco?.spec;
  if (!spec) throw new UsageError(`${file}: the checkpoint does not record its model (not written by simreg pretrain/distill?)`);
  const out: StateDict = new Map();
  // SimReg checkpoints hold student.backbone.*; MoCo-v2 and DisCo ones the query encoder's backbone.
  const prefix = [...ck.model.keys()].some((k) => k.startsWith('student.backbone.')) ? 'student.backbone.' : 'query.backbone.';
  for (const [k, v] of ck.model) {
    if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
    if (o['with-head'] && k.startsWith('query.head.net.')) out.set(`fc.${k.slice('query.head.net.'.length)}`, v);
  }
  if (!out.size) throw new UsageError(`${file}: no student backbone tensors found`);
  if (o['with-head'] && ![...out.keys()].some((k) => k.startsWith('fc.'))) {
    throw new UsageError(`--with-head: ${file} has no MoCo projection head (a SimReg student's prediction heads are trained for one teacher and are not exported); export without --with-head`);
  }
  await exportWeights(String(o.out), out, { [MODEL_META_KEY]: JSON.stringify(spec), 'simreg.trained': JSON.stringify({ checkpoint: file, step: ck.step }) }, { dtype: o.half ? 'F16' : 'F32', clamp: Boolean(o.clamp) });
  console.log(`wrote ${out.size} tensors (${describeSpec(spec)}${o['with-head'] ? ', with projection head' : ', backbone only'}) from step ${ck.step} to ${String(o.out)}`);
}
