// Test runner: every bundled test file (dist/test/**/*.test.js) in its own child process, so a driver crash
// names the file it happened in; uvu's per-file totals are summed and the last line is "N passed, N failed".
//   node test/run.mjs [substring ...]   only files whose path contains one of the substrings
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0, failed = 0;
const failures = [];
const t0 = Date.now();
for (const file of files) {
  const rel = relative(root, file);
  const t = Date.now();
  const { code, signal, out } = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
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
    if (total > pass) failures.push(`${rel}: ${total - pass} failed`);
    // uvu prints its totals before a late crash; a non-zero exit without failures still counts once.
    if (code !== 0 && total === pass) { failed++; failures.push(`${rel}: exited with ${code ?? signal} after its tests`); }
  } else {
    failed++;
    failures.push(`${rel}: crashed (${signal ?? 'exit ' + code}) before reporting`);
  }
  console.log(`# ${rel}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
console.log(`\n${files.length} test files in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
