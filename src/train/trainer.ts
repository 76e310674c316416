// The training loop every method shares: learning-rate schedule, SGD, a progress line, a JSONL log of every
// step, checkpoints every N steps and on SIGINT/SIGTERM (atomic), bit-exact resume, a stop on a non-finite
// loss that keeps the last good checkpoint, and a loss curve image at the end.
//
// Resume is exact because everything random is a pure function of (seed, epoch, batch, sample, view) or of
// (seed, step): the loader's shuffles and augmentations, the key encoder's batch shuffle. The checkpoint holds
// the models, the optimiser's momentum, the method's extra tensors (MoCo's queue) and host counters.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../autograd/tensor.js';
import { tidy } from '../autograd/scope.js';
import { backward } from '../autograd/tape.js';
import { stream } from '../gpu/stream.js';
import { Module } from '../nn/module.js';
import { SGD, decayGroups } from '../optim/sgd.js';
import { cosineLr } from '../optim/schedule.js';
import { saveCheckpoint, loadCheckpoint } from '../io/checkpoint.js';
import type { StateDict } from '../io/state_dict.js';
import type { Batch, DataLoader } from '../data/index.js';
import { Progress } from './progress.js';
import { writeLossCurve, smooth } from './plot.js';
import { openRunDir, fileError, writeTextAtomic, type RunDir } from './rundir.js';
import type { Exchange } from './replicas.js';
import { GradSync, type SyncResult } from './grad_sync.js';

/** What a training method provides to the loop. */
export interface Method {
  readonly name: string;
  /** Modules saved in checkpoints, by prefix (trainable ones and momentum copies; frozen teachers are not). */
  readonly modules: [string, Module][];
  /** Named parameters the optimiser updates. */
  trainable(): [string, Tensor][];
  /** GPU tensors saved in checkpoints besides the modules (e.g. the queue). */
  extraTensors(): [string, Tensor][];
  /** Host counters saved in checkpoints (e.g. the queue pointer). */
  hostState(): Record<string, number>;
  loadHostState(s: Record<string, number>): void;
  /** The loss of one batch, built on the tape; `parts` are extra scalars to log (no gradient needed). */
  loss(batch: Batch, step: number): { loss: Tensor; parts?: Record<string, Tensor> };
  /** After the optimiser step (momentum encoder, queue). */
  afterStep(batch: Batch, step: number): void;
  /**
   * Data-parallel runs: tensors this step's loss made whose rows every replica needs from all replicas (MoCo's
   * keys, for the queue); `useGathered` then receives them concatenated in replica order, before afterStep.
   */
  gatherRows?(): Tensor[];
  useGathered?(rows: Tensor[]): void;
}

export interface TrainConfig {
  steps: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  warmupSteps: number;
  /** The cosine schedule changes once per epoch (the papers) or every step. */
  cosinePerEpoch: boolean;
  checkpointEvery: number;
  seed: number;
}

export interface TrainResult {
  steps: number;
  losses: number[];
  stopped: 'done' | 'interrupted' | 'nan';
  seconds: number;
  imagesPerSec: number;
  checkpoint: string;
}

export class NonFiniteLossError extends Error {}
/** A parameter, buffer or optimiser state became NaN or infinite: the checkpoint or export is not written (exit 3). */
export class NonFiniteStateError extends NonFiniteLossError {}

export interface RunOptions {
  outDir: string;
  resume?: boolean;
  /** Config stored with the checkpoint; on resume it must equal the stored one. */
  runConfig: Record<string, unknown>;
  quiet?: boolean;
  /** Called after each step with the loss (tests use it to interrupt). */
  onStep?: (step: number, loss: number) => void;
  /** Stop after this step as if interrupted (tests; the checkpoint is written). */
  stopAfter?: number;
  /** Replace another run's files in outDir (without it, a new run refuses a directory that holds one). */
  overwrite?: boolean;
  /** Who runs, for the lock ("simreg distill"). */
  command?: string;
  /** Files the run reads (teachers): --overwrite never deletes them. */
  inputs?: string[];
  /** The run directory, already opened (and locked) by the caller; otherwise train() opens outDir itself. */
  runDir?: RunDir;
  /** How to repeat this run on the command line, for the non-finite message (e.g. "simreg distill ..."). */
  commandLine?: string;
  /**
   * This process is one replica of a data-parallel run (see replicas.ts): gradients are averaged with the others
   * every step; only replica 0 writes the run directory; the main thread holds the lock and the signals.
   */
  replica?: Exchange;
  /** Data-parallel runs: compare a hash of every replica's parameters and buffers after each step (logged). */
  checkReplicas?: boolean;
  /**
   * Data-parallel runs: read gradients back in buckets of this many bytes as the backward pass finishes them, so
   * the averaging overlaps the rest of the backward pass (0: one exchange after it). Default 25 MiB.
   */
  bucketBytes?: number;
}

const CKPT = 'checkpoint.safetensors';

/** Read a JSONL log, keeping only records up to `maxStep` (a resumed run rewrites what the crash left after its checkpoint). */
function trimLog(path: string, maxStep: number): void {
  if (!existsSync(path)) return;
  const keep = readFileSync(path, 'utf8').split('\n').filter((l) => {
    if (!l.trim()) return false;
    try { const r = JSON.parse(l) as { step?: number }; return r.step === undefined || r.step <= maxStep; } catch { return false; }
  });
  writeTextAtomic(path, keep.map((l) => `${l}\n`).join(''), 'rewrite the log');
}

/** The first non-finite value in a state dict, as "name[index] = value", or null. */
export function firstNonFinite(sd: StateDict): { name: string; index: number; value: number; count: number } | null {
  for (const [name, e] of sd) {
    const d = e.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]!)) {
        let count = 0;
        for (const v of d) if (!Number.isFinite(v)) count++;
        return { name, index: i, value: d[i]!, count };
      }
    }
  }
  return null;
}

function readLossLog(path: string): { steps: number[]; losses: number[] } {
  const steps: number[] = [], losses: number[] = [];
  if (!existsSync(path)) return { steps, losses };
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    try { const r = JSON.parse(l) as { step?: number; loss?: number }; if (typeof r.step === 'number' && typeof r.loss === 'number') { steps.push(r.step); losses.push(r.loss); } } catch { /* skip */ }
  }
  return { steps, losses };
}

async function collectState(method: Method): Promise<StateDict> {
  const sd: StateDict = new Map();
  for (const [prefix, m] of method.modules) for (const [k, v] of await m.stateDict()) sd.set(`${prefix}.${k}`, v);
  for (const [k, t] of method.extraTensors()) sd.set(`extra.${k}`, { shape: [...t.shape], data: await t.read() });
  return sd;
}

function restoreState(method: Method, sd: StateDict, file: string): void {
  for (const [prefix, m] of method.modules) {
    const sub: StateDict = new Map();
    for (const [k, v] of sd) if (k.startsWith(`${prefix}.`)) sub.set(k.slice(prefix.length + 1), v);
    m.loadStateDict(sub, { source: `${file} (${prefix})` });
  }
  for (const [k, t] of method.extraTensors()) {
    const e = sd.get(`extra.${k}`);
    if (!e || e.data.length !== t.size) throw new Error(`${file}: checkpoint lacks extra.${k} of ${t.size} values`);
    stream.write(t.buffer, e.data);
  }
}

/**
 * Compare the math-relevant config of a resumed run with the stored one. The learning rate may change on resume
 * (the way to continue after a non-finite stop); everything else must be equal.
 */
function sameConfig(stored: unknown, now: unknown): string | null {
  const strip = (c: unknown) => {
    const o = JSON.parse(JSON.stringify(c ?? {})) as { train?: { lr?: number } };
    if (o.train) delete o.train.lr;
    return o;
  };
  return sameJson(strip(stored), strip(now));
}

function sameJson(a: unknown, b: unknown): string | null {
  const ja = JSON.stringify(a), jb = JSON.stringify(b);
  if (ja === jb) return null;
  const oa = a as Record<string, unknown>, ob = b as Record<string, unknown>;
  const ha = (oa?.teacherSha256 ?? {}) as Record<string, string>, hb = (ob?.teacherSha256 ?? {}) as Record<string, string>;
  for (const f of Object.keys(hb)) {
    if (ha[f] !== undefined && ha[f] !== hb[f]) return `the teacher file ${f} has changed since the checkpoint (sha256 ${ha[f]!.slice(0, 16)}... then, ${hb[f]!.slice(0, 16)}... now)`;
  }
  for (const k of new Set([...Object.keys(oa ?? {}), ...Object.keys(ob ?? {})])) {
    if (JSON.stringify(oa?.[k]) !== JSON.stringify(ob?.[k])) return `${k}: checkpoint has ${JSON.stringify(oa?.[k])}, this run ${JSON.stringify(ob?.[k])}`;
  }
  return 'differs';
}

export async function train(method: Method, loader: DataLoader, cfg: TrainConfig, run: RunOptions): Promise<TrainResult> {
  // Replicas never open the directory: the thread that started them holds it (and its lock).
  const runDir = run.runDir ?? (run.replica ? null : openRunDir(run.outDir, { resume: !!run.resume, overwrite: !!run.overwrite, command: run.command ?? `simreg ${method.name}`, inputs: run.inputs }));
  try {
    return await trainIn(method, loader, cfg, run);
  } finally {
    if (!run.runDir) runDir?.release();
  }
}

async function trainIn(method: Method, loader: DataLoader, cfg: TrainConfig, run: RunOptions): Promise<TrainResult> {
  const ckptPath = join(run.outDir, CKPT);
  const logPath = join(run.outDir, 'log.jsonl');
  const perEpoch = loader.batchesPerEpoch;
  // Replicas other than 0 compute and exchange but write nothing.
  const writer = !run.replica || run.replica.rank === 0;
  if (perEpoch < 1) throw new Error(`batch size ${cfg.batchSize} is larger than the data set (${loader.dataset.length} samples) with dropLast`);
  const opt = new SGD(decayGroups(method.trainable(), cfg.weightDecay, false), { lr: cfg.lr, momentum: cfg.momentum });
  let step = 0;
  const fullConfig = { ...run.runConfig, train: cfg };
  if (run.resume) {
    if (!existsSync(ckptPath)) throw new Error(`--resume: no checkpoint at ${ckptPath}`);
    const ck = await loadCheckpoint(ckptPath);
    const devicesThen = Number((ck.config as { devices?: number } | undefined)?.devices ?? 1);
    const devicesNow = run.replica?.world ?? 1;
    if (devicesThen !== devicesNow) {
      throw new Error(`--resume: ${ckptPath} was trained on ${devicesThen} device(s), this run has ${devicesNow}. BatchNorm statistics are per device, ` +
        `over ${cfg.batchSize / devicesThen} images each then and ${cfg.batchSize / devicesNow} now, so the run would not continue as it started; ` +
        `resume with --devices ${devicesThen} (the checkpoint's weights load on any number of devices: simreg eval, export)`);
    }
    const diff = sameConfig(ck.config, fullConfig);
    if (diff) throw new Error(`--resume: ${ckptPath} was written by a different configuration (${diff}); resume with the same options (only --lr may change) or use a new --out`);
    const storedLr = (ck.config as { train?: { lr?: number } } | undefined)?.train?.lr;
    if (storedLr !== undefined && storedLr !== cfg.lr) console.error(`resuming with lr ${cfg.lr} (the checkpoint was trained with ${storedLr})`);
    restoreState(method, ck.model, ckptPath);
    opt.loadStateDict(ck.optimizer ?? new Map(), ck.step);
    method.loadHostState((ck.extra as { host?: Record<string, number> } | undefined)?.host ?? {});
    step = ck.step;
    if (writer) {
      trimLog(logPath, step);
      console.error(`resumed from ${ckptPath} at step ${step}${run.replica ? ` on ${run.replica.world} devices` : ''}`);
    }
  } else if (writer) {
    const cfgPath = join(run.outDir, 'config.json');
    try { writeFileSync(cfgPath, `${JSON.stringify(fullConfig, null, 2)}\n`); } catch (e) { throw fileError('write', cfgPath, e); }
    try { writeFileSync(logPath, ''); } catch (e) { throw fileError('write', logPath, e); }
  }
  let lastGood = run.resume ? step : -1;
  let stopped: TrainResult['stopped'] = 'done';

  const howToContinue = (s: number) => (lastGood >= 0
    ? `The last good checkpoint (step ${lastGood}) is kept at ${ckptPath}: continue from it with a lower learning rate by running the same command with --resume and a smaller --lr (a resume may change --lr).`
    : `No checkpoint was written before step ${s}: start again with a smaller --lr (--overwrite to reuse ${run.outDir}).`);
  const save = async (s: number) => {
    if (!writer) { lastGood = s; return; }
    const model = await collectState(method);
    const optimizer = await opt.stateDict();
    // Nothing non-finite is ever written: the previous checkpoint stays as it was.
    const bad = firstNonFinite(model) ?? firstNonFinite(optimizer);
    if (bad) {
      stopped = 'nan';
      throw new NonFiniteStateError(`at step ${s}, ${bad.name} holds ${bad.count} non-finite value(s) (the first, ${bad.value}, at index ${bad.index}); ` +
        `the checkpoint for step ${s} was not written. ${howToContinue(s)}`);
    }
    await saveCheckpoint(ckptPath, {
      model, optimizer, step: s, epoch: Math.floor(s / perEpoch),
      config: fullConfig, extra: { host: method.hostState(), method: method.name },
    });
    lastGood = s;
  };

  let interrupted: string | null = null;
  let signalledAt = 0;
  const onSignal = (sig: string) => () => {
    // A second signal within a second is the same request delivered twice (a scheduler signals every process of
    // a job, and `simreg sweep` forwards it to its run as well), not a second one.
    if (interrupted && Date.now() - signalledAt < 1000) return;
    if (interrupted) { console.error(`\n${sig} again: exiting without waiting (last checkpoint: step ${lastGood})`); process.exit(130); }
    interrupted = sig;
    signalledAt = Date.now();
    console.error(`\n${sig}: finishing this step and writing a checkpoint...`);
  };
  const hInt = onSignal('SIGINT'), hTerm = onSignal('SIGTERM');
  // A replica's signals arrive at the main thread, which passes them on through the exchange.
  if (!run.replica) { process.on('SIGINT', hInt); process.on('SIGTERM', hTerm); }

  const losses: number[] = [];
  const sync = run.replica ? new GradSync(run.replica, method, run.bucketBytes ?? 25 * 2 ** 20) : null;
  const prog = run.quiet || !writer ? null : new Progress(method.name, step, cfg.batchSize);
  const t0 = performance.now();
  const startStep = step;
  try {
    // Step s's loss is read one step late: step s+1 is recorded and submitted (one submission per step) before
    // the host waits for it, so the device never idles on the read. The log, the progress line and the NaN stop
    // still see every step, in order; before a checkpoint the pending step is settled first.
    let pending: { step: number; epoch: number; lr: number; names: string[]; values: Promise<number[]>; hashes?: number[]; exchange?: SyncResult } | null = null;
    const settle = async () => {
      if (!pending) return;
      const p = pending;
      pending = null;
      const vals = await p.values;
      const v = vals[0]!;
      if (!Number.isFinite(v)) {
        stopped = 'nan';
        throw new NonFiniteLossError(`the loss became ${v} at step ${p.step} (lr ${p.lr.toExponential(3)}); stopping. ${howToContinue(p.step)} If a smaller --lr does not help, check the data.`);
      }
      losses.push(v);
      const rec: Record<string, number> = { step: p.step, epoch: p.epoch, loss: v, lr: p.lr };
      p.names.forEach((k, i) => { rec[k] = vals[i + 1]!; });
      if (!writer) return;
      const x = p.exchange;
      const out: Record<string, unknown> = { ...rec, ...(x ? { exchangeMs: Math.round(x.ms * 100) / 100, exchangeWaitMs: Math.round(x.waitMs * 100) / 100, exchangeBytes: x.bytes, exchangeBuckets: x.buckets } : {}), ...(p.hashes ? { replicaHashes: p.hashes } : {}) };
      try { appendFileSync(logPath, `${JSON.stringify(out)}\n`); } catch (e) { throw fileError('append to the log', logPath, e); }
      prog?.update({ step: p.step, total: cfg.steps, epoch: p.epoch, loss: v, lr: p.lr });
      run.onStep?.(p.step, v);
    };
    outer: while (step < cfg.steps) {
      const epoch = Math.floor(step / perEpoch);
      for await (const batch of loader.epoch(epoch, { startBatch: step % perEpoch })) {
        const lr = cosineLr(step, { baseLr: cfg.lr, totalSteps: cfg.steps, warmupSteps: cfg.warmupSteps, stepsPerEpoch: cfg.cosinePerEpoch ? perEpoch : undefined });
        opt.lr = lr;
        // tidy keeps what the result references (the loss and its parts) and frees the rest.
        const { loss, parts } = tidy(() => method.loss(batch, step));
        batch.release();
        const names = Object.keys(parts ?? {});
        const scalars = [loss, ...names.map((k) => parts![k]!)];
        let values: Promise<number[]>;
        let exchange: SyncResult | undefined;
        if (sync) {
          // The loss is averaged with the gradients: every replica sees the global loss and stops on the same step.
          exchange = await sync.backward(loss, scalars);
          values = Promise.resolve(exchange.scalars);
          if (run.replica!.interrupted && !interrupted) interrupted = 'SIGINT/SIGTERM';
        } else backward(loss);
        opt.step();
        opt.zeroGrad();
        method.afterStep(batch, step);
        let hashes: number[] | undefined;
        if (run.replica && run.checkReplicas) {
          hashes = run.replica.compareHashes(await stateHash(method));
          if (hashes.some((h) => h !== hashes![0])) {
            throw new Error(`after step ${step + 1} the replicas' parameters or buffers differ (hashes ${hashes.map((h) => h.toString(16)).join(', ')}): data-parallel training lost synchronisation`);
          }
        }
        if (!run.replica) {
          const reads = stream.readLater(scalars.map((t) => ({ buffer: t.buffer, bytes: 4 })));
          values = reads.then((bufs) => bufs.map((b) => new Float32Array(b)[0]!));
        }
        loss.dispose();
        for (const p of Object.values(parts ?? {})) p.dispose();
        stream.flush();
        await settle();
        step++;
        pending = { step, epoch, lr, names, values: values!, hashes, exchange };
        if (run.stopAfter !== undefined && step >= run.stopAfter) interrupted = 'stopAfter';
        const due = cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0 && step < cfg.steps;
        if (interrupted || due || step >= cfg.steps) await settle();
        if (interrupted) { await save(step); stopped = 'interrupted'; break outer; }
        if (due) await save(step);
        if (step >= cfg.steps) break outer;
      }
    }
    await settle();
    if (stopped === 'done') await save(step);
  } finally {
    prog?.done();
    process.off('SIGINT', hInt); process.off('SIGTERM', hTerm);
    opt.dispose();
    const log = writer ? readLossLog(logPath) : { steps: [], losses: [] };
    if (log.losses.length) {
      try {
        await writeLossCurve(join(run.outDir, 'loss.png'), `${method.name} loss`, [
          { name: 'loss (per step)', xs: log.steps, ys: log.losses, color: '#9ecae1' },
          { name: 'moving average', xs: log.steps, ys: smooth(log.losses, Math.max(1, Math.round(log.losses.length / 50))), color: '#08519c' },
        ]);
      } catch (e) { console.error(`could not write the loss curve: ${(e as Error).message}`); }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (stopped === 'interrupted' && writer) console.error(`stopped at step ${step} (${interrupted}); checkpoint written to ${ckptPath}; continue with --resume`);
  return { steps: step, losses, stopped, seconds, imagesPerSec: ((step - startStep) * cfg.batchSize) / Math.max(1e-9, seconds), checkpoint: ckptPath };
}

/** FNV-1a over every word of the method's parameters, buffers and extra tensors (data-parallel checks). */
async function stateHash(method: Method): Promise<number> {
  const ts: Tensor[] = [];
  for (const [, m] of method.modules) for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) ts.push(t);
  for (const [, t] of method.extraTensors()) ts.push(t);
  const bufs = stream.readLater(ts.map((t) => ({ buffer: t.buffer, bytes: t.size * 4 })));
  stream.flush();
  let h = 0x811c9dc5;
  for (const b of await bufs) {
    const w = new Uint32Array(b);
    for (let i = 0; i < w.length; i++) { h ^= w[i]!; h = Math.imul(h, 0x01000193); }
  }
  return h >>> 0;
}
