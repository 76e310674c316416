#!/usr/bin/env node
// Data-parallel step time: the same SimReg run (same global batch) on 1 and on N devices, alternated, each
// length run twice so that start-up (device, pipelines, teacher, data) cancels out:
//   seconds per step = (time of a --steps LONG run - time of a --steps SHORT run) / (LONG - SHORT).
// From the runs' logs it also reports the exchange: bytes each replica reads back and writes to host memory per
// step, the host time of the exchange (copy, averaging, uploads) and how much of it was waiting for the slower
// replica.
//
//   node bench/parallel.mjs [--devices 2] [--rounds 2] [--short 3] [--long 11] [--size 32] [--width 0.25]
//                           [--batch 32] [--arch resnet18] [--bucket-mb 25] [--data fashion-mnist] [--subset 2000]
//                           [--no-save]
//
// Appends one JSON line per device count to bench/results/parallel.jsonl ($SIMREG_BENCH_OUT/parallel.jsonl when
// that is set: bench/gpu-check.sh collects there). On one machine's adapter the
// replicas share its cores, so N devices cannot be faster here: the number to read is the overhead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus, hostname } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
if (!existsSync(cli)) { console.error('dist/cli.js is missing: run `npm install` (or `node build.mjs`) first'); process.exit(1); }
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 && i + 1 < args.length ? args[i + 1] : d; };
const devices = Number(opt('devices', '2')), rounds = Number(opt('rounds', '2'));
const short = Number(opt('short', '3')), long = Number(opt('long', '11'));
const size = opt('size', '32'), width = opt('width', '0.25'), batch = opt('batch', '32'), arch = opt('arch', 'resnet18');
const bucketMb = opt('bucket-mb', '25'), data = opt('data', 'fashion-mnist'), subset = opt('subset', '2000');
if (!(long > short && short >= 1)) throw new Error('--long must exceed --short (both at least 1)');
const teacher = join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors');
const dir = mkdtempSync(join(tmpdir(), 'simreg-bench-parallel-'));

function run(n, steps) {
  const out = join(dir, `d${n}-s${steps}`);
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'distill', '--teacher', teacher, '--preset', 'fmnist', '--arch', arch, '--size', size, '--width', width,
    '--batch', batch, '--data', data, '--train-subset', subset, '--workers', '1', '--steps', String(steps), '--devices', String(n), '--bucket-mb', bucketMb, '--quiet', '--out', out], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`devices ${n}, ${steps} steps: exit ${r.status}\n${r.stderr}`);
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { seconds, log };
}

const counts = [1, devices];
const times = Object.fromEntries(counts.map((n) => [n, { short: [], long: [], exch: [], wait: [], bytes: 0 }]));
for (let round = 0; round < rounds; round++) {
  // Alternate device counts and lengths so a slow spell of the machine hits both.
  for (const n of round % 2 ? [...counts].reverse() : counts) {
    for (const steps of [short, long]) {
      const { seconds, log } = run(n, steps);
      const t = times[n];
      t[steps === short ? 'short' : 'long'].push(seconds);
      if (steps === long && n > 1) {
        // The first step compiles pipelines on every replica: leave it out of the exchange averages.
        for (const rec of log.slice(1)) { t.exch.push(rec.exchangeMs); t.wait.push(rec.exchangeWaitMs); t.buckets = rec.exchangeBuckets; t.bytes = rec.exchangeBytes; }
      }
      console.error(`round ${round + 1}: ${n} device(s), ${steps} steps: ${seconds.toFixed(1)} s`);
    }
  }
}
rmSync(dir, { recursive: true, force: true });

const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };
const mean = (a) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
const rows = counts.map((n) => {
  const t = times[n];
  const perStep = t.long.map((l, i) => (l - t.short[i]) / (long - short));
  return {
    n, perStep, median: med(perStep),
    exchangeMs: n > 1 ? mean(t.exch) : 0, waitMs: n > 1 ? mean(t.wait) : 0, bytes: t.bytes, buckets: t.buckets,
  };
});
const base = rows[0].median;
const date = new Date().toISOString();
console.log(`SimReg ${arch} x${width}, ${size}x${size}, global batch ${batch}, buckets of ${bucketMb} MiB, ${cpus().length} cores (${hostname()}), adapter from SIMREG_ADAPTER or Dawn's default`);
console.log('devices | s/step (median; each round) | vs 1 device | exposed exchange ms/step (of which waiting) | bytes per replica per step (buckets)');
for (const r of rows) {
  console.log(`${r.n} | ${r.median.toFixed(3)} (${r.perStep.map((v) => v.toFixed(3)).join(', ')}) | ${(r.median / base).toFixed(2)}x | ` +
    (r.n > 1 ? `${r.exchangeMs.toFixed(1)} (${r.waitMs.toFixed(1)}) | ${(r.bytes / 2 ** 20).toFixed(2)} MiB (${r.buckets})` : '- | -'));
}
if (!args.includes('--no-save')) {
  const outDir = process.env.SIMREG_BENCH_OUT || join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  for (const r of rows) {
    appendFileSync(join(outDir, 'parallel.jsonl'), `${JSON.stringify({
      bench: 'parallel', date, data, arch, width: Number(width), size: Number(size), batch: Number(batch), devices: r.n, cores: cpus().length,
      adapter: process.env.SIMREG_ADAPTER ?? 'default', secondsPerStep: r.median, perRound: r.perStep, slowdown: r.median / base,
      exchangeMs: r.exchangeMs, exchangeWaitMs: r.waitMs, exchangeBytes: r.bytes, exchangeBuckets: r.buckets, bucketMb: Number(bucketMb), steps: [short, long],
    })}\n`);
  }
}
