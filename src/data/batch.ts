// Building one batch: the part the main thread (0 workers) and the worker
// threads share, so both produce bit-identical batches.

import { ArrayDataset, BadSampleError, type Dataset, type RawImage, type SkippedFile } from './dataset.js';
import { Augmenter, type AugmentDraw, type Origin } from './pipeline.js';
import { sampleRng } from './rng.js';

export interface BatchJob {
  epoch: number;
  /** Index of the batch within its epoch. */
  batch: number;
  /** Data-set indices of the samples, in batch order. */
  indices: Int32Array;
}

export interface BatchConfig {
  seed: number;
  /** Independent views per sample (1 or 2). */
  views: 1 | 2;
  /** Leave undecodable samples out of the batch (counted) instead of failing. */
  skipBad: boolean;
  /** Images being decoded at once (folder data sets). */
  decodeAhead: number;
}

/** A collated batch as the builder returns it (the loader adds the view layout). */
export interface BuiltBatch {
  epoch: number;
  batch: number;
  /** Samples in the batch (smaller than requested only when bad samples were skipped). */
  size: number;
  /** One NCHW array per independent view. */
  images: Float32Array[];
  labels: Int32Array;
  indices: Int32Array;
  skipped: SkippedFile[];
  /** Image buffers newly allocated for this batch (0 when released ones were reused). */
  allocated: number;
}

/**
 * Batch image buffers handed back by the consumer (Batch.release), for reuse.
 * Fresh large arrays cost page faults and zeroing on first touch (about as
 * much as normalising the image into them), so reusing them matters.
 *
 * Worker threads use SharedArrayBuffers: sending one to another thread
 * shares it, while transferring a batch-sized ArrayBuffer each way made V8
 * account it as new external memory in the receiving thread every time and
 * run a full garbage collection per batch or so (measured: ~10 ms per 100 MB).
 */
export class BufferPool {
  private free = new Map<number, (ArrayBuffer | SharedArrayBuffer)[]>();
  /** Buffers allocated because none was free. */
  allocated = 0;
  constructor(
    private readonly maxPerSize: number,
    private readonly shared: boolean,
  ) {}

  /** A Float32Array of n floats: a returned buffer of that size if any (contents stale), else a new one. */
  take(n: number): Float32Array {
    const list = this.free.get(n * 4);
    const buf = list?.pop();
    if (buf) return new Float32Array(buf);
    this.allocated++;
    return new Float32Array(this.shared ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
  }

  give(buf: ArrayBuffer | SharedArrayBuffer): void {
    if (buf.byteLength === 0) return; // detached
    let list = this.free.get(buf.byteLength);
    if (!list) this.free.set(buf.byteLength, (list = []));
    if (list.length < this.maxPerSize && !list.includes(buf)) list.push(buf);
  }
}

export async function buildBatch(ds: Dataset, aug: Augmenter, cfg: BatchConfig, job: BatchJob, pool?: BufferPool): Promise<BuiltBatch> {
  const n = job.indices.length;
  const per = aug.sampleSize;
  const images: Float32Array[] = [];
  const before = pool?.allocated ?? 0;
  // Every float is overwritten (or trimmed off when a sample is skipped), so stale contents are fine.
  for (let v = 0; v < cfg.views; v++) images.push(pool ? pool.take(n * per) : new Float32Array(n * per));
  const allocated = pool ? pool.allocated - before : cfg.views;
  const labels = new Int32Array(n);
  const indices = new Int32Array(n);
  const skipped: SkippedFile[] = [];
  let filled = 0;

  const rngs = (index: number) => {
    const r = [];
    for (let v = 0; v < cfg.views; v++) r.push(sampleRng(cfg.seed, job.epoch, index, v));
    return r;
  };
  const put = (image: RawImage, label: number, index: number) => {
    const r = rngs(index);
    for (let v = 0; v < cfg.views; v++) aug.apply(image, r[v]!, images[v]!, filled * per);
    labels[filled] = label;
    indices[filled] = index;
    filled++;
  };

  if (ds instanceof ArrayDataset) {
    // In-memory images: no promises per sample.
    for (let i = 0; i < n; i++) {
      const index = job.indices[i]!;
      put(ds.image(index), ds.labels[index]!, index);
    }
  } else {
    // Keep a few decodes in flight (they run on libuv's threads) while
    // this thread augments the ones already decoded, in batch order.
    type Got = { image: RawImage; label: number; origin?: Origin; draws?: AugmentDraw[] } | SkippedFile;
    const pending: Promise<Got>[] = [];
    const useRegions = aug.cropsRegions && typeof ds.getRegion === 'function';
    const load = (index: number): Promise<Got> => {
      if (!useRegions) return ds.get(index, aug.hint);
      // Draw the crops from the image's full size, then decode just what they cover.
      let draws: AugmentDraw[] = [];
      return ds.getRegion!(index, (w, h) => {
        draws = rngs(index).map((rng) => aug.draw(rng, w, h));
        return aug.regionFor(draws, w, h);
      }).then((r) => ({ image: r.image, label: r.label, origin: r.origin, draws }));
    };
    const start = (i: number) => {
      pending[i] = load(job.indices[i]!).catch((err: unknown) => {
        if (cfg.skipBad && err instanceof BadSampleError) return { file: err.file, reason: err.reason };
        throw err;
      });
      // Avoid an unhandled rejection while an earlier sample is awaited; the error surfaces when its turn comes.
      pending[i]!.catch(() => {});
    };
    const ahead = Math.max(1, cfg.decodeAhead);
    for (let i = 0; i < Math.min(ahead, n); i++) start(i);
    for (let i = 0; i < n; i++) {
      let got: Got;
      try {
        got = await pending[i]!;
      } catch (err) {
        // Let the decodes already started finish before failing, so nothing
        // is left running on the thread pool when a worker is shut down.
        await Promise.allSettled(pending.filter((p) => p !== undefined));
        throw err;
      }
      delete pending[i];
      if (i + ahead < n) start(i + ahead);
      if ('file' in got) {
        skipped.push(got);
      } else if (got.draws) {
        const index = job.indices[i]!;
        for (let v = 0; v < cfg.views; v++) aug.render(got.image, got.draws[v]!, images[v]!, filled * per, got.origin);
        labels[filled] = got.label;
        indices[filled] = index;
        filled++;
      } else {
        put(got.image, got.label, job.indices[i]!);
      }
    }
  }

  const trim = <T extends Float32Array | Int32Array>(a: T, len: number): T => (len === a.length ? a : (a.subarray(0, len) as T));
  return {
    epoch: job.epoch,
    batch: job.batch,
    size: filled,
    images: images.map((im) => trim(im, filled * per)),
    labels: trim(labels, filled),
    indices: trim(indices, filled),
    skipped,
    allocated,
  };
}
