// simreg pretrain | distill: option tables, presets, and the runs themselves.
import { existsSync, createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gpuContext, listAdapters } from '../gpu/device.js';
import { DeviceMemoryError } from '../gpu/pool.js';
import { openRunDir, type RunDir } from '../train/rundir.js';
import { DataLoader, makePipeline, type Dataset } from '../data/index.js';
import { ARCHITECTURES } from '../nn/registry.js';
import { train, type TrainConfig, type TrainResult } from '../train/trainer.js';
import { openData, subset, type DataInfo } from '../train/data.js';
import { MocoMethod } from '../distill/moco.js';
import { SimRegMethod } from '../distill/simreg.js';
import { loadTeacher, saveEncoder, describeSpec, describeLoad, Encoder, type ModelSpec, type LoadedTeacher, type TeacherOptions } from '../distill/models.js';
import { cachedTeacherFeatures } from '../distill/cache.js';
import { exportWeights } from '../io/checkpoint.js';
import { MODEL_META_KEY } from '../distill/models.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { runReplicas, type Exchange } from '../train/replicas.js';

export const DATA_OPTS: OptSpec[] = [
  { name: 'data', type: 'string', default: 'fashion-mnist', help: 'fashion-mnist (Debian\'s package), or a directory of MNIST-style IDX files, CIFAR binary batches or an image folder' },
  { name: 'size', type: 'int', min: 8, help: 'image side (default: the data set\'s own; 224 for image folders)' },
  { name: 'workers', type: 'int', default: 2, min: 0, max: 64, help: 'data-loading worker threads' },
];

export const TRAIN_OPTS: OptSpec[] = [
  { name: 'batch', type: 'int', min: 2, help: 'batch size' },
  { name: 'epochs', type: 'number', above: 0, help: 'training length in epochs (ignored when --steps is given)' },
  { name: 'steps', type: 'int', min: 1, help: 'training length in optimiser steps' },
  { name: 'lr', type: 'number', min: 0, help: 'base learning rate (cosine decay)' },
  { name: 'sgd-momentum', type: 'number', default: 0.9, min: 0, below: 1, help: 'SGD momentum' },
  { name: 'weight-decay', type: 'number', default: 1e-4, min: 0, max: 1, help: 'SGD weight decay' },
  { name: 'warmup-steps', type: 'int', default: 0, min: 0, help: 'linear learning-rate warm-up' },
  { name: 'cosine-per-step', type: 'bool', default: false, help: 'decay the rate every step instead of once per epoch (the papers)' },
  { name: 'train-subset', type: 'int', min: 1, help: 'train on a fixed random subset of this many images' },
  { name: 'ckpt-every', type: 'int', default: 500, min: 0, help: 'write a checkpoint every N steps (and always at the end and on SIGINT/SIGTERM)' },
  { name: 'seed', type: 'int', default: 0, min: 0, max: 2147483647, help: 'seed of initialisation, data order and augmentation' },
  { name: 'out', type: 'string', help: 'run directory: config.json, log.jsonl, loss.png, checkpoint, exported weights' },
  { name: 'resume', type: 'bool', default: false, help: 'continue the run in --out from its checkpoint, bit for bit (only --lr may change)' },
  { name: 'overwrite', type: 'bool', default: false, help: 'replace the run in --out (without it, a directory holding another run is refused)' },
  { name: 'half', type: 'bool', default: false, help: 'store exported weights as float16 (refused for values beyond +-65504 unless --clamp)' },
  { name: 'clamp', type: 'bool', default: false, help: 'with --half: clamp values beyond float16\'s range to +-65504' },
  { name: 'quiet', type: 'bool', default: false, help: 'no progress line' },
  { name: 'stop-after', type: 'int', min: 1, help: 'stop after this step as if interrupted (checkpoint written; continue with --resume)' },
  { name: 'devices', type: 'string', default: '1', help: 'data-parallel replicas, one device each: N, or all (every GPU adapter found); --batch is the global batch, split evenly' },
  { name: 'bucket-mb', type: 'number', default: 25, min: 0, help: 'with --devices: gradients go to the other devices in buckets of this many MiB as the backward pass finishes them, overlapping it (0: all after it; the result is the same)' },
  { name: 'check-replicas', type: 'bool', default: false, help: 'with --devices: compare a hash of every replica\'s weights after each step and stop if they differ (slower; logged)' },
];

export const MODEL_OPTS: OptSpec[] = [
  { name: 'arch', type: 'string', default: 'resnet18', choices: ARCHITECTURES, help: 'architecture to train' },
  { name: 'width', type: 'number', default: 1, above: 0, max: 16, help: 'width multiplier (ResNets, MobileNet-v2)' },
  { name: 'small-stem', type: 'bool', help: '3x3 stride-1 stem without max-pool (default: on for images up to 64 pixels)' },
];

export const MOCO_OPTS: OptSpec[] = [
  { name: 'dim', type: 'int', default: 128, min: 1, help: 'embedding dimension' },
  { name: 'hidden', type: 'int', min: 1, help: 'projection head hidden width (MoCo-v2: the feature dimension; DisCo: 2048)' },
  { name: 'queue', type: 'int', default: 65536, min: 1, help: 'queue length (a multiple of --batch)' },
  { name: 'moco-m', type: 'number', default: 0.999, min: 0, below: 1, help: 'key encoder momentum' },
  { name: 'temperature', type: 'number', default: 0.2, above: 0, help: 'InfoNCE temperature' },
  { name: 'key-groups', type: 'int', min: 1, help: 'BatchNorm sub-batches of the key encoder, the single-device Shuffling-BN replacement (default: batch/32, at most 8)' },
];

export const PRESET_DEFAULTS: Record<string, Record<string, Record<string, unknown>>> = {
  pretrain: {
    default: { batch: 256, epochs: 200, lr: 0.03 },
    fmnist: { arch: 'resnet18', width: 0.25, batch: 64, lr: 0.03, queue: 4096, 'moco-m': 0.99 },
    cifar: { arch: 'resnet18', batch: 256, epochs: 200, lr: 0.06, queue: 4096, 'moco-m': 0.99, temperature: 0.1 },
    imagenet: { arch: 'resnet50', batch: 256, epochs: 200, lr: 0.03, queue: 65536 },
  },
  simreg: {
    default: { batch: 256, epochs: 130, lr: 0.05 },
    fmnist: { arch: 'resnet18', width: 0.125, batch: 64, lr: 0.05 },
    cifar: { arch: 'resnet18', batch: 256, epochs: 130, lr: 0.05 },
    imagenet: { arch: 'resnet18', batch: 256, epochs: 130, lr: 0.05 },
  },
  disco: {
    default: { batch: 256, epochs: 200, lr: 0.03, hidden: 2048 },
    fmnist: { arch: 'resnet18', width: 0.125, batch: 64, lr: 0.03, queue: 4096, 'moco-m': 0.99, hidden: 2048 },
    cifar: { arch: 'resnet18', batch: 256, epochs: 200, lr: 0.06, queue: 4096, 'moco-m': 0.99, temperature: 0.1, hidden: 2048 },
    imagenet: { arch: 'resnet18', batch: 256, epochs: 200, lr: 0.03, queue: 65536, hidden: 2048 },
  },
};

/** Fill options the user did not give from the preset (then the method's defaults). */
export function applyPreset(o: Parsed, table: Record<string, Record<string, unknown>>, preset: string): void {
  const p = table[preset];
  if (!p) throw new UsageError(`unknown --preset ${preset} (${Object.keys(table).filter((k) => k !== 'default').join(', ')})`);
  for (const src of [p, table.default!]) for (const [k, v] of Object.entries(src)) if (!o._given.has(k) && o[k] === undefined) o[k] = v;
  for (const [k, v] of Object.entries(p)) if (!o._given.has(k)) o[k] = v;
}

export function modelSpec(o: Parsed, d: DataInfo, size: number): ModelSpec {
  const small = o['small-stem'] === undefined ? size <= 64 : Boolean(o['small-stem']);
  return { arch: String(o.arch), smallStem: small, inChannels: d.channels, widthMultiplier: Number(o.width) };
}

interface Prepared { data: DataInfo; train: Dataset; size: number; cfg: TrainConfig; outDir: string; perEpoch: number; runDir: RunDir }

/**
 * What the run will need at least, checked before anything is allocated: a batch of images on the host (both
 * views, in every worker's prefetch), the input batch and the stem's activation on the device (the largest single
 * buffers of a ResNet/MobileNet step), and the MoCo queue. Too much for this machine or adapter: exit 4, saying
 * what does not fit.
 */
export function checkMemory(o: Parsed, d: DataInfo, size: number, batch: number, spec: ModelSpec, extra: { queueBytes?: number } = {}): void {
  const { limits } = gpuContext();
  const perBuffer = Math.min(limits.maxStorageBufferBindingSize ?? Infinity, limits.maxBufferSize ?? Infinity);
  const fmt = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
  const views = 2, workers = Number(o.workers ?? 0);
  const inputBytes = batch * d.channels * size * size * 4;
  const hostBytes = inputBytes * views * (workers + 2);
  if (hostBytes > totalmem() * 0.8) {
    throw new DeviceMemoryError(`out of host memory: batches of ${batch} images of ${d.channels}x${size}x${size} (two views, ${workers + 2} in flight) need ${fmt(hostBytes)}, this machine has ${fmt(totalmem())}. Use a smaller --size or --batch`);
  }
  const stemC = Math.max(1, Math.round((spec.arch.startsWith('resnet') ? 64 : 32) * (spec.widthMultiplier ?? 1)));
  const stemSide = Math.ceil(size / (spec.smallStem ? 1 : 2));
  const stemBytes = batch * stemC * stemSide * stemSide * 4;
  for (const [what, bytes] of [['the input batch', inputBytes], ['the first layer\'s activation', stemBytes], ['the MoCo queue', extra.queueBytes ?? 0]] as const) {
    if (bytes > perBuffer) {
      throw new DeviceMemoryError(`out of device memory: ${what} needs one buffer of ${fmt(bytes)}, more than this adapter's largest (${fmt(perBuffer)}). ` +
        (what === 'the MoCo queue' ? 'Use a smaller --queue or --dim' : 'Use a smaller --size or --batch'));
    }
  }
}

async function prepare(o: Parsed, kind: string, inputs: string[] = [], replica?: Exchange): Promise<Prepared> {
  const data = await openData(String(o.data), { imageSize: o.size as number | undefined });
  const train = subset(data.train, o['train-subset'] as number | undefined, 1234);
  const size = (o.size as number | undefined) ?? data.size;
  const batch = Number(o.batch);
  if (batch > train.length) throw new UsageError(`--batch ${batch} is larger than the training set (${train.length} images in ${data.name})`);
  const devices = deviceCount(o);
  if (batch % devices !== 0 || batch / devices < 2) throw new UsageError(`--batch ${batch} does not split into ${devices} equal slices of at least 2 images (--devices ${devices})`);
  const perEpoch = Math.floor(train.length / batch);
  const steps = (o.steps as number | undefined) ?? Math.max(1, Math.round(Number(o.epochs) * perEpoch));
  const cfg: TrainConfig = {
    steps, batchSize: batch, lr: Number(o.lr), momentum: Number(o['sgd-momentum']), weightDecay: Number(o['weight-decay']),
    warmupSteps: Number(o['warmup-steps']), cosinePerEpoch: !o['cosine-per-step'], checkpointEvery: Number(o['ckpt-every']), seed: Number(o.seed),
  };
  const outDir = (o.out as string | undefined) ?? join('runs', kind);
  const spec = modelSpec(o, data, size);
  const queueBytes = o.queue !== undefined && kind !== 'simreg' ? Number(o.queue) * Number(o.dim ?? 128) * 4 : 0;
  if (kind !== 'simreg') checkMocoOptions(o, batch);
  checkMemory(o, data, size, batch / devices, spec, { queueBytes });
  if (o.resume && o.overwrite) throw new UsageError('--resume and --overwrite contradict each other: continue the run, or replace it');
  // A replica works in the directory its main thread opened (and locked).
  if (replica) return { data, train, size, cfg, outDir, perEpoch, runDir: { release: () => {} } as RunDir };
  const runDir = openRunDir(outDir, { resume: Boolean(o.resume), overwrite: Boolean(o.overwrite), command: `simreg ${kind === 'pretrain' ? 'pretrain' : 'distill'}`, inputs });
  return { data, train, size, cfg, outDir, perEpoch, runDir };
}

/** sha256 of a file (streamed): teachers are recorded by content, so a file swapped at the same path is noticed. */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Sub-batches of the key encoder's BatchNorm on each device. One device: --key-groups (default batch/32, at most
 * 8). Several: each device's slice is one group at least (MoCo's own multi-GPU setting, where each GPU's BatchNorm
 * sees its slice of the shuffled batch), and the groups are shared out so the sub-batch size stays as on one device.
 */
const keyGroups = (o: Parsed, batch: number) => {
  const all = (o['key-groups'] as number | undefined) ?? Math.max(1, Math.min(8, Math.floor(batch / 32)));
  return Math.max(1, Math.floor(all / deviceCount(o)));
};

/** MoCo's option constraints, checked before anything runs, as option errors (exit 2). */
function checkMocoOptions(o: Parsed, batch: number): void {
  const queue = Number(o.queue), per = batch / deviceCount(o), groups = keyGroups(o, batch);
  if (queue % batch !== 0) throw new UsageError(`--queue ${queue} must be a multiple of --batch ${batch} (the queue advances one batch of keys per step)`);
  if (per % groups !== 0 || per / groups < 2) throw new UsageError(`--key-groups ${groups} must divide ${deviceCount(o) > 1 ? `each device's ${per} images` : `--batch ${batch}`} into sub-batches of at least 2 images`);
}

function mocoOptions(o: Parsed, spec: ModelSpec, batch: number, featureDim: number) {
  const groups = keyGroups(o, batch);
  const devices = deviceCount(o);
  return {
    spec, hidden: (o.hidden as number | undefined) ?? featureDim, dim: Number(o.dim), queue: Number(o.queue), momentum: Number(o['moco-m']),
    temperature: Number(o.temperature), keyGroups: groups, batchSize: batch / devices, seed: Number(o.seed), ...(devices > 1 ? { replicas: devices } : {}),
  };
}

/** --devices as a number (resolved from "all" by the main thread before replicas start). */
export function deviceCount(o: Parsed): number {
  const v = String(o.devices ?? '1');
  if (!/^[1-9][0-9]*$/.test(v)) throw new UsageError(`--devices ${v}: expected a positive whole number or all`);
  const n = Number(v);
  if (n > 64) throw new UsageError(`--devices ${n}: at most 64`);
  return n;
}

/** The loader of a run: with several devices, this replica's slice of every global batch. */
function loaderShard(replica?: Exchange) {
  return replica ? { shard: { index: replica.rank, count: replica.world } } : {};
}

/** What a data-parallel run adds to its recorded configuration (nothing on one device: old checkpoints resume). */
/** The trainer's data-parallel options from the command line (inert on one device, where `replica` is undefined). */
function replicaOptions(o: Parsed, replica: Exchange | undefined): { replica?: Exchange; checkReplicas: boolean; bucketBytes: number } {
  return { replica, checkReplicas: Boolean(o['check-replicas']), bucketBytes: Math.round(Number(o['bucket-mb']) * 2 ** 20) };
}

function devicesConfig(o: Parsed): Record<string, unknown> {
  const n = deviceCount(o);
  return n > 1 ? { devices: n } : {};
}

/**
 * The adapters of a data-parallel run, and --devices all resolved: with several GPU adapters of distinct names,
 * replica r gets the r-th (`all`: one replica each); software adapters are not counted. Dawn's Node binding
 * chooses adapters by name, so GPUs that share a name cannot be told apart: `all` is refused there, and
 * --devices N says that its replicas share the first of them. Otherwise (one GPU, or none, as here) every replica
 * opens a device on the adapter SIMREG_ADAPTER chooses. Returns one adapter name per replica, or null.
 */
async function resolveDevices(o: Parsed): Promise<string[] | null> {
  const all = String(o.devices) === 'all';
  if (!all && deviceCount(o) === 1) return null;
  const names = (await listAdapters()).filter((a) => a.short !== 'lavapipe' && a.short !== 'swiftshader').map((a) => a.name);
  const distinct = new Set(names).size === names.length;
  if (all) {
    if (!distinct) {
      throw new UsageError(`--devices all: ${names.length} GPUs share the name ${JSON.stringify(names[0])}; Dawn's Node binding picks adapters by name, so simreg cannot put a replica on each. Give --devices N to run N replicas on one adapter`);
    }
    o.devices = String(Math.max(1, names.length));
    console.log(names.length
      ? `--devices all: ${names.length} GPU adapter(s): ${names.join(', ')}`
      : '--devices all: no GPU adapter found (software adapters are not counted); one device');
    return names.length > 1 ? names : null;
  }
  const n = deviceCount(o);
  if (process.env.SIMREG_ADAPTER || names.length < 2) return null;
  if (!distinct) {
    console.error(`warning: this machine's ${names.length} GPUs share the name ${JSON.stringify(names[0])} and Dawn picks adapters by name: the ${n} replicas share the first of them`);
    return null;
  }
  if (names.length < n) {
    console.error(`warning: ${n} replicas on ${names.length} GPU adapters: replicas beyond ${names.length} go round them again`);
  }
  return Array.from({ length: n }, (_, r) => names[r % names.length]!);
}

/**
 * The CLI bundle, which runs as a replica when started as a worker thread (main.ts). This code is also bundled
 * into the library, the tests and the benches, so the bundle is looked for next to whichever one is running.
 */
function cliScript(): URL {
  const env = process.env.SIMREG_CLI_SCRIPT;
  const candidates = env ? [pathToFileURL(env)] : ['./cli.js', '../cli.js', '../../cli.js', '../../../cli.js'].map((p) => new URL(p, import.meta.url));
  for (const c of candidates) if (c.protocol === 'file:' && existsSync(fileURLToPath(c))) return c;
  throw new Error(`data-parallel runs start the CLI bundle (dist/cli.js) as their replicas, and it was not found (looked at ${candidates.map((c) => fileURLToPath(c)).join(', ')}); run \`npm run build\`, or set SIMREG_CLI_SCRIPT`);
}

/** What the main thread hands each replica of a data-parallel run. */
export interface ReplicaPayload { kind: 'pretrain' | 'distill'; o: Parsed; adapters: string[] | null }

/**
 * A data-parallel run from the main thread: options are checked and the run directory opened (and locked) here,
 * then one worker thread per device runs the same command as a replica (see train/replicas.ts). Replica 0 prints
 * and writes; the result is its.
 */
async function runReplicated(kind: 'pretrain' | 'distill', o: Parsed, files: string[], adapters: string[] | null) {
  const p = await prepare(o, kind === 'pretrain' ? 'pretrain' : String(o.method), files);
  try {
    const n = deviceCount(o);
    console.log(`data-parallel: ${n} replicas, ${p.cfg.batchSize / n} images each per step, on ${adapters ? adapters.join(', ') : `${n} devices of one adapter`}`);
    const script = cliScript();
    const results = await runReplicas<{ result: TrainResult; exported: string | null }>(script, n, { kind, o, adapters } satisfies ReplicaPayload);
    return { ...results[0]!, outDir: p.outDir, teachers: [] as LoadedTeacher[] };
  } finally {
    p.runDir.release();
  }
}

function report(label: string, r: TrainResult, outDir: string): void {
  const first = r.losses.slice(0, 10), last = r.losses.slice(-10);
  const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
  console.log(`${label}: ${r.stopped === 'done' ? 'finished' : 'stopped'} at step ${r.steps} in ${r.seconds.toFixed(0)} s (${r.imagesPerSec.toFixed(1)} images/s)` +
    (r.losses.length ? `; loss ${avg(first).toFixed(4)} (first 10 steps) -> ${avg(last).toFixed(4)} (last 10)` : ''));
  console.log(`  log: ${join(outDir, 'log.jsonl')}, curve: ${join(outDir, 'loss.png')}, checkpoint: ${r.checkpoint}`);
}

export interface RunHooks { onStep?: (step: number, loss: number) => void }

export async function runPretrain(o: Parsed, hooks: RunHooks = {}, replica?: Exchange): Promise<{ result: TrainResult; exported: string | null; outDir: string }> {
  applyPreset(o, PRESET_DEFAULTS.pretrain!, String(o.preset));
  if (!replica) {
    const adapters = await resolveDevices(o);
    if (deviceCount(o) > 1) return runReplicated('pretrain', o, [], adapters);
  }
  const p = await prepare(o, 'pretrain', [], replica);
  try {
    return await pretrainIn(o, p, hooks, replica);
  } finally {
    p.runDir.release();
  }
}

async function pretrainIn(o: Parsed, p: Prepared, hooks: RunHooks, replica?: Exchange): Promise<{ result: TrainResult; exported: string | null; outDir: string }> {
  const spec = modelSpec(o, p.data, p.size);
  const pipeline = makePipeline('strong', { size: p.size, channels: p.data.channels, mean: p.data.mean, std: p.data.std });
  const probe = new Encoder(spec, null);
  const fd = probe.featureDim;
  probe.dispose();
  const mo = mocoOptions(o, spec, p.cfg.batchSize, fd);
  const method = new MocoMethod(mo);
  const loader = new DataLoader(p.train, { batchSize: p.cfg.batchSize, pipeline, views: 'two', shuffle: true, seed: p.cfg.seed, dropLast: true, workers: Number(o.workers), ...loaderShard(replica) });
  console.log(`MoCo-v2 pre-training ${describeSpec(spec)} (${(method.query.backbone.numParameters() / 1e6).toFixed(2)} M backbone parameters) on ${p.data.name} (${p.train.length} images, ${p.size}x${p.size}), ` +
    `batch ${p.cfg.batchSize}, ${p.cfg.steps} steps (${(p.cfg.steps / p.perEpoch).toFixed(2)} epochs), lr ${p.cfg.lr}, queue ${mo.queue}, m ${mo.momentum}, T ${mo.temperature}, key BN groups ${mo.keyGroups}`);
  let result: TrainResult;
  try {
    result = await train(method, loader, p.cfg, {
      outDir: p.outDir, resume: Boolean(o.resume), quiet: Boolean(o.quiet), stopAfter: o['stop-after'] as number | undefined, onStep: hooks.onStep,
      runConfig: { command: 'pretrain', data: p.data.name, trainSize: p.train.length, size: p.size, pipeline, moco: mo, ...devicesConfig(o) }, runDir: p.runDir,
      ...replicaOptions(o, replica),
    });
  } finally { await loader.close(); }
  report('pre-training', result, p.outDir);
  let exported: string | null = null;
  if (result.stopped === 'done' && (!replica || replica.rank === 0)) {
    exported = join(p.outDir, 'teacher.safetensors');
    await saveEncoder(exported, method.query, { withHead: true, dtype: o.half ? 'F16' : 'F32', clamp: Boolean(o.clamp), meta: { 'simreg.trained': JSON.stringify({ method: 'moco-v2', steps: result.steps, data: p.data.name }) } });
    console.log(`  teacher (backbone + projection head fc.0/fc.2): ${exported}`);
  }
  method.dispose();
  return { result, exported, outDir: p.outDir };
}

export const DISTILL_OPTS: OptSpec[] = [
  { name: 'method', type: 'string', default: 'simreg', choices: ['simreg', 'disco'], help: 'SimReg (feature regression) or DisCo (MoCo-v2 + embedding consistency)' },
  { name: 'teacher', type: 'list', help: 'teacher weight file(s): safetensors or torch.save (.pth, .pth.tar, .pt); repeat or comma-separate for several teachers (SimReg)' },
  { name: 'teacher-key', type: 'list', help: 'for each torch.save teacher, the dict holding its weights (default: found; e.g. state_dict, teacher)' },
  { name: 'teacher-strip', type: 'list', help: 'for each teacher, the prefix to strip from its names (default: found; e.g. module.encoder_q.)' },
  { name: 'teacher-arch', type: 'list', help: 'architecture of each teacher file that does not name its own (e.g. resnet50)' },
  { name: 'teacher-small-stem', type: 'bool', default: false, help: 'teachers given by --teacher-arch use the small-image stem' },
  { name: 'teacher-width', type: 'number', default: 1, above: 0, max: 16, help: 'width multiplier of teachers given by --teacher-arch' },
  { name: 'head', type: 'string', default: 'mlp4', choices: ['mlp4', 'mlp2', 'linear'], help: 'SimReg prediction head' },
  { name: 'views', type: 'string', default: 'same', choices: ['same', 'different'], help: 'SimReg: teacher and student see the same view, or two independent ones' },
  { name: 'aug', type: 'string', default: 'weak', choices: ['weak', 'strong'], help: 'SimReg augmentation (weak: crop 0.2-1 + flip; strong: MoCo-v2)' },
  { name: 'cache-teacher', type: 'bool', default: false, help: 'SimReg: the teacher sees un-augmented images, its features computed once and cached on disk' },
  { name: 'cache-dir', type: 'string', help: 'where cached teacher features go (default <out>/teacher-cache)' },
  { name: 'consistency-weight', type: 'number', default: 32, min: 0, help: 'DisCo consistency weight per per-sample mean term' },
];

/** --teacher-key / --teacher-strip, one per teacher file (missing or empty ones: found automatically). */
export function teacherLoadOptions(o: Parsed, files: string[], role: string): TeacherOptions[] {
  const keys = (o['teacher-key'] as string[] | undefined) ?? [];
  const strips = (o['teacher-strip'] as string[] | undefined) ?? [];
  if (keys.length > files.length) throw new UsageError(`${keys.length} --teacher-key values for ${files.length} files`);
  if (strips.length > files.length) throw new UsageError(`${strips.length} --teacher-strip values for ${files.length} files`);
  return files.map((_, i) => ({ role, key: keys[i] || undefined, strip: strips[i] === undefined ? undefined : strips[i] }));
}

export function teacherSpecs(o: Parsed, channels: number): (ModelSpec | undefined)[] {
  const files = (o.teacher as string[] | undefined) ?? [];
  const archs = (o['teacher-arch'] as string[] | undefined) ?? [];
  if (archs.length > files.length) throw new UsageError(`${archs.length} --teacher-arch values for ${files.length} --teacher files`);
  return files.map((_, i) => archs[i] ? { arch: archs[i]!, smallStem: Boolean(o['teacher-small-stem']), inChannels: channels, widthMultiplier: Number(o['teacher-width']) } : undefined);
}

export async function runDistill(o: Parsed, hooks: RunHooks = {}, replica?: Exchange): Promise<{ result: TrainResult; exported: string | null; outDir: string; teachers: LoadedTeacher[] }> {
  const method = String(o.method);
  applyPreset(o, PRESET_DEFAULTS[method]!, String(o.preset));
  const files = (o.teacher as string[] | undefined) ?? [];
  if (!files.length) throw new UsageError('simreg distill: --teacher FILE is required (safetensors or a torch.save checkpoint; simreg pretrain makes one)');
  for (const f of files) if (!existsSync(f)) throw new UsageError(`teacher file ${f} does not exist`);
  if (method === 'disco' && files.length > 1) throw new UsageError('DisCo takes one teacher');
  if (!replica) {
    const adapters = await resolveDevices(o);
    if (deviceCount(o) > 1) return runReplicated('distill', o, files, adapters);
  }
  const p = await prepare(o, method, files, replica);
  try {
    return await distillIn(o, p, method, files, hooks, replica);
  } finally {
    p.runDir.release();
  }
}

async function distillIn(o: Parsed, p: Prepared, method: string, files: string[], hooks: RunHooks, replica?: Exchange): Promise<{ result: TrainResult; exported: string | null; outDir: string; teachers: LoadedTeacher[] }> {
  const spec = modelSpec(o, p.data, p.size);
  const specs = teacherSpecs(o, p.data.channels);
  const loadOpts = teacherLoadOptions(o, files, 'teacher');
  const teachers: LoadedTeacher[] = [];
  for (let i = 0; i < files.length; i++) {
    const t = await loadTeacher(files[i]!, specs[i], loadOpts[i]);
    console.log(`teacher ${describeLoad(t)}`);
    if ((t.spec.inChannels ?? 3) !== p.data.channels) throw new UsageError(`teacher ${files[i]} takes ${t.spec.inChannels ?? 3}-channel images but ${p.data.name} has ${p.data.channels}`);
    teachers.push(t);
  }
  // Teachers are recorded by content: resuming with another file at the same path is refused.
  const teacherSha256: Record<string, string> = {};
  for (const f of files) teacherSha256[f] = await fileSha256(f);
  let result: TrainResult;
  let exported: string | null = null;
  const norm = { channels: p.data.channels, mean: p.data.mean, std: p.data.std };
  if (method === 'simreg') {
    const pipeline = makePipeline(o.aug === 'strong' ? 'strong' : 'weak', { size: p.size, ...norm });
    let cached: (Float32Array | null)[] | undefined;
    if (o['cache-teacher']) {
      const evalPipe = makePipeline('eval', { size: p.size, ...norm });
      cached = [];
      // Several replicas: replica 0 computes (or finds) the cache, the others read it once it is written.
      if (replica && replica.rank !== 0) replica.barrier();
      for (const t of teachers) cached.push(await cachedTeacherFeatures(t, p.train, evalPipe, (o['cache-dir'] as string | undefined) ?? join(p.outDir, 'teacher-cache'), Number(o.workers)));
      if (replica && replica.rank === 0) replica.barrier();
    }
    const m = new SimRegMethod({ student: spec, teachers: teachers.map((t) => t.encoder), head: o.head as 'mlp4', seed: Number(o.seed), cached });
    const views = o['cache-teacher'] ? 'single' : o.views === 'same' ? 'shared' : 'two';
    const loader = new DataLoader(p.train, { batchSize: p.cfg.batchSize, pipeline, views, shuffle: true, seed: p.cfg.seed, dropLast: true, workers: Number(o.workers), ...loaderShard(replica) });
    console.log(`SimReg: student ${describeSpec(spec)} (${(m.student.backbone.numParameters() / 1e6).toFixed(2)} M backbone parameters), head ${o.head}, ` +
      `${teachers.length} teacher${teachers.length > 1 ? 's' : ''} (${teachers.map((t) => `${t.path}: ${describeSpec(t.spec)}, ${t.encoder.featureDim}-d`).join('; ')}), ` +
      `${o['cache-teacher'] ? 'cached teacher features (un-augmented)' : views === 'shared' ? `same ${pipeline.name} view for both` : `different ${pipeline.name} views`}, ` +
      `batch ${p.cfg.batchSize}, ${p.cfg.steps} steps (${(p.cfg.steps / p.perEpoch).toFixed(2)} epochs), lr ${p.cfg.lr}`);
    try {
      result = await train(m, loader, p.cfg, {
        outDir: p.outDir, resume: Boolean(o.resume), quiet: Boolean(o.quiet), stopAfter: o['stop-after'] as number | undefined, onStep: hooks.onStep,
        runConfig: { command: 'distill', method, data: p.data.name, trainSize: p.train.length, size: p.size, pipeline, views, head: o.head, student: spec, cacheTeacher: Boolean(o['cache-teacher']), teachers: teachers.map((t) => ({ path: t.path, spec: t.spec })), teacherSha256, ...devicesConfig(o) },
        runDir: p.runDir, ...replicaOptions(o, replica),
      });
    } finally { await loader.close(); }
    report('distillation', result, p.outDir);
    if (result.stopped === 'done' && (!replica || replica.rank === 0)) {
      exported = join(p.outDir, 'student.safetensors');
      const sd = await m.student.backbone.stateDict();
      await exportWeights(exported, sd, { [MODEL_META_KEY]: JSON.stringify(spec), 'simreg.trained': JSON.stringify({ method: 'simreg', steps: result.steps, teachers: files }) }, { dtype: o.half ? 'F16' : 'F32', clamp: Boolean(o.clamp) });
    }
    m.dispose();
  } else {
    const t = teachers[0]!;
    const pipeline = makePipeline('strong', { size: p.size, ...norm });
    const probe = new Encoder(spec, null);
    const fd = probe.featureDim;
    probe.dispose();
    const mo = { ...mocoOptions(o, spec, p.cfg.batchSize, fd), hidden: (o.hidden as number | undefined) ?? 2048, teacher: t.encoder, consistencyWeight: Number(o['consistency-weight']) };
    const m = new MocoMethod(mo);
    const loader = new DataLoader(p.train, { batchSize: p.cfg.batchSize, pipeline, views: 'two', shuffle: true, seed: p.cfg.seed, dropLast: true, workers: Number(o.workers), ...loaderShard(replica) });
    console.log(`DisCo: student ${describeSpec(spec)} with head hidden ${mo.hidden}, teacher ${t.path} (${describeSpec(t.spec)}), consistency weight ${mo.consistencyWeight}, ` +
      `batch ${p.cfg.batchSize}, ${p.cfg.steps} steps, lr ${p.cfg.lr}, queue ${mo.queue}, m ${mo.momentum}, T ${mo.temperature}`);
    try {
      result = await train(m, loader, p.cfg, {
        outDir: p.outDir, resume: Boolean(o.resume), quiet: Boolean(o.quiet), stopAfter: o['stop-after'] as number | undefined, onStep: hooks.onStep,
        runConfig: { command: 'distill', method, data: p.data.name, trainSize: p.train.length, size: p.size, pipeline, moco: { ...mo, teacher: t.path }, student: spec, teacherSha256, ...devicesConfig(o) },
        runDir: p.runDir, ...replicaOptions(o, replica),
      });
    } finally { await loader.close(); }
    report('distillation', result, p.outDir);
    if (result.stopped === 'done' && (!replica || replica.rank === 0)) {
      exported = join(p.outDir, 'student.safetensors');
      await saveEncoder(exported, m.query, { withHead: false, dtype: o.half ? 'F16' : 'F32', clamp: Boolean(o.clamp), meta: { 'simreg.trained': JSON.stringify({ method: 'disco', steps: result.steps, teacher: t.path }) } });
    }
    m.dispose();
  }
  if (exported) console.log(`  student backbone (heads discarded): ${exported}`);
  return { result, exported, outDir: p.outDir, teachers };
}

export const PRESET_OPT: OptSpec = { name: 'preset', type: 'string', default: 'default', choices: ['default', 'fmnist', 'cifar', 'imagenet'], help: 'defaults of a setting: the papers\' (default, imagenet), CIFAR, or the Fashion-MNIST demo (fmnist)' };
export const PRETRAIN_SPECS: OptSpec[] = [PRESET_OPT, ...MODEL_OPTS, ...DATA_OPTS, ...TRAIN_OPTS, ...MOCO_OPTS];
export const DISTILL_SPECS: OptSpec[] = [PRESET_OPT, ...DISTILL_OPTS, ...MODEL_OPTS, ...DATA_OPTS, ...TRAIN_OPTS, ...MOCO_OPTS];
