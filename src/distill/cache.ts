// Cached teacher features (SimReg's cached-teacher mode): one pass of the frozen teacher over the training
// set with the evaluation pipeline (no augmentation), stored as safetensors shards of at most SHARD rows.
// A later run reuses the cache when the teacher file (size and modification time), the data set and the
// pipeline all match; otherwise it is rebuilt. Shards are written atomically, so an interrupted build leaves
// either whole shards or none, and a missing or mismatched shard means a rebuild.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { DataLoader, type Dataset, type PipelineSpec } from '../data/index.js';
import { teacherFeatures } from './simreg.js';
import type { LoadedTeacher } from './models.js';
import { hashKey } from '../data/index.js';

const SHARD = 16384;

function cacheKey(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec): { id: string; meta: string } {
  const st = statSync(t.path);
  const meta = JSON.stringify({ teacher: t.path, bytes: st.size, mtime: st.mtimeMs, spec: t.spec, data: ds.name, length: ds.length, pipeline: pipe });
  let h = 0;
  for (let i = 0; i < meta.length; i++) h = hashKey(h, meta.charCodeAt(i));
  return { id: (h >>> 0).toString(16).padStart(8, '0'), meta };
}

export async function cachedTeacherFeatures(t: LoadedTeacher, ds: Dataset, pipe: PipelineSpec, dir: string, workers = 0): Promise<Float32Array> {
  const { id, meta } = cacheKey(t, ds, pipe);
  const d = t.encoder.featureDim;
  const base = join(dir, `teacher-${id}`);
  const shards = Math.ceil(ds.length / SHARD);
  const files = Array.from({ length: shards }, (_, i) => join(base, `shard-${String(i).padStart(5, '0')}.safetensors`));
  if (files.every((f) => existsSync(f))) {
    try {
      const out = new Float32Array(ds.length * d);
      for (let i = 0; i < shards; i++) {
        const { tensors, metadata } = await readSafetensors(files[i]!);
        const f = tensors.get('features');
        const rows = Math.min(SHARD, ds.length - i * SHARD);
        if (metadata['simreg.cache'] !== meta || !f || f.shape[0] !== rows || f.shape[1] !== d) throw new Error('stale');
        out.set(f.data, i * SHARD * d);
      }
      console.log(`teacher features: reusing the cache in ${base} (${ds.length} x ${d})`);
      return out;
    } catch { /* rebuild below */ }
  }
  mkdirSync(base, { recursive: true });
  const t0 = performance.now();
  const loader = new DataLoader(ds, { batchSize: 256, pipeline: pipe, views: 'single', shuffle: false, workers });
  let feats: Float32Array;
  try {
    feats = await teacherFeatures(t.encoder, (async function* () {
      for await (const b of loader.epoch(0)) { yield { x: b.images[0]!, shape: b.shape, indices: b.indices }; b.release(); }
    })(), ds.length);
  } finally { await loader.close(); }
  for (let i = 0; i < shards; i++) {
    const rows = Math.min(SHARD, ds.length - i * SHARD);
    await writeSafetensors(files[i]!, [{ name: 'features', shape: [rows, d], data: feats.subarray(i * SHARD * d, (i * SHARD + rows) * d), dtype: 'F32' }], { 'simreg.cache': meta });
  }
  console.log(`teacher features: computed ${ds.length} x ${d} in ${((performance.now() - t0) / 1000).toFixed(1)} s, cached in ${base}`);
  return feats;
}
