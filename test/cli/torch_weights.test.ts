// PyTorch checkpoints on the command line: inspect and convert, a MoCo-style .pth.tar teacher distilled end to
// end (the exported student then loads in PyTorch with strict=True: scripts/check-torch-export.py, run where
// PyTorch is installed), hostile pickles refused with no side effect, errors worded for the command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cifarRecords } from '../helpers/data_fixtures.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const FIX = join(root, 'test', 'fixtures', 'torch');
const dir = mkdtempSync(join(tmpdir(), 'simreg-torchcli-'));
const sim = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('simreg inspect lists tensors, where they are and the layout; refuses a hostile pickle, exit 1', () => {
  let r = sim(['inspect', join(FIX, 'moco_v2.pth.tar'), '--limit', '3']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /torch legacy/);
  assert.match(r.stdout, /contents: epoch: 200; arch: "resnet18"; state_dict: dict of 250; optimizer: dict of 2; args: argparse\.Namespace\(arch, lr/);
  assert.match(r.stdout, /layout:\s+MoCo v1\/v2 \(query encoder\) \(prefix "module\.encoder_q\."\)/);
  assert.match(r.stdout, /module\.encoder_q\.conv1\.weight\s+F32\s+\[4, 3, 7, 7\]/);
  assert.match(r.stdout, /\.\.\. and 247 more/);
  r = sim(['inspect', join(FIX, 'resnet18_w16_bf16.pt')]);
  assert.match(r.stdout, /torchvision \(backbone \+ 10-class classifier\)/);
  assert.match(r.stdout, /fc\.weight\s+BF16\s+\[10, 32\]/);
  const marker = '/tmp/simreg-pwned-os-system';
  rmSync(marker, { force: true });
  r = sim(['inspect', join(FIX, 'evil_os_system.pth')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /refuses to unpickle the global (posix|os)\.system/);
  assert.not.ok(existsSync(marker));
  r = sim(['inspect']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /usage: simreg inspect FILE/);
});

test('simreg convert: torchvision-named safetensors, checked against --arch, never over its input', () => {
  const out = join(dir, 'moco-teacher.safetensors');
  let r = sim(['convert', join(FIX, 'moco_v2.pth.tar'), out, '--arch', 'resnet18', '--width', '0.0625']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /input .*moco_v2\.pth\.tar: torch legacy, MoCo v1\/v2 \(query encoder\), from "state_dict", prefix "module\.encoder_q\." stripped, projection head fc\.0\/fc\.2 kept/);
  assert.match(r.stdout, /architecture in the metadata/);
  // The converted file is a teacher on its own: inspect sees the simreg export.
  r = sim(['inspect', out, '--limit', '1']);
  assert.match(r.stdout, /simreg export \(\{"arch":"resnet18"/);
  // Without --arch: the guessed prefix stripped, everything under it written.
  const loose = join(dir, 'dino-teacher.safetensors');
  r = sim(['convert', join(FIX, 'dino.pth'), loose]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /DINO \(teacher backbone\), from "teacher", prefix "backbone\." stripped/);
  // Output = input (also through a link): refused, the input untouched.
  const copy = join(dir, 'in.pth');
  writeFileSync(copy, readFileSync(join(FIX, 'resnet18_w16.pth')));
  const link = join(dir, 'link.pth');
  symlinkSync(copy, link);
  const before = readFileSync(copy);
  for (const target of [copy, link]) {
    r = sim(['convert', copy, target]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, /the output .* is the input file/);
  }
  assert.ok(readFileSync(copy).equals(before));
});

test('a MoCo-style .pth.tar teacher distilled end to end; the student exports under torchvision names', async () => {
  // A small CIFAR-10-format data set (3 channels, like the teacher).
  const data = join(dir, 'cifar');
  mkdirSync(data);
  const labels = Array.from({ length: 40 }, (_, i) => [i % 10]);
  for (let b = 1; b <= 5; b++) writeFileSync(join(data, `data_batch_${b}.bin`), cifarRecords(labels.slice(0, 8), 'cifar10'));
  writeFileSync(join(data, 'test_batch.bin'), cifarRecords(labels.slice(0, 10), 'cifar10'));
  const out = join(dir, 'run');
  const r = sim(['distill', '--teacher', join(FIX, 'moco_v2.pth.tar'), '--teacher-arch', 'resnet18', '--teacher-width', '0.0625',
    '--data', data, '--size', '32', '--batch', '8', '--steps', '2', '--workers', '0', '--quiet', '--arch', 'resnet18', '--width', '0.125', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /teacher .*moco_v2\.pth\.tar: torch legacy, MoCo v1\/v2 \(query encoder\), from "state_dict", prefix "module\.encoder_q\." stripped/);
  const student = join(out, 'student.safetensors');
  const { tensors, metadata } = await readSafetensors(student);
  assert.ok(tensors.has('conv1.weight') && tensors.has('layer4.1.bn2.running_var'));
  assert.not.ok([...tensors.keys()].some((k) => k.startsWith('fc') || k.startsWith('head')), 'heads discarded');
  assert.match(metadata['simreg.model']!, /"arch":"resnet18"/);
});

test('errors use the command\'s words: "weights" under eval, "teacher" under distill', () => {
  const junk = join(dir, 'junk.pth');
  writeFileSync(junk, Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 1, 2, 3]));
  let r = sim(['eval', '--weights', junk, '--teacher-arch', 'resnet18', '--data', 'fashion-mnist', '--knn-train', '10', '--knn-test', '10']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /simreg: weights .*junk\.pth: truncated pickle/);
  assert.not.match(r.stderr, /teacher/);
  r = sim(['distill', '--teacher', junk, '--teacher-arch', 'resnet18', '--steps', '1', '--size', '16', '--workers', '0']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /simreg: teacher .*junk\.pth: truncated pickle/);
});

test.run();
