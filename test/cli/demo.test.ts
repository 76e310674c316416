// `npm start` in its fast mode, end to end: the shipped teacher loads, SimReg and MoCo-v2 students train a
// few steps, and the k-NN table prints all four rows; without the teacher file the demo pre-trains one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'simreg-demo-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const rowRe = (name: string) => new RegExp(`\\| ${name}[^|]*\\|\\s+\\d+ \\|[^|]*\\|\\s+\\d+\\.\\d\\d \\|\\s+\\d+\\.\\d\\d \\|`);

test('demo --fast with the shipped teacher prints the four-row k-NN table', () => {
  assert.ok(existsSync(join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors')), 'the shipped teacher is missing from assets/');
  const out = join(dir, 'shipped');
  const r = spawnSync(process.execPath, [cli, 'demo', '--fast', '--out', out, '--workers', '1'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr.slice(-3000));
  for (const name of ['raw pixels', 'teacher \\(MoCo-v2', 'student, SimReg from the teacher', 'student, MoCo-v2 alone', 'student, untrained']) assert.match(r.stdout, rowRe(name));
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { rows: { knn: Record<string, number> }[] };
  assert.is(res.rows.length, 5);
  for (const row of res.rows) for (const k of ['1', '20']) assert.ok(row.knn[k]! >= 0 && row.knn[k]! <= 1);
  for (const sub of ['simreg', 'moco-student']) {
    assert.ok(existsSync(join(out, sub, 'log.jsonl')) && existsSync(join(out, sub, 'loss.png')), `${sub}: log and curve`);
  }
});

test('demo --fast without the teacher file pre-trains one first and says so', () => {
  const out = join(dir, 'missing');
  const r = spawnSync(process.execPath, [cli, 'demo', '--fast', '--teacher', join(dir, 'absent.safetensors'), '--out', out, '--workers', '0', '--knn-train', '100', '--knn-test', '50'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr.slice(-3000));
  assert.match(r.stdout, /is missing: pre-training one with MoCo-v2/);
  assert.ok(existsSync(join(out, 'teacher', 'teacher.safetensors')));
  assert.match(r.stdout, rowRe('student, SimReg from the teacher'));
});

test.run();
