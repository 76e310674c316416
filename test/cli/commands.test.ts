// The command line's contract: every command has --help; bad input of each kind exits non-zero with a
// message naming what was wrong, and never damages files already on disk.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'simreg-cli-'));
const sim = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const tiny = ['--size', '16', '--workers', '0', '--quiet', '--width', '0.125', '--small-stem'];

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('every command answers --help with its options', () => {
  for (const [cmd, opt] of [['pretrain', '--queue'], ['distill', '--teacher'], ['eval', '--weights'], ['export', '--checkpoint'], ['demo', '--fast']] as const) {
    const r = sim([cmd, '--help']);
    assert.is(r.status, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: simreg ${cmd}`));
    assert.match(r.stdout, new RegExp(opt));
    assert.match(r.stdout, /--config FILE\.json/);
  }
  assert.match(sim(['bench', '--help']).stdout, /resnet18\|kernels\|data\|knn\|ablation/);
});

test('option errors exit 2 and name the option or value', () => {
  const cases: [string[], RegExp][] = [
    [['pretrain', '--arch', 'resnet99'], /--arch: must be one of resnet18.*got "resnet99"/],
    [['pretrain', '--batch', 'many'], /--batch: expects a number, got "many"/],
    [['pretrain', '--frobnicate', '1'], /unknown option --frobnicate/],
    [['distill', '--steps', '1'], /--teacher FILE is required/],
    [['distill', '--teacher', join(dir, 'nope.safetensors')], /teacher file .*nope\.safetensors does not exist/],
    [['pretrain', '--preset', 'mars'], /--preset: must be one of/],
  ];
  for (const [args, re] of cases) {
    const r = sim(args);
    assert.is(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('config files: values apply, unknown keys and bad JSON are named', () => {
  const bad = join(dir, 'bad.json'), unk = join(dir, 'unknown.json');
  writeFileSync(bad, '{"steps": ');
  writeFileSync(unk, JSON.stringify({ steps: 2, colour: 'blue' }));
  let r = sim(['pretrain', '--config', bad]);
  assert.is(r.status, 2); assert.match(r.stderr, /bad\.json: not valid JSON/);
  r = sim(['pretrain', '--config', unk]);
  assert.is(r.status, 2); assert.match(r.stderr, /unknown option "colour"/);
  const wrongType = join(dir, 'type.json');
  writeFileSync(wrongType, JSON.stringify({ batch: 'lots' }));
  r = sim(['pretrain', '--config', wrongType]);
  assert.is(r.status, 2); assert.match(r.stderr, /"batch": expects a number/);
});

test('missing data, a batch larger than the data set, and a mismatched teacher are named', () => {
  let r = sim(['pretrain', '--data', join(dir, 'no-such-dir'), '--steps', '1', ...tiny]);
  assert.is(r.status, 1); assert.match(r.stderr, /data path .*no-such-dir does not exist/);
  r = sim(['pretrain', '--train-subset', '10', '--batch', '16', '--steps', '1', ...tiny]);
  assert.is(r.status, 2); assert.match(r.stderr, /--batch 16 is larger than the training set \(10 images/);
  // A teacher made for resnet18 x0.125, declared as resnet50: the error names the file and a key.
  const out = join(dir, 'pt');
  r = sim(['pretrain', '--steps', '2', '--batch', '8', '--queue', '16', '--train-subset', '16', '--out', out, ...tiny]);
  assert.is(r.status, 0, r.stderr);
  r = sim(['export', '--checkpoint', join(out, 'checkpoint.safetensors'), '--out', join(dir, 'plain.safetensors')]);
  assert.is(r.status, 0, r.stderr);
  // Strip the architecture metadata, as a file from elsewhere would lack it.
  r = sim(['distill', '--teacher', join(dir, 'plain.safetensors'), '--teacher-arch', 'resnet50', '--steps', '1', '--batch', '8', '--train-subset', '16', '--out', join(dir, 'd'), ...tiny]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /plain\.safetensors does not match resnet50/);
  assert.match(r.stderr, /key|shape/);
});

test('resume: a different configuration is refused and the checkpoint is left as it was', () => {
  const out = join(dir, 'pt');
  const ck = join(out, 'checkpoint.safetensors');
  const before = readFileSync(ck);
  let r = sim(['pretrain', '--steps', '3', '--batch', '8', '--queue', '16', '--train-subset', '16', '--out', out, '--resume', ...tiny]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--resume: .* different configuration \(train: /);
  assert.ok(readFileSync(ck).equals(before), 'checkpoint changed');
  r = sim(['pretrain', '--steps', '2', '--batch', '8', '--queue', '16', '--out', join(dir, 'empty'), '--resume', ...tiny]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--resume: no checkpoint at .*empty/);
});

test('a corrupt teacher file is named', () => {
  const f = join(dir, 'corrupt.safetensors');
  writeFileSync(f, Buffer.from([1, 2, 3]));
  const r = sim(['distill', '--teacher', f, '--steps', '1', ...tiny]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /teacher .*corrupt\.safetensors/);
});

test('SIGINT finishes the step, writes a checkpoint, exits 130; --resume completes the run', async () => {
  const out = join(dir, 'sigint');
  const args = [cli, 'pretrain', '--steps', '400', '--batch', '8', '--queue', '16', '--train-subset', '64', '--out', out, ...tiny];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const log = join(out, 'log.jsonl');
  const t0 = Date.now();
  while (Date.now() - t0 < 60000) {
    await new Promise((r) => setTimeout(r, 200));
    if (existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 3) break;
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.is(code, 130, stderr);
  assert.match(stderr, /SIGINT: finishing this step and writing a checkpoint/);
  const steps = readFileSync(log, 'utf8').trim().split('\n').length;
  assert.match(stderr, new RegExp(`stopped at step ${steps} \\(SIGINT\\)`));
  const r = sim(['pretrain', '--steps', '400', '--batch', '8', '--queue', '16', '--train-subset', '64', '--out', out, '--resume', ...tiny, '--stop-after', String(steps + 2)]);
  assert.is(r.status, 130, r.stderr);
  assert.match(r.stderr, new RegExp(`resumed from .* at step ${steps}`));
  const recs = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number });
  assert.equal(recs.map((x) => x.step), Array.from({ length: steps + 2 }, (_, i) => i + 1));
});

test.run();
