// Work that spans processes, without a scheduler: the teacher cache computed in parts and merged is identical to
// the one-process cache and is what distill reads; a sweep grid expands, runs here one task after another, skips
// finished tasks on a rerun, resumes a stopped one, and names a failed task in its results table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { partRange, CACHE_BATCH } from '../../src/distill/cache.js';
import { expandGrid } from '../../src/cli/scale_cmds.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'simreg-scale-'));
const TEACHER = join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors');
const DATA = ['--size', '16', '--train-subset', '600', '--workers', '0'];
const simreg = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', cwd: dir });

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('parts cover the rows once, end on batch boundaries, and later parts may be empty', () => {
  for (const [rows, n] of [[600, 2], [600, 3], [1000, 7], [10, 4], [256 * 5, 5]] as const) {
    let next = 0;
    for (let i = 0; i < n; i++) {
      const [s, e] = partRange(rows, i, n);
      assert.is(s, next, `part ${i}/${n} of ${rows} starts where the last ended`);
      assert.ok(e >= s && (e === rows || e % CACHE_BATCH === 0), `part ${i}/${n} of ${rows} ends at ${e}`);
      next = e;
    }
    assert.is(next, rows, `${n} parts of ${rows} rows cover them all`);
  }
  assert.throws(() => partRange(100, 2, 2), /outside 0..1/);
});

const cacheFiles = (cache: string) => {
  const sub = readdirSync(cache).filter((n) => n.startsWith('teacher-'));
  assert.is(sub.length, 1, `one teacher cache in ${cache}: ${sub.join(', ')}`);
  return join(cache, sub[0]!);
};

test('cache-teacher --shard I/N then --merge gives the one-process cache byte for byte, and distill reads it', () => {
  const one = join(dir, 'cache-one'), parts = join(dir, 'cache-parts');
  let r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', one);
  assert.is(r.status, 0, r.stderr);
  // Merging before every part is there names the missing one and writes nothing.
  r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', parts, '--shard', '1/2');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /part 1\/2: rows 512-600 of 600/);
  r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', parts, '--merge');
  assert.is(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /1 of 2 parts missing .*: 0\/2/);
  assert.not.ok(readdirSync(cacheFiles(parts)).some((n) => n.startsWith('shard-')), 'nothing merged from an incomplete set');
  r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', parts, '--shard', '0/2');
  assert.is(r.status, 0, r.stderr);
  r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', parts, '--merge');
  assert.is(r.status, 0, r.stderr);
  const a = cacheFiles(one), b = cacheFiles(parts);
  const shards = readdirSync(a).filter((n) => n.startsWith('shard-'));
  assert.equal(shards, ['shard-00000.safetensors']);
  assert.ok(readFileSync(join(a, shards[0]!)).equals(readFileSync(join(b, shards[0]!))), 'the merged cache differs from the one-process cache');
  // distill --cache-teacher reuses the merged cache instead of computing its own.
  r = simreg('distill', '--teacher', TEACHER, '--preset', 'fmnist', ...DATA, '--cache-teacher', '--cache-dir', parts,
    '--batch', '16', '--steps', '2', '--width', '0.125', '--quiet', '--out', join(dir, 'run-cached'));
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /teacher features: reusing the cache/);
});

test('cache-teacher refuses bad parts with exit code 2', () => {
  for (const [args, msg] of [
    [['--shard', '2/2'], /part index must be in 0..1/],
    [['--shard', '0/0'], /N must be at least 1/],
    [['--shard', 'x'], /--shard expects I\/N/],
    [['--shard', '0/2', '--merge'], /contradict/],
    [[], /--cache-dir DIR is required/],
  ] as const) {
    const r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, ...(args.length ? ['--cache-dir', join(dir, 'c-bad')] : []), ...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});

const TINY = { preset: 'fmnist', size: 16, 'train-subset': 32, batch: 8, width: 0.125, workers: 0, quiet: true, 'ckpt-every': 1 };

test('a grid expands in order, checks every task\'s options, and names what is wrong', () => {
  const g = join(dir, 'g1.json');
  writeFileSync(g, JSON.stringify({ command: 'distill', args: { ...TINY, teacher: TEACHER, steps: 3 }, grid: { head: ['linear', 'mlp2'], lr: [0.05, 0.1] } }));
  const s = expandGrid(g);
  assert.equal(s.tasks.map((t) => t.name), ['000-head=linear,lr=0.05', '001-head=linear,lr=0.1', '002-head=mlp2,lr=0.05', '003-head=mlp2,lr=0.1']);
  assert.ok(s.tasks[3]!.argv.includes('--head=mlp2') && s.tasks[3]!.argv.includes('--lr=0.1'));
  for (const [grid, msg] of [
    [{ args: { out: 'x' } }, /args.out: the sweep sets --out itself/],
    [{ args: { 'no-such': 1 } }, /args.no-such is not an option/],
    [{ grid: { head: [] } }, /grid.head must be a non-empty list/],
    [{ grid: { head: ['cubic'] } }, /task 0 \(head=cubic\): .*--head/],
    [{ command: 'train' }, /"command" must be one of distill, pretrain/],
    [{ args: { lr: { a: 1 } } }, /args.lr must be a string, number/],
  ] as const) {
    writeFileSync(g, JSON.stringify(grid));
    assert.throws(() => expandGrid(g), (e: Error) => msg.test(e.message), JSON.stringify(grid));
  }
});

test('sweep --local: every task runs and is evaluated, a rerun skips finished tasks, a failed task is named, a stopped one resumes', () => {
  const g = join(dir, 'grid.json');
  writeFileSync(g, JSON.stringify({
    command: 'distill', args: { ...TINY, teacher: TEACHER, steps: 3 },
    runs: [{ name: 'a', args: {} }, { name: 'b', args: { head: 'linear' } }, { name: 'broken', args: { teacher: join(dir, 'missing.safetensors') } }],
    eval: { 'knn-train': 64, 'knn-test': 32, size: 16, workers: 0 },
  }));
  const out = join(dir, 'sweep');
  let r = simreg('sweep', g, '--local', '--out', out);
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /2 of 3 tasks done/);
  assert.match(r.stdout, /task 2 \(002-broken\): failed with exit code 2/);
  const rows = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.map((x) => x.state), ['done', 'done', 'failed']);
  for (const x of rows.slice(0, 2)) {
    assert.is(x.steps, 3);
    assert.ok(Number.isFinite(x.finalLoss), `final loss ${x.finalLoss}`);
    assert.ok(x.knn && x.knn['1'] > 0 && x.knn['1'] <= 1, `k-NN ${JSON.stringify(x.knn)}`);
  }
  const student = readFileSync(join(out, 'runs', '000-a', 'student.safetensors'));
  // A rerun of the same grid skips the finished tasks (their weights untouched) and fails the broken one again.
  r = simreg('sweep', g, '--local', '--out', out);
  assert.is(r.status, 1);
  assert.match(r.stdout, /task 0 \(000-a\): already finished/);
  assert.ok(readFileSync(join(out, 'runs', '000-a', 'student.safetensors')).equals(student));
  // Another grid into the same directory is refused; the runs stay.
  const g2 = join(dir, 'grid2.json');
  writeFileSync(g2, JSON.stringify({ command: 'distill', args: { ...TINY, teacher: TEACHER, steps: 4 } }));
  r = simreg('sweep', g2, '--local', '--out', out);
  assert.is(r.status, 2);
  assert.match(r.stderr, /holds another sweep/);
  assert.ok(existsSync(join(out, 'runs', '000-a', 'student.safetensors')));
  // A damaged sweep file is named, and nothing is run or removed.
  const bad = join(dir, 'sweep-bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'sweep.json'), '{"tasks": [');
  r = simreg('sweep', g, '--local', '--out', bad);
  assert.is(r.status, 2);
  assert.match(r.stderr, /sweep-bad\/sweep.json is not a sweep file simreg wrote/);
  assert.is(readFileSync(join(bad, 'sweep.json'), 'utf8'), '{"tasks": [');
  // A task stopped part-way (as a preempted Slurm task is) resumes from its checkpoint when it runs again, and
  // ends bit-identical to the same run made in one go.
  const g3 = join(dir, 'grid3.json');
  writeFileSync(g3, JSON.stringify({ command: 'distill', args: { ...TINY, teacher: TEACHER, steps: 4 } }));
  const out3 = join(dir, 'sweep3');
  r = simreg('distill', ...expandGrid(g3).tasks[0]!.argv, '--stop-after', '2', '--out', join(out3, 'runs', '000-run'));
  assert.is(r.status, 130, r.stderr);
  r = simreg('sweep', g3, '--task', '0', '--out', out3);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /--resume/);
  r = simreg('distill', ...expandGrid(g3).tasks[0]!.argv, '--out', join(dir, 'one-go'));
  assert.is(r.status, 0, r.stderr);
  assert.ok(readFileSync(join(out3, 'runs', '000-run', 'student.safetensors')).equals(readFileSync(join(dir, 'one-go', 'student.safetensors'))), 'the resumed task differs from the run made in one go');
  r = simreg('sweep', '--collect', '--out', out3);
  assert.is(r.status, 0, r.stdout);
  assert.match(r.stdout, /1 of 1 tasks done/);
});

test('sweep --slurm --dry-run writes an array job of the unfinished tasks; sbatch options pass through', () => {
  const out = join(dir, 'sweep');
  const r = simreg('sweep', '--slurm', '--dry-run', '--out', out, '--', '--partition=gpu', '--time=1:00:00');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /sbatch --parsable --array=2 --partition=gpu --time=1:00:00 /);
  const script = readFileSync(join(out, 'sweep.sbatch'), 'utf8');
  assert.match(script, /#SBATCH --requeue/);
  assert.match(script, /sweep --out=\S+ --task="\$SLURM_ARRAY_TASK_ID"/);
  const bad = simreg('sweep', '--local', '--out', out, '--', '--partition=gpu');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /need --slurm/);
});

test.run();
