// Test runner: every bundled test file (dist/test/**/*.test.js) in its own child process, so a driver crash
// names the file it happened in; uvu's per-file totals are summed and the last line is "N passed, N failed".
// The GPU layers (gpu/, kernels/, ops/, models/) run once per adapter (lavapipe and SwiftShader: their subgroups
// are 8 and 4 lanes wide), the rest once on the default adapter. Every kernel variant that ran is listed per
// adapter, and a variant that never ran on an adapter counts as a failure.
//   node test/run.mjs [substring ...]           only files whose path contains one of the substrings
//   SIMREG_TEST_ADAPTERS=lavapipe node test/run.mjs    the GPU layers on these adapters only (comma-separated)
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const dir = join(root, 'dist', 'test');
if (!existsSync(dir)) {
  console.error('no bundled tests in dist/test: run `node build.mjs` (npm test does it in pretest)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const filters = process.argv.slice(2);
const files = readdirSync(dir, { recursive: true })
  .filter((f) => String(f).endsWith('.test.js'))
  .map((f) => join(dir, String(f)))
  .filter((f) => !filters.length || filters.some((s) => f.includes(s)))
  .sort();

const GPU_LAYERS = ['gpu', 'kernels', 'ops', 'models'];
const adapters = (process.env.SIMREG_TEST_ADAPTERS ?? 'lavapipe,swiftshader').split(',').map((s) => s.trim()).filter(Boolean);
// Files outside those layers that must pass on every adapter too: data-parallel training (several devices).
const EVERY_ADAPTER = ['distill/parallel.test.js'];
const isGpuLayer = (f) => GPU_LAYERS.includes(relative(dir, f).split(/[\\/]/)[0]) || EVERY_ADAPTER.includes(relative(dir, f).split(/[\\/]/).join('/'));

/** Every file once per adapter for the GPU layers, once (default adapter) otherwise. */
const runs = [];
for (const a of adapters) for (const f of files) if (isGpuLayer(f)) runs.push({ file: f, adapter: a });
for (const f of files) if (!isGpuLayer(f)) runs.push({ file: f, adapter: null });

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0, failed = 0;
const failures = [];
const ran = new Map(); // adapter -> Map(variant -> count)
const t0 = Date.now();
for (const { file, adapter } of runs) {
  const rel = relative(root, file);
  const t = Date.now();
  const env = { ...process.env, FORCE_COLOR: '0' };
  if (adapter) env.SIMREG_ADAPTER = adapter;
  const tag = adapter ? ` [${adapter}]` : '';
  const { code, signal, out } = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: root, env });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
  const text = strip(out);
  const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
  const pass = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? NaN);
  if (Number.isFinite(total) && Number.isFinite(pass)) {
    passed += pass;
    failed += total - pass;
    if (total > pass) failures.push(`${rel}${tag}: ${total - pass} failed`);
    // uvu prints its totals before a late crash; a non-zero exit without failures still counts once.
    if (code !== 0 && total === pass) { failed++; failures.push(`${rel}${tag}: exited with ${code ?? signal} after its tests`); }
  } else {
    failed++;
    failures.push(`${rel}${tag}: crashed (${signal ?? 'exit ' + code}) before reporting`);
  }
  if (adapter) {
    const m = ran.get(adapter) ?? new Map();
    ran.set(adapter, m);
    for (const [, v, n] of text.matchAll(/# variant (\S+) ran (\d+)$/gm)) m.set(v, (m.get(v) ?? 0) + Number(n));
  }
  console.log(`# ${rel}${tag}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

// Every variant of every family, per adapter: how often it ran in the GPU layers.
const gpuFiles = runs.filter((r) => r.adapter).length;
if (gpuFiles && !filters.length) {
  const { families } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  const all = families().flatMap((f) => f.variants.map((v) => `${f.name}/${v.name}`)).sort();
  for (const a of adapters) {
    const m = ran.get(a) ?? new Map();
    const missing = all.filter((v) => !m.has(v));
    console.log(`\n# kernel variants on ${a}: ${all.length - missing.length} of ${all.length} ran`);
    for (const v of all) console.log(`#   ${m.has(v) ? String(m.get(v)).padStart(6) : ' never'}  ${v}`);
    for (const v of missing) { failed++; failures.push(`variant ${v} never ran on ${a}`); }
  }
}

console.log(`\n${runs.length} test runs (${files.length} files; GPU layers on ${adapters.join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
