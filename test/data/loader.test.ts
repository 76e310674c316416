// The loader: epochs and batches, determinism across worker counts, resume,
// views, buffer reuse, bounded prefetch, shutdown, and bad samples met while
// loading. Worker runs need dist/data_worker.js (or data_worker.js beside
// this bundle); a missing worker script fails here rather than skipping.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ArrayDataset,
  DataLoader,
  ImageFolder,
  Rng,
  SubsetDataset,
  epochOrder,
  findWorkerScript,
  makePipeline,
  type Batch,
  type Dataset,
  type LoaderOptions,
} from '../../src/data/index.js';
import { rejects, tempDir, writeImageFolder } from '../helpers/data_fixtures.js';

const tmp = tempDir('loader');
test.after(() => tmp.cleanup());

/** 103 colour images of 12x12 with label i % 5: odd sizes exercise the short last batch. */
function arrayDataset(n = 103): ArrayDataset {
  const rng = new Rng(5);
  const pixels = new Uint8Array(n * 12 * 12 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const labels = new Int32Array(n).map((_, i) => i % 5);
  return new ArrayDataset({ name: 'synthetic', pixels, labels, width: 12, height: 12, channels: 3 });
}

interface Copy {
  index: number;
  size: number;
  images: number[][];
  labels: number[];
  indices: number[];
}

/** Collect an epoch as plain arrays (so buffers can be released or reused). */
async function collect(loader: DataLoader, epoch: number, startBatch = 0, release = false): Promise<Copy[]> {
  const out: Copy[] = [];
  for await (const b of loader.epoch(epoch, { startBatch })) {
    out.push({ index: b.index, size: b.size, images: b.images.map((im) => Array.from(im)), labels: Array.from(b.labels), indices: Array.from(b.indices) });
    if (release) b.release();
  }
  return out;
}

async function withLoader<T>(ds: Dataset, opts: LoaderOptions, fn: (l: DataLoader) => Promise<T>): Promise<T> {
  const loader = new DataLoader(ds, opts);
  try {
    return await fn(loader);
  } finally {
    await loader.close();
  }
}

test('the worker script is found', () => {
  const url = findWorkerScript();
  assert.match(url.href, /data_worker\.js$|worker\.js$/);
});

test('epoch order: a permutation per (seed, epoch), stable, sequential without shuffle', () => {
  const a = epochOrder(1000, 7, 3, true);
  assert.equal(Array.from(a).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(Array.from(epochOrder(1000, 7, 3, true)), Array.from(a));
  const other = Array.from(epochOrder(1000, 7, 4, true));
  assert.ok(other.some((v, i) => v !== a[i]), 'another epoch, another order');
  assert.ok(Array.from(epochOrder(1000, 8, 3, true)).some((v, i) => v !== a[i]), 'another seed, another order');
  assert.equal(Array.from(epochOrder(5, 7, 3, false)), [0, 1, 2, 3, 4]);
});

test('batches: every sample once per epoch, sizes, dropLast, labels and shapes', async () => {
  const ds = arrayDataset();
  const pipeline = makePipeline('weak', { size: 8 });
  await withLoader(ds, { batchSize: 10, pipeline, seed: 3 }, async (loader) => {
    assert.is(loader.batchesPerEpoch, 11);
    const batches: Batch[] = [];
    for await (const b of loader.epoch(0)) batches.push(b);
    assert.equal(batches.map((b) => b.size), [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    assert.equal(batches.map((b) => b.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const seen = batches.flatMap((b) => Array.from(b.indices));
    assert.equal(seen, Array.from(loader.order(0)));
    assert.equal([...seen].sort((x, y) => x - y), Array.from({ length: 103 }, (_, i) => i));
    for (const b of batches) {
      assert.equal(b.shape, [b.size, 3, 8, 8]);
      assert.is(b.images.length, 1);
      assert.is(b.images[0]!.length, b.size * 3 * 64);
      assert.ok(b.images[0]!.every((v) => v >= 0 && v <= 1), 'no normalisation: values in [0, 1]');
      assert.ok(b.labels instanceof Int32Array);
      b.indices.forEach((idx, k) => assert.is(b.labels[k], idx % 5));
    }
  });
  await withLoader(ds, { batchSize: 10, pipeline, dropLast: true, shuffle: false }, async (loader) => {
    assert.is(loader.batchesPerEpoch, 10);
    const got = await collect(loader, 0);
    assert.is(got.length, 10);
    assert.ok(got.every((b) => b.size === 10));
    assert.equal(got[0]!.indices, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

test('same seed, same batches with 0, 1 and 2 workers (two strong views)', async () => {
  const ds = arrayDataset();
  const opts: LoaderOptions = { batchSize: 16, pipeline: makePipeline('strong', { size: 10, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] }), views: 'two', seed: 42 };
  const runs: Copy[][] = [];
  for (const workers of [0, 1, 2]) runs.push(await withLoader(ds, { ...opts, workers }, (l) => collect(l, 2, 0, workers === 2)));
  assert.is(runs[0]!.length, 7);
  assert.equal(runs[1], runs[0]);
  assert.equal(runs[2], runs[0]);
  const b = runs[0]![0]!;
  assert.is(b.images.length, 2);
  assert.ok(b.images[0]!.some((v, i) => v !== b.images[1]![i]), 'the two views differ');
  // Another seed or another epoch changes the batches.
  const other = await withLoader(ds, { ...opts, seed: 43 }, (l) => collect(l, 2));
  assert.not.equal(other[0]!.images, b.images);
  const nextEpoch = await withLoader(ds, opts, (l) => collect(l, 3));
  assert.not.equal(nextEpoch[0]!.indices, b.indices);
});

test('kernels: the TypeScript reference reaches the workers; it agrees with SIMD to float32 rounding', async () => {
  const ds = arrayDataset(40);
  const opts: LoaderOptions = { batchSize: 8, pipeline: makePipeline('strong', { size: 10, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] }), seed: 7 };
  const simd = await withLoader(ds, opts, (l) => {
    assert.is(l.kernels, 'simd');
    return collect(l, 0);
  });
  const js0 = await withLoader(ds, { ...opts, kernels: 'js' }, (l) => {
    assert.is(l.kernels, 'js');
    return collect(l, 0);
  });
  const js1 = await withLoader(ds, { ...opts, kernels: 'js', workers: 1 }, (l) => collect(l, 0));
  assert.equal(js1, js0, 'a worker renders with the kernels asked for');
  let diff = 0;
  let differing = 0;
  js0.forEach((b, k) =>
    b.images[0]!.forEach((v, i) => {
      const d = Math.abs(v - simd[k]!.images[0]![i]!);
      diff = Math.max(diff, d);
      if (d > 0) differing++;
    }),
  );
  assert.ok(diff < 1e-5, `js and simd batches differ by ${diff}`);
  assert.ok(differing > 0, 'js and simd are different code (some float32 rounding differs)');
});

test('same batches with 0 and 2 workers on a JPEG folder (decoding only the crops)', async () => {
  const root = join(tmp.dir, 'jpeg');
  await writeImageFolder(root, ['b', 'a', 'c'], 7, 48, 36, 'jpeg');
  const ds = await ImageFolder.open(root);
  for (const pipeline of [makePipeline('strong', { size: 16 }), makePipeline('eval', { size: 24 })]) {
    const opts: LoaderOptions = { batchSize: 6, pipeline, seed: 9 };
    const inline = await withLoader(ds, opts, (l) => collect(l, 1));
    const workers = await withLoader(ds, { ...opts, workers: 2, decodeAhead: 2 }, (l) => collect(l, 1, 0, true));
    assert.is(inline.length, 4);
    assert.equal(workers, inline, pipeline.name);
    assert.equal(inline.flatMap((b) => b.labels), inline.flatMap((b) => b.indices.map((i) => ds.labelOf(i))));
  }
});

test('resume at (epoch, batch) gives exactly the remaining batches', async () => {
  const ds = arrayDataset();
  const opts: LoaderOptions = { batchSize: 8, pipeline: makePipeline('strong', { size: 9 }), seed: 1 };
  const full = await withLoader(ds, opts, (l) => collect(l, 5));
  for (const workers of [0, 2]) {
    const rest = await withLoader(ds, { ...opts, workers }, (l) => collect(l, 5, 9));
    assert.equal(rest, full.slice(9), `workers ${workers}`);
  }
  await withLoader(ds, opts, async (l) => {
    assert.equal(await collect(l, 5, l.batchesPerEpoch), []);
    assert.is(l.batchesPerEpoch, 13);
    assert.throws(() => l.epoch(5, { startBatch: 14 }), /startBatch 14 is outside \[0, 13\]/);
  });
});

test('views: single, two, and shared (one array for teacher and student)', async () => {
  const ds = arrayDataset(20);
  const pipeline = makePipeline('weak', { size: 6 });
  for (const [views, count] of [['single', 1], ['two', 2], ['shared', 2]] as const) {
    await withLoader(ds, { batchSize: 5, pipeline, views }, async (l) => {
      const r = await l.epoch(0).next();
      const b = r.value as Batch;
      assert.is(b.images.length, count, views);
      if (views === 'shared') assert.ok(b.images[0] === b.images[1], 'shared is the same array');
      if (views === 'two') assert.ok(b.images[0] !== b.images[1]);
    });
  }
});

test('release: buffers are reused, later batches unaffected (0 and 2 workers)', async () => {
  const ds = arrayDataset();
  const opts: LoaderOptions = { batchSize: 10, pipeline: makePipeline('strong', { size: 8 }), views: 'shared', seed: 4 };
  const kept = await withLoader(ds, opts, (l) => collect(l, 0));
  for (const workers of [0, 2]) {
    await withLoader(ds, { ...opts, workers }, async (l) => {
      const got: Copy[] = [];
      for (let e = 0; e < 2; e++) {
        for await (const b of l.epoch(0)) {
          got.push({ index: b.index, size: b.size, images: b.images.map((im) => Array.from(im)), labels: Array.from(b.labels), indices: Array.from(b.indices) });
          b.release();
          b.release(); // harmless
          assert.is(b.labels.length, b.size, 'labels stay');
        }
      }
      assert.equal(got.slice(0, 11), kept);
      assert.equal(got.slice(11), kept, 'reused buffers hold the right data');
      // 22 batches of two sizes (10 and the last 3): a handful of buffers, not one per batch.
      assert.ok(l.stats.buffersAllocated <= 2 * (workers + 1) * 3, `allocated ${l.stats.buffersAllocated}`);
    });
  }
});

test('prefetch is bounded: a slow consumer never has more than workers x prefetch batches pending', async () => {
  const ds = arrayDataset(200);
  for (const [workers, prefetch] of [[0, 1], [2, 2], [1, 3]] as const) {
    await withLoader(ds, { batchSize: 4, pipeline: makePipeline('weak', { size: 8 }), workers, prefetch }, async (l) => {
      let n = 0;
      for await (const b of l.epoch(0)) {
        n++;
        b.release();
        if (n % 10 === 0) await new Promise((r) => setTimeout(r, 15));
      }
      assert.is(n, 50);
      assert.is(l.stats.delivered, 50);
      assert.ok(l.stats.maxPending <= Math.max(1, workers) * prefetch, `max pending ${l.stats.maxPending}`);
      assert.ok(l.stats.maxPending >= 1);
    });
  }
});

test('shutdown: close twice is safe; use after close fails; breaking out early is clean', async () => {
  const ds = arrayDataset();
  const l = new DataLoader(ds, { batchSize: 4, pipeline: makePipeline('weak', { size: 8 }), workers: 2 });
  let n = 0;
  for await (const b of l.epoch(0)) {
    b.release();
    if (++n === 3) break;
  }
  // A new epoch after an early break works.
  const again = await l.epoch(1).next();
  assert.is((again.value as Batch).index, 0);
  // Closing while a batch is awaited ends that wait with an error (not a hang).
  const it = l.epoch(2);
  await it.next();
  const waiting = rejects(it.next().then(() => it.next()));
  await l.close();
  await l.close();
  assert.match(await waiting, /closed/);
  assert.throws(() => l.epoch(0), /data loader is closed/);
});

test('a new epoch supersedes the one being iterated', async () => {
  const ds = arrayDataset();
  await withLoader(ds, { batchSize: 10, pipeline: makePipeline('weak', { size: 8 }) }, async (l) => {
    const first = l.epoch(0);
    await first.next();
    const second = l.epoch(1);
    assert.match(await rejects(first.next()), /superseded/);
    assert.is((await first.next()).done, true);
    assert.is(((await second.next()).value as Batch).epoch, 1);
  });
});

test('subsets and in-memory data sets travel to workers', async () => {
  const ds = new SubsetDataset(arrayDataset(), [5, 3, 99, 42, 0, 17, 18]);
  const opts: LoaderOptions = { batchSize: 3, pipeline: makePipeline('strong', { size: 8 }), seed: 2 };
  const inline = await withLoader(ds, opts, (l) => collect(l, 0));
  const workers = await withLoader(ds, { ...opts, workers: 1 }, (l) => collect(l, 0));
  assert.equal(workers, inline);
  assert.equal(inline.flatMap((b) => b.labels).sort(), [5, 3, 99, 42, 0, 17, 18].map((i) => i % 5).sort());
});

test('bad input while loading: the undecodable file is named, or skipped and reported at the end', async () => {
  const root = join(tmp.dir, 'broken');
  await writeImageFolder(root, ['x', 'y'], 6, 30, 30, 'jpeg');
  const victim = join(root, 'y', 'img_2.jpg');
  writeFileSync(victim, readFileSync(victim).subarray(0, 300)); // header intact, data cut
  const ds = await ImageFolder.open(root);
  const pipeline = makePipeline('weak', { size: 8 });
  for (const workers of [0, 2]) {
    const msg = await withLoader(ds, { batchSize: 4, pipeline, workers }, (l) => rejects(collect(l, 0)));
    assert.ok(msg.includes(victim), msg);
    assert.match(msg, /cannot decode image/);

    const warnings: string[] = [];
    await withLoader(ds, { batchSize: 4, pipeline, workers, onBadSample: 'skip', onWarning: (m) => warnings.push(m) }, async (l) => {
      const got = await collect(l, 0, 0, true);
      assert.is(got.reduce((s, b) => s + b.size, 0), 11, 'one sample left out');
      assert.ok(!got.flatMap((b) => b.indices).includes(ds.files.indexOf(join('y', 'img_2.jpg'))));
      assert.is(l.skipped.length, 1);
      assert.is(l.skipped[0]!.file, victim);
      assert.is(warnings.length, 1, 'reported once, at the end of the epoch');
      assert.match(warnings[0]!, /epoch 0 skipped 1 undecodable image/);
      assert.ok(warnings[0]!.includes(victim));
    });
  }
});

test('configuration errors are explicit', async () => {
  const ds = arrayDataset();
  const pipeline = makePipeline('weak', { size: 8 });
  assert.throws(() => new DataLoader(ds, { batchSize: 0, pipeline }), /batchSize must be a positive integer/);
  assert.throws(() => new DataLoader(ds, { batchSize: 4, pipeline, workers: -1 }), /workers must be/);
  const custom: Dataset = { length: 3, numClasses: 1, channels: 3, name: 'custom', get: (i) => ds.get(i), labelOf: () => 0 };
  assert.throws(() => new DataLoader(custom, { batchSize: 2, pipeline, workers: 1 }), /cannot be sent to worker threads/);
  // Without workers a data set needs no spec.
  await withLoader(custom, { batchSize: 2, pipeline }, async (l) => assert.is((await collect(l, 0)).length, 2));
  const missing = join(tmp.dir, 'no_worker.js');
  assert.throws(() => new DataLoader(ds, { batchSize: 4, pipeline, workers: 1, workerUrl: missing }), /data worker script .*no_worker\.js \(option workerUrl\) does not exist/);
});

test.run();
