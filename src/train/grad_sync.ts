// One replica's side of a data-parallel step (see replicas.ts for the memory and the barriers): the backward
// pass, with the gradients read back in buckets as they become final, averaged with the other replicas while the
// device still runs the rest of the backward pass, and uploaded before the optimiser.
//
// Slot layout (32-bit words): the gradients in the order the backward pass finishes them, then the loss terms
// (together the averaged words), then the BatchNorm buffers (replica 0's are kept), then the gathered rows.
// The order is learnt on the first step, which exchanges everything after its backward pass; later steps
// follow it, cutting a bucket whenever `bucketBytes` of gradients are final (0: one exchange after the backward
// pass, every step). The averaged values do not depend on the buckets: each word is the same sum, in replica
// order, whatever bucket it travels in.
import { Tensor } from '../autograd/tensor.js';
import { backward } from '../autograd/tape.js';
import { stream } from '../gpu/stream.js';
import type { Exchange } from './replicas.js';
import type { Method } from './trainer.js';

export interface SyncResult {
  /** The loss terms averaged over the replicas. */
  scalars: number[];
  /** Host time of the exchange not hidden behind the backward pass: from the last read-back to the uploads. */
  ms: number;
  /** Of `ms`, waiting for the other replicas. */
  waitMs: number;
  /** Buckets this step. */
  buckets: number;
  /** Bytes of this replica's slot: what it reads back from its device and writes to host memory. */
  bytes: number;
}

/** What does not change from step to step: the trained parameters (and their index by tensor id), the buffers. */
interface Fixed { params: Tensor[]; index: Map<number, number>; bufs: Tensor[] }

export class GradSync {
  /** Parameter indices in the order the backward pass finishes their gradients, and where each bucket ends. */
  private plan: { order: number[]; ends: number[] } | null = null;
  private fixed: Fixed | null = null;

  constructor(private readonly ex: Exchange, private readonly method: Method, private readonly bucketBytes: number) {}

  async backward(loss: Tensor, scalars: Tensor[]): Promise<SyncResult> {
    const ex = this.ex;
    const { params, index, bufs } = this.fixed ??= this.setup();
    const gathers = this.method.gatherRows?.() ?? [];
    for (const t of [...gathers, ...scalars]) checkWords(t);
    const plan = this.plan;
    const ready: number[] = [];
    const reads: Promise<number>[] = [];
    /** [first word, end word) of each bucket sent so far. */
    const spans: [number, number][] = [];
    let layout: ReturnType<typeof this.layout> | null = null;
    let mine: Uint8Array | null = null;
    if (plan) {
      layout = this.layout(plan.order, params, scalars, bufs, gathers);
      await ex.setup(layout.words);
      ex.nextStep();
      const slot = ex.slot(ex.rank);
      mine = new Uint8Array(slot.buffer, slot.byteOffset, slot.byteLength);
    }
    let sentUpTo = 0;
    let bucket = 0;
    backward(loss, undefined, {
      onLeafGrad: (t) => {
        const i = index.get(t.id);
        if (i === undefined) return;
        ready.push(i);
        if (!plan || !layout || bucket >= plan.ends.length - 1 || ready.length !== plan.ends[bucket]) return;
        if (plan.order[ready.length - 1] !== i) return; // checked after the sweep
        // A bucket's gradients are final: read them back now, in their own submission.
        const from = sentUpTo, to = ready.length;
        reads.push(stream.readLaterInto(plan.order.slice(from, to).map((j) => ({ buffer: params[j]!.grad!.buffer, bytes: params[j]!.size * 4, at: layout!.gradAt[j]! * 4 })), mine!));
        spans.push([layout.gradAt[plan.order[from]!]!, layout.gradAt[plan.order[to - 1]!]! + params[plan.order[to - 1]!]!.size]);
        stream.flush();
        sentUpTo = to;
        bucket++;
      },
    });
    if (plan && (ready.length !== plan.order.length || ready.some((v, k) => v !== plan.order[k]))) {
      throw new Error('data-parallel exchange: the backward pass finished the gradients in another order than on the first step; the replicas\' buckets would not line up');
    }
    if (!layout) {
      layout = this.layout(ready, params, scalars, bufs, gathers);
      await ex.setup(layout.words);
      ex.nextStep();
      const slot = ex.slot(ex.rank);
      mine = new Uint8Array(slot.buffer, slot.byteOffset, slot.byteLength);
    }
    const L = layout;
    // The last bucket: the gradients not sent yet, the loss terms, the buffers and the gathered rows.
    const order = plan ? plan.order : ready;
    reads.push(stream.readLaterInto([
      ...order.slice(sentUpTo).map((j) => ({ buffer: params[j]!.grad!.buffer, bytes: params[j]!.size * 4, at: L.gradAt[j]! * 4 })),
      ...scalars.map((t, k) => ({ buffer: t.buffer, bytes: 4, at: L.scalarAt[k]! * 4 })),
      ...bufs.map((t, k) => ({ buffer: t.buffer, bytes: t.size * 4, at: L.bufAt[k]! * 4 })),
      ...gathers.map((t, k) => ({ buffer: t.buffer, bytes: t.size * 4, at: L.gatherAt[k]! * 4 })),
    ], mine!));
    spans.push([sentUpTo < order.length ? L.gradAt[order[sentUpTo]!]! : L.scalarAt[0] ?? L.meanWords, L.meanWords]);
    stream.flush();

    // Average bucket after bucket as they arrive; only the last one's work is exposed.
    let copyMs = 0, t0 = 0, wait0 = 0;
    for (let b = 0; b < reads.length; b++) {
      const ms = await reads[b]!;
      const last = b === reads.length - 1;
      if (last) { copyMs = ms; t0 = performance.now(); wait0 = ex.waitMs; }
      ex.barrier();
      ex.reduceChunk(spans[b]![0], spans[b]![1]);
    }
    ex.barrier();
    const res = ex.result();
    const withGrad = order.map((j) => params[j]!);
    stream.writeScattered(res.subarray(0, L.meanWords), withGrad.map((p, k) => ({ dst: p.grad!.buffer, from: L.gradAt[order[k]!]! * 4, bytes: p.size * 4 })));
    if (ex.rank !== 0 && bufs.length) {
      // Replica 0's buffers, which sit right after the averaged words, in order.
      const first = ex.slot(0);
      const end = L.meanWords + bufs.reduce((a, t) => a + t.size, 0);
      stream.writeScattered(first.subarray(L.meanWords, end), bufs.map((t, k) => ({ dst: t.buffer, from: (L.bufAt[k]! - L.meanWords) * 4, bytes: t.size * 4 })));
    }
    if (gathers.length) {
      const rows = gathers.map((t, k) => {
        const all = new Uint32Array(t.size * ex.world);
        for (let r = 0; r < ex.world; r++) all.set(ex.slot(r).subarray(L.gatherAt[k]!, L.gatherAt[k]! + t.size), r * t.size);
        return Tensor.fromArray(t.dtype === 'i32' ? new Int32Array(all.buffer) : new Float32Array(all.buffer), [t.shape[0]! * ex.world, ...t.shape.slice(1)], t.dtype);
      });
      this.method.useGathered!(rows);
    }
    if (!plan && this.bucketBytes > 0) this.plan = { order: ready, ends: this.bucketEnds(ready, params) };
    return { scalars: L.scalarAt.map((at) => res[at]!), ms: copyMs + performance.now() - t0, waitMs: ex.waitMs - wait0, buckets: reads.length, bytes: L.words * 4 };
  }

  private setup(): Fixed {
    const params = this.method.trainable().map(([, p]) => p);
    const bufs = this.method.modules.flatMap(([, m]) => m.namedBuffers().map(([, t]) => t));
    for (const t of [...params, ...bufs]) checkWords(t);
    return { params, index: new Map(params.map((p, i) => [p.id, i])), bufs };
  }

  /** Word offsets: gradients in `order`, loss terms, buffers, gathered rows. */
  private layout(order: number[], params: Tensor[], scalars: Tensor[], bufs: Tensor[], gathers: Tensor[]) {
    let off = 0;
    const gradAt: number[] = new Array(params.length).fill(-1);
    for (const j of order) { gradAt[j] = off; off += params[j]!.size; }
    const scalarAt = scalars.map((t) => { const o = off; off += t.size; return o; });
    const meanWords = off;
    const bufAt = bufs.map((t) => { const o = off; off += t.size; return o; });
    const gatherAt = gathers.map((t) => { const o = off; off += t.size; return o; });
    return { gradAt, scalarAt, meanWords, bufAt, gatherAt, words: off };
  }

  /** Positions in `order` where a bucket of at least `bucketBytes` of gradients ends (the last: all of them). */
  private bucketEnds(order: number[], params: Tensor[]): number[] {
    const ends: number[] = [];
    let bytes = 0;
    order.forEach((j, k) => {
      bytes += params[j]!.size * 4;
      if (bytes >= this.bucketBytes && k < order.length - 1) { ends.push(k + 1); bytes = 0; }
    });
    ends.push(order.length);
    return ends;
  }
}

/** The exchange moves 32-bit words. */
function checkWords(t: Tensor): void {
  if (t.dtype !== 'f32' && t.dtype !== 'i32') throw new Error(`data-parallel exchange: a ${t.dtype} tensor of shape [${t.shape.join(', ')}] has no 32-bit words to exchange`);
}
