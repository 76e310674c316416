// The data loader: shuffling by (seed, epoch), batching, and background
// prefetch on worker threads with a bounded queue.
//
// Every batch is a pure function of (seed, epoch, batch index): the order
// comes from (seed, epoch) and each sample's augmentation from (seed, epoch,
// sample index, view). So the same seed gives the same batches with any
// number of workers, and a run resumes exactly at (epoch, batch).

import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BufferPool, buildBatch, type BatchConfig, type BatchJob, type BuiltBatch } from './batch.js';
import { BadSampleError, skipReport, type Dataset, type SkippedFile } from './dataset.js';
import { Augmenter, checkPipeline, type PipelineSpec } from './pipeline.js';
import type { JobMessage, RecycleMessage, ReplyMessage, WorkerInit } from './protocol.js';
import { epochOrder } from './rng.js';

/**
 * How views are laid out in a batch:
 * - 'single': one view, `images = [x]`;
 * - 'two': two independent views (MoCo, DisCo), `images = [x1, x2]`;
 * - 'shared': one view for teacher and student (SimReg), `images = [x, x]`,
 *   the same array twice (no copy; test with `images[0] === images[1]`).
 */
export type ViewMode = 'single' | 'two' | 'shared';

export interface LoaderOptions {
  batchSize: number;
  pipeline: PipelineSpec;
  views?: ViewMode;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle and of every augmentation (default 0). */
  seed?: number;
  /** Drop the last, short batch (default false). */
  dropLast?: boolean;
  /** Worker threads building batches; 0 (default) builds them on this thread. */
  workers?: number;
  /** Batches queued or being built per worker (default 2; with 0 workers, batches built ahead, default 1). */
  prefetch?: number;
  /** Images decoded at once within a batch, for folder data sets (default 4). */
  decodeAhead?: number;
  /** A sample that fails to decode: 'error' stops; 'skip' leaves it out and reports it at the end of the epoch. Default: the data set's onBadFile, else 'error'. */
  onBadSample?: 'error' | 'skip';
  /** Where skip reports go (default console.warn). */
  onWarning?: (message: string) => void;
  /** The worker script, when it is not at one of the usual places next to this bundle (see `findWorkerScript`). */
  workerUrl?: string | URL;
  /** Augmentation kernels (see AugmenterOptions): 'simd' (default where available) or the 'js' reference. */
  kernels?: 'simd' | 'js';
  /**
   * Data-parallel replicas: this loader yields slice `index` of `count` of every batch of `batchSize` (the global
   * batch). Order and augmentations are those of the whole batch, since both depend on data-set indices only.
   */
  shard?: { index: number; count: number };
}

export interface Batch {
  epoch: number;
  /** Index of the batch within its epoch. */
  index: number;
  /** Samples in this batch. */
  size: number;
  /** NCHW images per view, see ViewMode. */
  images: Float32Array[];
  /** [size, channels, height, width] of each entry of `images`. */
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Data-set index of each sample. */
  indices: Int32Array;
  /** Samples of this batch left out as undecodable (only with onBadSample 'skip'). */
  skipped: SkippedFile[];
  /**
   * Optional: hand the image buffers back for reuse once they have been
   * consumed (e.g. uploaded to the GPU). Saves allocating and zeroing a
   * batch-sized array per batch. Do not read `images` afterwards: a later
   * batch will overwrite them. Labels and indices stay valid. Calling it
   * twice is harmless.
   */
  release(): void;
}

export interface EpochOptions {
  /** Start at this batch (to resume a run); earlier batches are not built. */
  startBatch?: number;
}

/** Builds batches somewhere; results come back through promises. */
interface Executor {
  readonly capacity: number;
  /** Resolves with the batch and the worker that built it (-1: this thread). `run` tags the epoch iteration. */
  submit(job: BatchJob, run: number): Promise<BuiltBatch & { worker: number }>;
  /** Forget the jobs of an abandoned iteration that have not started (they reject). */
  drop(run: number): void;
  /** Take back a released batch's buffers (ownership passes with the call). */
  recycle(worker: number, buffers: (ArrayBuffer | SharedArrayBuffer)[]): void;
  close(): Promise<void>;
}

/** Build on this thread, one batch at a time, started on a later turn of the event loop. */
class InlineExecutor implements Executor {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly pool: BufferPool;
  constructor(
    private readonly ds: Dataset,
    private readonly aug: Augmenter,
    private readonly cfg: BatchConfig,
    readonly capacity: number,
  ) {
    this.pool = new BufferPool(capacity + 2, false);
  }

  private dropped = -1;

  submit(job: BatchJob, runId: number): Promise<BuiltBatch & { worker: number }> {
    const run = () =>
      new Promise<void>((r) => setImmediate(r))
        .then(() => {
          if (runId <= this.dropped) throw new Error('batch of an abandoned epoch iteration');
          return buildBatch(this.ds, this.aug, this.cfg, job, this.pool);
        })
        .then((b) => ({ ...b, worker: -1 }));
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => {});
    return p;
  }

  drop(run: number): void {
    this.dropped = Math.max(this.dropped, run);
  }

  recycle(_worker: number, buffers: (ArrayBuffer | SharedArrayBuffer)[]): void {
    for (const b of buffers) this.pool.give(b);
  }

  async close(): Promise<void> {}
}

interface Pending {
  job: BatchJob;
  run: number;
  id: number;
  resolve: (b: BuiltBatch & { worker: number }) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  outstanding: Map<number, Pending>;
  index: number;
  /** Set while close() waits for the last outstanding batch. */
  drained?: () => void;
}

/** How long close() waits for batches being built before terminating the workers anyway. */
const CLOSE_WAIT_MS = 10_000;

/** A fixed set of worker threads, each with at most `perWorker` batches assigned. */
class WorkerPool implements Executor {
  readonly capacity: number;
  private slots: Slot[] = [];
  private queue: Pending[] = [];
  private nextId = 1;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    count: number,
    private readonly perWorker: number,
    url: URL,
    init: WorkerInit,
  ) {
    this.capacity = count * perWorker;
    for (let i = 0; i < count; i++) {
      const worker = new Worker(url, { workerData: init });
      const slot: Slot = { worker, outstanding: new Map(), index: i };
      worker.unref(); // idle workers never keep the process alive; ref'd while they owe a batch
      worker.on('message', (m: ReplyMessage) => this.onReply(slot, m));
      worker.on('error', (err) => this.crash(new Error(`data worker ${i} failed: ${err?.message ?? err}`)));
      worker.on('exit', (code) => {
        if (!this.closed) this.crash(new Error(`data worker ${i} exited unexpectedly with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  submit(job: BatchJob, run: number): Promise<BuiltBatch & { worker: number }> {
    if (this.closed) return Promise.reject(new Error('data loader is closed'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<BuiltBatch & { worker: number }>((resolve, reject) => {
      this.queue.push({ job, run, id: this.nextId++, resolve, reject });
      this.dispatch();
    });
  }

  drop(run: number): void {
    const err = new Error('batch of an abandoned epoch iteration');
    const keep: Pending[] = [];
    for (const p of this.queue) {
      if (p.run <= run) p.reject(err);
      else keep.push(p);
    }
    this.queue = keep;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Slot | null = null;
      for (const s of this.slots) {
        if (s.outstanding.size < this.perWorker && (!best || s.outstanding.size < best.outstanding.size)) best = s;
      }
      if (!best) return;
      const p = this.queue.shift()!;
      if (best.outstanding.size === 0) best.worker.ref();
      best.outstanding.set(p.id, p);
      const msg: JobMessage = { type: 'job', id: p.id, epoch: p.job.epoch, batch: p.job.batch, indices: p.job.indices };
      best.worker.postMessage(msg);
    }
  }

  private onReply(slot: Slot, m: ReplyMessage): void {
    const p = slot.outstanding.get(m.id);
    if (!p) return;
    slot.outstanding.delete(m.id);
    if (slot.outstanding.size === 0) {
      slot.drained?.();
      if (!this.closed) slot.worker.unref();
    }
    if (this.closed) {
      p.reject(new Error('data loader is closed'));
      return;
    }
    if (m.type === 'done') p.resolve({ ...m.result, worker: slot.index });
    else if (m.file !== undefined) p.reject(new BadSampleError(m.file, m.reason ?? m.message));
    else {
      const e = new Error(m.message);
      if (m.stack) e.stack = m.stack; // the worker's stack says where it failed
      p.reject(e);
    }
    this.dispatch();
  }

  recycle(worker: number, buffers: (ArrayBuffer | SharedArrayBuffer)[]): void {
    const slot = this.slots[worker];
    if (!slot || this.closed) return;
    const shared = buffers.filter((b): b is SharedArrayBuffer => typeof SharedArrayBuffer === 'function' && b instanceof SharedArrayBuffer);
    if (shared.length === 0) return;
    const msg: RecycleMessage = { type: 'recycle', buffers: shared };
    slot.worker.postMessage(msg);
  }

  private crash(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const s of this.slots) {
      for (const p of s.outstanding.values()) p.reject(err);
      s.outstanding.clear();
    }
    for (const p of this.queue) p.reject(err);
    this.queue = [];
    void this.close(true);
  }

  async close(afterCrash = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('data loader is closed');
    for (const p of this.queue) p.reject(err);
    this.queue = [];
    const slots = this.slots;
    this.slots = [];
    // Whoever waits for a batch hears now; the entries stay until the workers answer.
    for (const s of slots) for (const p of s.outstanding.values()) p.reject(err);
    await Promise.all(
      slots.map(async (s) => {
        // Ref first: awaiting an unref'd worker keeps nothing alive, and a
        // process with nothing else to do would quit in the middle of close().
        s.worker.ref();
        // Let a batch being built finish (bounded wait), so no decode is
        // still running in the thread pool when the thread is torn down.
        if (!afterCrash && s.outstanding.size > 0) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            s.drained = resolve;
            timer = setTimeout(resolve, CLOSE_WAIT_MS);
          });
          clearTimeout(timer);
        }
        for (const p of s.outstanding.values()) p.reject(err);
        s.outstanding.clear();
        await s.worker.terminate().catch(() => 0);
      }),
    );
  }

  get crashed(): boolean {
    return this.failure !== null;
  }
}

/**
 * Where the worker script is: `workerUrl` if given, else the environment
 * variable SIMREG_DATA_WORKER, else `data_worker.js` beside the bundle that
 * holds this code or up to three folders above it (dist/index.js and
 * dist/test/<layer>/x.test.js both reach dist/data_worker.js), else
 * `worker.js` beside this file (an unbundled tsc build).
 */
export function findWorkerScript(workerUrl?: string | URL): URL {
  const toUrl = (u: string | URL) => (u instanceof URL ? u : /^[a-z]+:\/\//i.test(u) ? new URL(u) : pathToFileURL(u));
  if (workerUrl !== undefined) {
    const u = toUrl(workerUrl);
    if (u.protocol === 'file:' && !existsSync(fileURLToPath(u))) throw new Error(`data worker script ${fileURLToPath(u)} (option workerUrl) does not exist`);
    return u;
  }
  const env = process.env['SIMREG_DATA_WORKER'];
  if (env) {
    const u = toUrl(env);
    if (u.protocol === 'file:' && !existsSync(fileURLToPath(u))) throw new Error(`data worker script ${fileURLToPath(u)} (SIMREG_DATA_WORKER) does not exist`);
    return u;
  }
  const here = import.meta.url;
  const candidates = ['./data_worker.js', '../data_worker.js', '../../data_worker.js', '../../../data_worker.js', './worker.js'].map((p) => new URL(p, here));
  for (const c of candidates) {
    if (c.protocol === 'file:' && existsSync(fileURLToPath(c))) return c;
  }
  throw new Error(
    `cannot find the data worker script; tried ${candidates.map((c) => c.pathname).join(', ')}. ` +
      `Build it (src/data/worker.ts -> dist/data_worker.js) or pass the loader option workerUrl.`,
  );
}

export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly pipeline: PipelineSpec;
  readonly views: ViewMode;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly shard: { index: number; count: number };
  readonly workers: number;
  /** Every sample skipped as undecodable so far, over all epochs. */
  readonly skipped: SkippedFile[] = [];
  /**
   * Counters for tests and benches: batches submitted and delivered, the
   * most ever queued or being built at once, and image buffers allocated
   * (as opposed to reused after Batch.release).
   */
  readonly stats = { submitted: 0, delivered: 0, maxPending: 0, buffersAllocated: 0 };

  private readonly augmenter: Augmenter;

  /** The augmentation kernels every thread of this loader renders with. */
  get kernels(): 'simd' | 'js' {
    return this.augmenter.kernels;
  }
  private readonly config: BatchConfig;
  private readonly prefetch: number;
  private readonly workerScript: URL | null;
  private readonly warn: (message: string) => void;
  private executor: Executor | null = null;
  private run = 0;
  /** Ends the iteration in progress, if any (a new epoch() supersedes it). */
  private endActive: ((why: Error) => void) | null = null;
  private closed = false;

  constructor(dataset: Dataset, opts: LoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    const workers = opts.workers ?? 0;
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`workers must be a non-negative integer, got ${workers}`);
    checkPipeline(opts.pipeline);
    if (dataset.length === 0) throw new Error(`${dataset.name}: data set is empty`);
    this.dataset = dataset;
    this.batchSize = opts.batchSize;
    this.pipeline = opts.pipeline;
    this.views = opts.views ?? 'single';
    if (!['single', 'two', 'shared'].includes(this.views)) throw new Error(`views must be 'single', 'two' or 'shared', got '${this.views}'`);
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
    if (opts.shard) {
      const { index, count } = opts.shard;
      if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 0 && index < count)) throw new Error(`shard ${index}/${count}: the index must be in 0..count-1`);
      if (opts.batchSize % count !== 0) throw new Error(`batch size ${opts.batchSize} does not split into ${count} equal slices`);
    }
    this.shard = opts.shard ?? { index: 0, count: 1 };
    this.workers = workers;
    this.prefetch = Math.max(1, opts.prefetch ?? (workers > 0 ? 2 : 1));
    this.warn = opts.onWarning ?? ((m) => console.warn(m));
    const datasetSkip = (dataset as { onBadFile?: string }).onBadFile === 'skip';
    this.config = {
      seed: this.seed,
      views: this.views === 'two' ? 2 : 1,
      skipBad: (opts.onBadSample ?? (datasetSkip ? 'skip' : 'error')) === 'skip',
      decodeAhead: opts.decodeAhead ?? 4,
    };
    this.augmenter = new Augmenter(opts.pipeline, { kernels: opts.kernels });
    if (workers > 0 && !dataset.spec) {
      throw new Error(`${dataset.name}: this data set cannot be sent to worker threads (it has no spec()); use workers: 0`);
    }
    // Find the worker script now, so a bad installation fails here rather than mid-run.
    this.workerScript = workers > 0 ? findWorkerScript(opts.workerUrl) : null;
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The order in which epoch `epoch` visits the data set. */
  order(epoch: number): Int32Array {
    return epochOrder(this.dataset.length, this.seed, epoch, this.shuffle);
  }

  private getExecutor(): Executor {
    if (this.executor instanceof WorkerPool && this.executor.crashed) this.executor = null; // respawn after a crash
    if (!this.executor) {
      if (this.workers === 0) {
        this.executor = new InlineExecutor(this.dataset, this.augmenter, this.config, this.prefetch);
      } else {
        const url = this.workerScript!;
        const init: WorkerInit = { dataset: this.dataset.spec!(), pipeline: this.pipeline, kernels: this.kernels, config: this.config, poolSize: this.prefetch + 2 };
        this.executor = new WorkerPool(this.workers, this.prefetch, url, init);
      }
    }
    return this.executor;
  }

  /**
   * Iterate over the batches of epoch `epoch` (from `startBatch`). At most
   * `workers x prefetch` batches (0 workers: `prefetch`) are being built or
   * waiting at any time. Starting another epoch ends this one's iteration.
   */
  epoch(epoch: number, opts: EpochOptions = {}): AsyncIterableIterator<Batch> {
    if (this.closed) throw new Error('data loader is closed');
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`epoch must be a non-negative integer, got ${epoch}`);
    const total = this.batchesPerEpoch;
    const start = opts.startBatch ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > total) throw new Error(`startBatch ${start} is outside [0, ${total}] for epoch ${epoch}`);
    this.endActive?.(new Error(`the iteration of epoch ${epoch} was superseded by a later call to epoch()`));
    const runId = ++this.run;
    const order = this.order(epoch);
    const n = this.dataset.length;
    const bs = this.batchSize;
    const window: Promise<BuiltBatch & { worker: number }>[] = [];
    let nextSubmit = start;
    let nextYield = start;
    let finished = false;
    let endError: Error | null = null;
    const epochSkipped: SkippedFile[] = [];
    const [c, h, w] = [this.pipeline.channels, this.pipeline.height, this.pipeline.width];

    const fill = () => {
      const ex = this.getExecutor();
      while (nextSubmit < total && window.length < ex.capacity) {
        const b = nextSubmit++;
        const from = b * bs, len = Math.min(n, (b + 1) * bs) - from;
        const { index: si, count: sc } = this.shard;
        const indices = order.slice(from + Math.floor((len * si) / sc), from + Math.floor((len * (si + 1)) / sc));
        const p = ex.submit({ epoch, batch: b, indices }, runId);
        p.catch(() => {}); // surfaced when its turn comes; dropped if the epoch is abandoned
        window.push(p);
        this.stats.submitted++;
        this.stats.maxPending = Math.max(this.stats.maxPending, window.length);
      }
    };
    const finish = (why?: Error) => {
      if (finished) return;
      finished = true;
      endError = why ?? null;
      window.length = 0;
      if (this.endActive === finish) this.endActive = null;
      // Batches not yet started are not built for nothing.
      this.executor?.drop(runId);
    };
    this.endActive = finish;

    const self = this;
    const it: AsyncIterableIterator<Batch> = {
      [Symbol.asyncIterator]() {
        return it;
      },
      async next(): Promise<IteratorResult<Batch>> {
        if (finished) {
          // Say once why the iteration ended early (superseded); then behave as done.
          const e = endError;
          endError = null;
          if (e) throw e;
          return { done: true, value: undefined };
        }
        if (self.closed) {
          finish();
          throw new Error('data loader is closed');
        }
        if (nextYield >= total) {
          finish();
          if (epochSkipped.length > 0) self.warn(skipReport(`${self.dataset.name}: epoch ${epoch} skipped ${epochSkipped.length} undecodable image(s)`, epochSkipped));
          return { done: true, value: undefined };
        }
        fill();
        let built: BuiltBatch & { worker: number };
        try {
          built = await window[0]!;
        } catch (err) {
          finish();
          throw err;
        }
        if (finished) {
          const e = endError ?? new Error('data loader is closed');
          endError = null;
          throw e;
        }
        window.shift();
        nextYield++;
        self.stats.delivered++;
        self.stats.buffersAllocated += built.allocated;
        fill();
        if (built.skipped.length > 0) {
          epochSkipped.push(...built.skipped);
          self.skipped.push(...built.skipped);
        }
        const first = built.images[0]!;
        const images = self.views === 'shared' ? [first, first] : built.images;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          const ex = self.executor;
          const bufs = [...new Set(built.images.map((im) => im.buffer))];
          if (ex) ex.recycle(built.worker, bufs);
        };
        return {
          done: false,
          value: { epoch, index: built.batch, size: built.size, images, shape: [built.size, c, h, w], labels: built.labels, indices: built.indices, skipped: built.skipped, release },
        };
      },
      async return(): Promise<IteratorResult<Batch>> {
        finish();
        return { done: true, value: undefined };
      },
    };
    return it;
  }

  /** Stop the workers. Safe to call more than once; the loader cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.endActive?.(new Error('data loader is closed'));
    const ex = this.executor;
    this.executor = null;
    if (ex) await ex.close();
  }
}
