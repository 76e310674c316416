#!/usr/bin/env node
// Data-loader throughput: images/s per format, pipeline, output size and
// number of worker threads.
//
//   node bench/data.mjs [--seconds 2] [--formats idx,cifar,png,jpeg]
//                       [--sizes 32,224] [--pipelines weak,strong]
//                       [--workers 0,1,2] [--kernels simd|js] [--no-save] [--json]
//
// --kernels js runs the TypeScript reference augmentations instead of the
// SIMD (WebAssembly) kernels, for comparison.
//
// It bundles src/data/ with esbuild into scratch/bench-data/ (index.js plus
// data_worker.js beside it, the layout dist/ has), so it runs from a fresh
// checkout without a build. Synthetic data sets (CIFAR binary, a PNG folder,
// a JPEG folder of 500x375 photos-like images) are written once to
// $TMPDIR/simreg-bench-data/. IDX uses the real Fashion-MNIST when installed.
// Prints a table and appends one JSON line per case to bench/results/data.jsonl.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- arguments
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const list = (name, dflt) => opt(name, dflt).split(',').filter(Boolean);
const seconds = Number(opt('seconds', '2'));
const formats = list('formats', 'idx,cifar,png,jpeg');
const sizes = list('sizes', '32,224').map(Number);
const pipelines = list('pipelines', 'weak,strong');
const workerCounts = list('workers', '0,1,2').map(Number);
const kernels = opt('kernels', 'simd');
if (kernels !== 'simd' && kernels !== 'js') throw new Error(`--kernels ${kernels}: expected simd or js`);
const save = !flag('no-save');
const jsonOut = flag('json');

// ------------------------------------------------------------------ bundle
const outDir = path.join(root, 'scratch', 'bench-data');
mkdirSync(outDir, { recursive: true });
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' };
await esbuild.build({ ...common, entryPoints: [path.join(root, 'src/data/index.ts')], outfile: path.join(outDir, 'index.js') });
await esbuild.build({ ...common, entryPoints: [path.join(root, 'src/data/worker.ts')], outfile: path.join(outDir, 'data_worker.js') });
const data = await import(pathToFileURL(path.join(outDir, 'index.js')).href);
const sharp = (await import('sharp')).default;

// ------------------------------------------------------------- data sets
const dataDir = path.join(os.tmpdir(), 'simreg-bench-data');
mkdirSync(dataDir, { recursive: true });

// A small deterministic generator so the synthetic sets are the same every run.
let seed = 0x2545f491;
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};

/** A photo-like RGB image: smooth shapes and gradients plus sensor-like noise (compresses like a photo). */
function syntheticImage(w, h) {
  const px = Buffer.alloc(w * h * 3);
  const base = [rnd() * 255, rnd() * 255, rnd() * 255];
  const fx = 0.01 + rnd() * 0.08;
  const fy = 0.01 + rnd() * 0.08;
  const ph = rnd() * 6.28;
  const cx = rnd() * w;
  const cy = rnd() * h;
  const rad = (0.15 + rnd() * 0.3) * Math.min(w, h);
  const blob = [rnd() * 255, rnd() * 255, rnd() * 255];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const wave = 60 * Math.sin(x * fx + ph) * Math.cos(y * fy);
      const inBlob = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad;
      // Mostly luminance noise, as in photos: hue stays coherent, the file size realistic.
      const luma = (rnd() - 0.5) * 90;
      for (let c = 0; c < 3; c++) {
        const v = (inBlob ? blob[c] : base[c] + wave * (c + 1) * 0.5) + luma + (rnd() - 0.5) * 30;
        px[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return px;
}

async function makeFolder(dir, count, w, h, encode) {
  const done = path.join(dir, '.complete');
  if (existsSync(done)) return;
  for (let i = 0; i < count; i++) {
    const cls = path.join(dir, `class_${String(i % 10).padStart(2, '0')}`);
    mkdirSync(cls, { recursive: true });
    const img = sharp(syntheticImage(w, h), { raw: { width: w, height: h, channels: 3 } });
    await encode(img).toFile(path.join(cls, `img_${String(i).padStart(5, '0')}.${encode.ext}`));
  }
  writeFileSync(done, '');
}

function makeCifar(file, count) {
  if (existsSync(file)) return;
  const rec = 1 + 3072;
  const buf = Buffer.alloc(count * rec);
  for (let i = 0; i < count; i++) {
    buf[i * rec] = i % 10;
    const px = syntheticImage(32, 32);
    // HWC to the planar layout of the CIFAR files.
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) buf[i * rec + 1 + c * 1024 + p] = px[p * 3 + c];
  }
  writeFileSync(file, buf);
}

async function openFormat(format) {
  switch (format) {
    case 'idx':
      if (existsSync(data.FASHION_MNIST_DIR)) return { ds: await data.openMnist(data.FASHION_MNIST_DIR, 'train'), note: 'Fashion-MNIST train, 28x28 grey' };
      throw new Error(`Fashion-MNIST is not installed at ${data.FASHION_MNIST_DIR} (Debian package dataset-fashion-mnist)`);
    case 'cifar': {
      const file = path.join(dataDir, 'cifar10_synthetic.bin');
      makeCifar(file, 10000);
      return { ds: await data.openCifar([file], { variant: 'cifar10' }), note: 'synthetic CIFAR-10 batch, 32x32 RGB' };
    }
    case 'png': {
      const dir = path.join(dataDir, 'png_256');
      const enc = (img) => img.png({ compressionLevel: 6 });
      enc.ext = 'png';
      await makeFolder(dir, 300, 256, 256, enc);
      return { ds: await data.ImageFolder.open(dir), note: 'folder of 300 synthetic 256x256 PNGs' };
    }
    case 'jpeg': {
      const dir = path.join(dataDir, 'jpeg_500x375');
      const enc = (img) => img.jpeg({ quality: 90 });
      enc.ext = 'jpg';
      await makeFolder(dir, 500, 500, 375, enc);
      return { ds: await data.ImageFolder.open(dir), note: 'folder of 500 synthetic 500x375 JPEGs (q90, ImageNet-like)' };
    }
    default:
      throw new Error(`unknown format '${format}': expected idx, cifar, png or jpeg`);
  }
}

// ------------------------------------------------------------------ timing

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or null elsewhere. */
function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return (total - idle) / 100; // USER_HZ
  } catch {
    return null;
  }
}
async function measure(ds, pipelineName, size, workers) {
  const batchSize = size >= 128 ? 64 : 256;
  const stats = size >= 128 ? { mean: data.IMAGENET_MEAN, std: data.IMAGENET_STD } : { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
  const loader = new data.DataLoader(ds, {
    batchSize,
    pipeline: data.makePipeline(pipelineName, { size, ...stats }),
    workers,
    seed: 1,
    kernels,
  });
  try {
    // Warm-up: start the workers and the JIT, fill the queue.
    let epoch = 0;
    let it = loader.epoch(epoch);
    for (let i = 0; i < 2; i++) {
      const r = await it.next();
      if (r.done) it = loader.epoch(++epoch);
      else r.value.release();
    }
    let images = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m0 = machineBusySeconds();
    // Whole batches until the time is up (epochs roll over on small sets).
    while (performance.now() - t0 < seconds * 1000) {
      const r = await it.next();
      if (r.done) {
        it = loader.epoch(++epoch);
        continue;
      }
      images += r.value.size;
      r.value.release(); // as a trainer does once the batch is on the GPU
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const m1 = machineBusySeconds();
    await it.return?.();
    // CPU that other processes took meanwhile, in cores: a busy machine explains low numbers.
    const ours = (cpu.user + cpu.system) / 1e6;
    const others = m0 !== null && m1 !== null ? Math.max(0, (m1 - m0 - ours) / wall) : null;
    return { imagesPerSec: images / wall, cpuMsPerImage: (ours * 1000) / images, images, batchSize, seconds: wall, others };
  } finally {
    await loader.close();
  }
}

/** The checked-out commit: read from .git directly, else from `git rev-parse HEAD`, else null. */
function gitCommit() {
  try {
    const gitDir = path.join(root, '.git');
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (ref) {
      const loose = path.join(gitDir, ref);
      if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
      const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      if (line) return line.split(' ')[0];
    }
  } catch {
    // fall through
  }
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The latest ResNet-18 training images/s recorded by bench/resnet18.mjs on this machine, with its input size, if any. */
function resnetTrainRate() {
  const file = path.join(root, 'bench/results/resnet18.jsonl');
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const row = JSON.parse(line);
      const v = row.train?.imagesPerSec ?? row.trainImagesPerSec;
      if (typeof v === 'number' && v > 0) return { rate: v, size: row.config?.size ?? null, batch: row.config?.batch ?? null, time: row.ts ?? row.time ?? '?' };
    } catch {
      // not a JSON line
    }
  }
  return null;
}

// -------------------------------------------------------------------- main
// Say so if the process ends before the table does (an empty event loop ends
// a Node process silently).
let finished = false;
process.on('exit', (code) => {
  if (!finished) console.error(`bench/data.mjs: exited early (code ${code}) before finishing the table`);
});
const commit = gitCommit();
const rows = [];
const header = ['format', 'size', 'pipeline', 'workers', 'images/s', 'cpu ms/img', 'others'];
if (!jsonOut) {
  console.log(`('others': CPU cores used by other processes during the case)`);
  console.log(`simreg data-loader bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${seconds}s per case, ${kernels} augmentation kernels`);
}
for (const format of formats) {
  const { ds, note } = await openFormat(format);
  if (!jsonOut) console.log(`\n${format}: ${note} (${ds.length} images)`);
  if (!jsonOut) console.log(header.map((h, i) => (i < 3 ? h.padEnd(9) : h.padStart(10))).join(' '));
  for (const size of sizes) {
    for (const pipeline of pipelines) {
      for (const workers of workerCounts) {
        const r = await measure(ds, pipeline, size, workers);
        const row = {
          bench: 'data',
          time: new Date().toISOString(),
          format,
          pipeline,
          size,
          workers,
          kernels,
          imagesPerSec: Math.round(r.imagesPerSec * 10) / 10,
          cpuMsPerImage: Math.round(r.cpuMsPerImage * 100) / 100,
          batchSize: r.batchSize,
          images: r.images,
          seconds: Math.round(r.seconds * 100) / 100,
          otherProcessesCores: r.others === null ? null : Math.round(r.others * 100) / 100,
          cpus: os.cpus().length,
          node: process.version,
          commit,
        };
        rows.push(row);
        if (jsonOut) console.log(JSON.stringify(row));
        else {
          const cells = [format, String(size), pipeline, String(workers), row.imagesPerSec.toFixed(1), row.cpuMsPerImage.toFixed(2), r.others === null ? '?' : r.others.toFixed(2)];
          console.log(cells.map((c, i) => (i < 3 ? c.padEnd(9) : c.padStart(10))).join(' '));
        }
      }
    }
  }
}

if (save) {
  const dir = path.join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, 'data.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

// ----------------------------------------------------------------- targets
if (!jsonOut) {
  console.log('\ntargets:');
  const strongJpeg = rows.find((r) => r.format === 'jpeg' && r.pipeline === 'strong' && r.size === 224 && r.workers === 2);
  if (strongJpeg) {
    console.log(`  strong 224x224 JPEG, 2 workers: ${strongJpeg.imagesPerSec.toFixed(0)} images/s (target >= 300) ${strongJpeg.imagesPerSec >= 300 ? 'OK' : 'MISSED'}`);
  }
  const resnet = resnetTrainRate();
  const maxWorkers = Math.max(...workerCounts);
  const atSize = (size) => rows.filter((r) => r.workers === maxWorkers && (size === null || r.size === size)).sort((a, b) => a.imagesPerSec - b.imagesPerSec)[0];
  if (resnet) {
    const sameSize = sizes.includes(resnet.size);
    const slowest = atSize(sameSize ? resnet.size : null);
    if (slowest) {
      const ratio = slowest.imagesPerSec / resnet.rate;
      console.log(
        `  ResNet-18 training step (bench/results/resnet18.jsonl, ${resnet.time}, batch ${resnet.batch}, ${resnet.size}x${resnet.size}): ${resnet.rate.toFixed(1)} images/s; ` +
          `the slowest loader case ${sameSize ? 'at that size' : 'measured'} with ${maxWorkers} workers (${slowest.format} ${slowest.pipeline} ${slowest.size}) gives ${slowest.imagesPerSec.toFixed(0)} images/s = ${ratio.toFixed(0)}x (target >= 5x) ${ratio >= 5 ? 'OK' : 'MISSED'}`,
      );
    }
  } else {
    const slowest = atSize(null);
    if (slowest) console.log(`  no ResNet-18 result in bench/results/resnet18.jsonl yet; the slowest case here with ${maxWorkers} workers runs ${slowest.imagesPerSec.toFixed(0)} images/s (5x a training step of 10-20 images/s is 50-100)`);
  }
  const busy = rows.filter((r) => (r.otherProcessesCores ?? 0) > 0.25);
  if (busy.length > 0) console.log(`  note: other processes took > 0.25 cores during ${busy.length} of ${rows.length} cases ('others' column, in cores); those numbers are low.`);
  if (save) console.log(`\nappended ${rows.length} rows to bench/results/data.jsonl`);
}
finished = true;
