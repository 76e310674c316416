// Cached teacher features (SimReg's cached-teacher mode): one pass of the frozen teacher over the training
// set with the evaluation pipeline (no augmentation), stored as safetensors files of at most SHARD rows.
// A later run reuses the cache when the teacher file (path, size and modification time), the data set and
// the pipeline all match; otherwise it is rebuilt. Files are written atomically, so an interrupted build
// leaves either whole files or none, and a missing or mismatched file means a rebuild.
//
// The pass can be split over processes or machines (`simreg cache-teacher --shard I/N`, one Slurm array task
// each): part I covers a contiguous range of rows whose ends fall on multiples of the extraction batch, so
// every image goes through the teacher in exactly the batch it has in a one-process pass, and the merged
// cache (`--merge`) is byte-identical to the one-process cache.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { DataLoader, SubsetDataset, type Dataset, type PipelineSpec } from '../data/index.js';
import { teacherFeatures } from './simreg.js';
import type { LoadedTeacher } from './models.js';
import { hashKey } from '../data/index.js';

/** Rows per cache file. */
const SHARD = 16384;
/** Images per teacher forward pass. Part boundaries are multiples of it. */
export const CACHE_BATCH = 256;

export class CacheError extends Error {
  constructor(message: string) { super(message); this.name = 'CacheError'; }
}

export interface CacheLayout {
  /** Directory of this teacher/data/pipeline combination. */
  base: string;
  /** What the cache was computed from (stored in every file and compared on reuse). */
  meta: string;
  rows: number;
  dim: number;
  /** The files `distill --cache-teacher` reads, in row order. */
  files: string[];
}

export function cacheLayout(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec, dir: string): CacheLayout {
  const path = resolve(t.path);
  const st = statSync(path);
  const meta = JSON.stringify({ teacher: path, bytes: st.size, mtime: st.mtimeMs, spec: t.spec, data: ds.name, length: ds.length, pipeline: pipe });
  let h = 0;
  for (let i = 0; i < meta.length; i++) h = hashKey(h, meta.charCodeAt(i));
  const base = join(dir, `teacher-${(h >>> 0).toString(16).padStart(8, '0')}`);
  const n = Math.ceil(ds.length / SHARD);
  const files = Array.from({ length: n }, (_, i) => join(base, `shard-${String(i).padStart(5, '0')}.safetensors`));
  return { base, meta, rows: ds.length, dim: t.encoder.featureDim, files };
}

/** Rows [start, end) of part `index` of `count`: equal numbers of whole extraction batches (the last part may be shorter or empty). */
export function partRange(rows: number, index: number, count: number): [number, number] {
  if (!Number.isInteger(count) || count < 1) throw new CacheError(`the number of parts must be a positive integer, got ${count}`);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new CacheError(`part index ${index} is outside 0..${count - 1}`);
  const batches = Math.ceil(rows / CACHE_BATCH);
  const per = Math.ceil(batches / count);
  const start = Math.min(rows, index * per * CACHE_BATCH);
  return [start, Math.min(rows, (index + 1) * per * CACHE_BATCH)];
}

export const partFile = (l: CacheLayout, index: number, count: number) => join(l.base, `part-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`);

/** The teacher's features of rows [start, end), in extraction batches counted from `start`. */
async function computeRows(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec, start: number, end: number, workers: number): Promise<Float32Array> {
  const view = start === 0 && end === ds.length ? ds : new SubsetDataset(ds, Int32Array.from({ length: end - start }, (_, i) => start + i));
  if (view.length === 0) return new Float32Array(0);
  const loader = new DataLoader(view, { batchSize: CACHE_BATCH, pipeline: pipe, views: 'single', shuffle: false, workers });
  try {
    return await teacherFeatures(t.encoder, (async function* () {
      for await (const b of loader.epoch(0)) { yield { x: b.images[0]!, shape: b.shape, indices: b.indices }; b.release(); }
    })(), view.length);
  } finally { await loader.close(); }
}

/** Reads a complete cache, or returns null when any file is missing or was computed from something else. */
async function readCache(l: CacheLayout): Promise<Float32Array | null> {
  if (!l.files.every((f) => existsSync(f))) return null;
  try {
    const out = new Float32Array(l.rows * l.dim);
    for (let i = 0; i < l.files.length; i++) {
      const { tensors, metadata } = await readSafetensors(l.files[i]!);
      const f = tensors.get('features');
      const rows = Math.min(SHARD, l.rows - i * SHARD);
      if (metadata['simreg.cache'] !== l.meta || !f || f.shape[0] !== rows || f.shape[1] !== l.dim) return null;
      out.set(f.data, i * SHARD * l.dim);
    }
    return out;
  } catch { return null; }
}

async function writeCache(l: CacheLayout, feats: Float32Array): Promise<void> {
  mkdirSync(l.base, { recursive: true });
  for (let i = 0; i < l.files.length; i++) {
    const rows = Math.min(SHARD, l.rows - i * SHARD);
    await writeSafetensors(l.files[i]!, [{ name: 'features', shape: [rows, l.dim], data: feats.subarray(i * SHARD * l.dim, (i * SHARD + rows) * l.dim), dtype: 'F32' }], { 'simreg.cache': l.meta });
  }
}

export async function cachedTeacherFeatures(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec, dir: string, workers = 0): Promise<Float32Array> {
  const l = cacheLayout(t, ds, pipe, dir);
  const have = await readCache(l);
  if (have) {
    console.log(`teacher features: reusing the cache in ${l.base} (${l.rows} x ${l.dim})`);
    return have;
  }
  const t0 = performance.now();
  const feats = await computeRows(t, ds, pipe, 0, ds.length, workers);
  await writeCache(l, feats);
  console.log(`teacher features: computed ${l.rows} x ${l.dim} in ${((performance.now() - t0) / 1000).toFixed(1)} s, cached in ${l.base}`);
  return feats;
}

/** Computes part `index` of `count` and writes it next to the cache (an existing, matching part is kept). */
export async function computeCachePart(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec, dir: string, index: number, count: number, workers = 0): Promise<{ file: string; start: number; end: number; reused: boolean }> {
  const l = cacheLayout(t, ds, pipe, dir);
  const [start, end] = partRange(l.rows, index, count);
  const file = partFile(l, index, count);
  if (existsSync(file)) {
    const got = await readPart(file, l, index, count).catch(() => null);
    if (got) return { file, start, end, reused: true };
  }
  const feats = await computeRows(t, ds, pipe, start, end, workers);
  mkdirSync(l.base, { recursive: true });
  await writeSafetensors(file, [{ name: 'features', shape: [end - start, l.dim], data: feats, dtype: 'F32' }],
    { 'simreg.cache': l.meta, 'simreg.part': `${index}/${count}`, 'simreg.rows': `${start}-${end}` });
  return { file, start, end, reused: false };
}

/** One part's features, checked against the layout it should belong to. */
async function readPart(file: string, l: CacheLayout, index: number, count: number): Promise<Float32Array> {
  const [start, end] = partRange(l.rows, index, count);
  const { tensors, metadata } = await readSafetensors(file);
  if (metadata['simreg.cache'] !== l.meta) {
    throw new CacheError(`${file} was computed from another teacher file, data set or pipeline (or the teacher file changed since): recompute part ${index}/${count}`);
  }
  if (metadata['simreg.part'] !== `${index}/${count}` || metadata['simreg.rows'] !== `${start}-${end}`) {
    throw new CacheError(`${file} says it is part ${metadata['simreg.part']} (rows ${metadata['simreg.rows']}), expected part ${index}/${count} (rows ${start}-${end})`);
  }
  const f = tensors.get('features');
  if (!f || f.shape.length !== 2 || f.shape[0] !== end - start || f.shape[1] !== l.dim) {
    throw new CacheError(`${file}: 'features' has shape [${f?.shape.join(', ') ?? 'missing'}], expected [${end - start}, ${l.dim}]`);
  }
  return f.data as Float32Array;
}

/**
 * Joins the `count` parts into the cache `distill --cache-teacher` reads. Every part must be present and
 * computed from the same teacher file, data and pipeline; the parts are left in place (delete them once the
 * merged cache is in use). `count` defaults to the one number of parts found.
 */
export async function mergeCacheParts(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec, dir: string, count?: number): Promise<CacheLayout & { count: number }> {
  const l = cacheLayout(t, ds, pipe, dir);
  const found = existsSync(l.base) ? readdirSync(l.base).map((n) => /^part-(\d+)-of-(\d+)\.safetensors$/.exec(n)).filter((m): m is RegExpExecArray => m !== null) : [];
  const counts = [...new Set(found.map((m) => Number(m[2])))].sort((a, b) => a - b);
  if (count === undefined) {
    if (counts.length === 0) throw new CacheError(`no parts in ${l.base} (for this teacher, data and pipeline): run simreg cache-teacher --shard I/N for I = 0..N-1 first`);
    if (counts.length > 1) throw new CacheError(`${l.base} holds parts of ${counts.join(' and ')}-way splits: say which with --shards N`);
    count = counts[0]!;
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !existsSync(partFile(l, i, count!)));
  if (missing.length) {
    throw new CacheError(`${missing.length} of ${count} parts missing in ${l.base}: ${missing.slice(0, 10).map((i) => `${i}/${count}`).join(', ')}${missing.length > 10 ? ', ...' : ''} (run simreg cache-teacher --shard I/${count} for them)`);
  }
  const feats = new Float32Array(l.rows * l.dim);
  for (let i = 0; i < count; i++) {
    const [start] = partRange(l.rows, i, count);
    feats.set(await readPart(partFile(l, i, count), l, i, count), start * l.dim);
  }
  await writeCache(l, feats);
  return { ...l, count };
}
