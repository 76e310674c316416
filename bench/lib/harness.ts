// Bench harness: environment record, timing (warm-up, many dispatches per submission, wall clock around
// queue completion; timestamp queries per dispatch where the adapter has them), statistics, JSONL output.
import { execSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpuContext } from '../../src/gpu/device.js';
import { stream } from '../../src/gpu/stream.js';

// This file is bundled into dist/bench/<name>.js: the project root is two levels up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Stats { median: number; min: number; p90: number; mean: number; n: number }

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * (s.length - 1) + 0.5))]!;
  return { median: q(0.5), min: s[0]!, p90: q(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

export function envRecord(): Record<string, unknown> {
  const g = gpuContext();
  let git = 'unknown', dirty = false;
  try {
    git = execSync('git rev-parse --short HEAD', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    dirty = execSync('git status --porcelain --untracked-files=no', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() !== '';
  } catch { /* not a git checkout */ }
  let webgpu = 'unknown';
  try { webgpu = JSON.parse(readFileSync(join(root, 'node_modules', 'webgpu', 'package.json'), 'utf8')).version; } catch { /* absent */ }
  return {
    ts: new Date().toISOString(), git, dirty,
    adapter: { ...g.info }, features: [...g.features].sort(), webgpu, node: process.version,
    cpus: (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? null,
    toggles: g.toggles,
  };
}

export interface TimeOptions { warmup?: number; reps?: number; perSubmit?: number }

/**
 * Time `record` (which records dispatches for one call) by wall clock: `perSubmit` calls per submission,
 * waiting for the queue each time; returns per-call ms for each repetition.
 */
export async function timeWall(record: () => void, o: TimeOptions = {}): Promise<number[]> {
  const warmup = o.warmup ?? 2, reps = o.reps ?? 7, per = o.perSubmit ?? 1;
  const { device } = gpuContext();
  for (let i = 0; i < warmup; i++) { record(); await stream.sync(); }
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) record();
    stream.flush();
    await device.queue.onSubmittedWorkDone();
    out.push((performance.now() - t0) / per);
  }
  await stream.sync();
  return out;
}

/** Per-kernel GPU time from timestamp queries over `reps` calls (null when the feature is missing). */
export async function timeKernels(record: () => void, reps = 3): Promise<Map<string, { calls: number; ms: number; flops: number; bytes: number }> | null> {
  if (!stream.setProfiling(true)) return null;
  stream.timings.clear();
  for (let i = 0; i < reps; i++) record();
  await stream.sync();
  stream.setProfiling(false);
  return new Map(stream.timings);
}

/** Append rows to bench/results/<file>, or to $SIMREG_BENCH_OUT/<file> when set (bench/gpu-check.sh collects there). */
export function appendJsonl(file: string, rows: Record<string, unknown>[]): string {
  const path = join(process.env.SIMREG_BENCH_OUT || join(root, 'bench', 'results'), file);
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(digits);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const w = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  return cells.map((r, j) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]!) : String(c).padStart(w[i]!))).join('  ') + (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : '')).join('\n');
}
