// Data-parallel training over several devices: one worker thread per device (each thread opens its own Dawn
// device, so the engine's one-device-per-thread state is untouched), and the averaging of gradients over host
// memory, since a WebGPU buffer cannot cross devices.
//
// The main thread starts the replicas and relays; it holds no replica itself. Every step each replica reads
// back its gradients, BatchNorm buffers, the rows to gather (MoCo's keys) and its loss into its slot of one
// SharedArrayBuffer; after a barrier each replica averages one contiguous chunk of the gradient words (summing
// the slots in rank order, so the result does not depend on timing) and after a second barrier every replica
// uploads the same averaged words. Replicas therefore hold bit-identical parameters after every step.
//
// What is not averaged:
// - BatchNorm statistics are per replica, over its slice of the batch (as PyTorch's DistributedDataParallel
//   without SyncBatchNorm); the running buffers are replica 0's, copied to the others every step (as DDP's
//   broadcast_buffers), so the checkpoint does not depend on which replica writes it.
// - Gathered rows (MoCo's keys) are concatenated in rank order: every replica enqueues the global batch.
//
// Control words (Int32 in a small SharedArrayBuffer the main thread owns):
//   COUNT, GEN   a reusable barrier (arrivals, generation)
//   INTR         set by the main thread on SIGINT/SIGTERM
//   DECISION     INTR as the last replica to arrive at a barrier saw it: every replica reads the same value
//   ABORT        set by the main thread when a replica failed: the others leave their barrier with an error
//   HASHES + r   replica r's hash of its state (--check-replicas)
//
// The slots are double-buffered by step parity: a fast replica writing step s+1 cannot overwrite what a slow one
// still copies out of step s (it would have to pass step s+1's first barrier, which waits for the slow one).
import { Worker, parentPort } from 'node:worker_threads';

const COUNT = 0, GEN = 1, INTR = 2, DECISION = 3, ABORT = 4, HASHES = 16;

/** What the main thread gives each replica's worker (workerData.simregReplica). */
export interface ReplicaInit {
  rank: number;
  world: number;
  control: SharedArrayBuffer;
  payload: unknown;
}

/** A replica's failure as the main thread reports it: the message and the exit code of the CLI's classes. */
export class ReplicaError extends Error {
  constructor(message: string, readonly exitCode: number, readonly rank: number) { super(message); }
}

/** Thrown in a replica whose barrier was abandoned because another replica failed (not itself the cause). */
export class ReplicaAborted extends Error {}

type ToMain = { type: 'data'; sab: SharedArrayBuffer } | { type: 'done'; result: unknown } | { type: 'failed'; message: string; exitCode: number; aborted: boolean };
type ToReplica = { type: 'data'; sab: SharedArrayBuffer };

/** The replica side: barrier, shared slots, and the per-step exchange words. */
export class Exchange {
  readonly rank: number;
  readonly world: number;
  private readonly c: Int32Array;
  private data: SharedArrayBuffer | null = null;
  /** Words per slot. */
  private words = 0;
  /** Step parity: which half of the slots this exchange uses. */
  private parity = 0;
  /** Milliseconds spent waiting in barriers so far (for the slowest replica, or for the main thread). */
  waitMs = 0;

  constructor(init: ReplicaInit) {
    this.rank = init.rank;
    this.world = init.world;
    this.c = new Int32Array(init.control);
  }

  /** Wait until every replica has arrived; throws ReplicaAborted when another replica failed meanwhile. */
  barrier(): void {
    const c = this.c;
    const gen = Atomics.load(c, GEN);
    if (Atomics.add(c, COUNT, 1) === this.world - 1) {
      Atomics.store(c, COUNT, 0);
      Atomics.store(c, DECISION, Atomics.load(c, INTR));
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      return;
    }
    const t0 = performance.now();
    while (Atomics.load(c, GEN) === gen) {
      if (Atomics.load(c, ABORT)) throw new ReplicaAborted('another replica failed; this one stops');
      Atomics.wait(c, GEN, gen, 200);
    }
    this.waitMs += performance.now() - t0;
  }

  /** The interrupt request as seen at the last barrier: the same on every replica. */
  get interrupted(): boolean { return Atomics.load(this.c, DECISION) !== 0; }

  /**
   * The shared slots, `words` 32-bit words each plus one result slot; made once by replica 0 and relayed by the
   * main thread, so every replica sees the same memory. Every replica must call it with the same `words`.
   */
  async setup(words: number): Promise<void> {
    if (this.data) {
      if (words !== this.words) throw new Error(`replica ${this.rank}: the exchange changed size (${this.words} -> ${words} words)`);
      return;
    }
    if (this.rank === 0) {
      this.data = new SharedArrayBuffer((2 * this.world + 1) * words * 4);
      parentPort!.postMessage({ type: 'data', sab: this.data } satisfies ToMain);
    } else {
      this.data = await new Promise<SharedArrayBuffer>((resolve) => {
        const on = (m: ToReplica) => { if (m.type === 'data') { parentPort!.off('message', on); resolve(m.sab); } };
        parentPort!.on('message', on);
      });
    }
    if (this.data.byteLength !== (2 * this.world + 1) * words * 4) throw new Error(`replica ${this.rank}: exchange of ${this.data.byteLength} bytes, expected ${(2 * this.world + 1) * words * 4}`);
    this.words = words;
  }

  /** Switch to the other half of the slots (once per step, before writing this replica's slot). */
  nextStep(): void { this.parity ^= 1; }

  /** Replica `r`'s slot of this step as 32-bit words. */
  slot(r: number): Uint32Array { return new Uint32Array(this.data!, (this.parity * this.world + r) * this.words * 4, this.words); }
  slotF32(r: number): Float32Array { return new Float32Array(this.data!, (this.parity * this.world + r) * this.words * 4, this.words); }
  /** The averaged words (only the first `meanWords` are meaningful). */
  result(): Float32Array { return new Float32Array(this.data!, 2 * this.world * this.words * 4, this.words); }

  /**
   * Publish this replica's hash of its state and return every replica's (rank order), after a barrier. The next
   * write of a hash comes after the next step's barriers, so every replica reads the same values.
   */
  compareHashes(h: number): number[] {
    Atomics.store(this.c, HASHES + this.rank, h | 0);
    this.barrier();
    return Array.from({ length: this.world }, (_, r) => Atomics.load(this.c, HASHES + r) >>> 0);
  }

  /**
   * Average words [from, to) of every slot into the result: this replica does its own contiguous part of the
   * range, summing the slots in rank order. Call after a barrier that follows every replica's writes of those
   * words, and before another barrier that precedes any read of the result.
   */
  reduceChunk(from: number, to: number): void {
    const len = to - from;
    const lo = from + Math.floor((len * this.rank) / this.world), hi = from + Math.floor((len * (this.rank + 1)) / this.world);
    const out = this.result();
    const slots = Array.from({ length: this.world }, (_, r) => this.slotF32(r));
    const n = this.world;
    if (n === 2) {
      // One pass: (a + b) / 2 is the same float as the general sum-then-divide below.
      const a = slots[0]!, b = slots[1]!;
      for (let i = lo; i < hi; i++) out[i] = (a[i]! + b[i]!) / 2;
      return;
    }
    out.set(slots[0]!.subarray(lo, hi), lo);
    for (let r = 1; r < n - 1; r++) {
      const s = slots[r]!;
      for (let i = lo; i < hi; i++) out[i]! += s[i]!;
    }
    const last = slots[n - 1]!;
    for (let i = lo; i < hi; i++) out[i] = (out[i]! + last[i]!) / n;
  }
}

/** The replica's init when this thread was started as one, else null. */
export function replicaInit(data: unknown): ReplicaInit | null {
  const r = (data as { simregReplica?: ReplicaInit } | null)?.simregReplica;
  return r && typeof r.rank === 'number' ? r : null;
}

/** Report the replica's outcome to the main thread (the last thing a replica does). */
export function reportReplica(outcome: { result: unknown } | { error: Error; exitCode: number; cause?: Error }): void {
  const msg: ToMain = 'result' in outcome
    ? { type: 'done', result: outcome.result }
    : { type: 'failed', message: outcome.error.message, exitCode: outcome.exitCode, aborted: (outcome.cause ?? outcome.error) instanceof ReplicaAborted };
  parentPort!.postMessage(msg);
}

/**
 * Start `world` replicas of `script` (a module that checks `replicaInit(workerData)`), relay the exchange memory,
 * turn SIGINT/SIGTERM into the shared interrupt request, and return every replica's result (rank order). A
 * failure in one replica stops the others; the error thrown is the first replica's own (not the aborts it
 * caused), with its exit code.
 */
export async function runReplicas<R>(script: URL, world: number, payload: unknown): Promise<R[]> {
  const control = new SharedArrayBuffer((HASHES + world) * 4);
  const c = new Int32Array(control);
  const results: (R | undefined)[] = new Array(world);
  let failure: ReplicaError | null = null;
  let abortedOnly: ReplicaError | null = null;
  const abort = () => { Atomics.store(c, ABORT, 1); Atomics.notify(c, GEN); };

  let signalledAt = 0;
  const onSignal = (sig: string) => () => {
    if (Atomics.load(c, INTR) && Date.now() - signalledAt < 1000) return;
    if (Atomics.load(c, INTR)) { console.error(`\n${sig} again: exiting without waiting`); process.exit(130); }
    Atomics.store(c, INTR, 1);
    signalledAt = Date.now();
    console.error(`\n${sig}: every replica finishes this step, then replica 0 writes a checkpoint...`);
  };
  const hInt = onSignal('SIGINT'), hTerm = onSignal('SIGTERM');
  process.on('SIGINT', hInt); process.on('SIGTERM', hTerm);

  const workers: Worker[] = [];
  try {
    await Promise.all(Array.from({ length: world }, (_, rank) => new Promise<void>((resolve) => {
      const w = new Worker(script, { workerData: { simregReplica: { rank, world, control, payload } satisfies ReplicaInit } });
      workers.push(w);
      let reported = false;
      w.on('message', (m: ToMain) => {
        if (m.type === 'data') { for (const o of workers) if (o !== w) o.postMessage({ type: 'data', sab: m.sab } satisfies ToReplica); }
        else if (m.type === 'done') { reported = true; results[rank] = m.result as R; }
        else if (m.type === 'failed') {
          reported = true;
          const e = new ReplicaError(m.message, m.exitCode, rank);
          if (m.aborted) abortedOnly ??= e; else failure ??= e;
          abort();
        }
      });
      w.on('error', (e) => { reported = true; failure ??= new ReplicaError(`replica ${rank}: ${e.message}`, 1, rank); abort(); });
      w.on('exit', (code) => {
        if (!reported) { failure ??= new ReplicaError(`replica ${rank} exited (code ${code}) without a result`, 1, rank); abort(); }
        resolve();
      });
    })));
  } finally {
    process.off('SIGINT', hInt); process.off('SIGTERM', hTerm);
  }
  const err = failure ?? abortedOnly;
  if (err) throw err;
  return results as R[];
}
