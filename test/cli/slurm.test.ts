// A real Slurm: a one-node cluster brought up on this machine (scripts/slurm-local.sh: slurm-wlm and munge from
// the setup script, munged + slurmctld + slurmd). A 2-shard teacher cache runs as an array job and, merged,
// equals the one-process cache; a 3-run sweep runs as an array job and its results and weights equal the
// --local path's. The daemons are stopped at the end. Needs root (as CI runs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'simreg-slurm-'));
const state = join(dir, 'cluster');
const TEACHER = join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors');
const DATA = ['--size', '16', '--train-subset', '600', '--workers', '0'];
const env = { ...process.env, SLURM_CONF: join(state, 'slurm.conf') };
const run = (cmd: string, args: string[], timeout = 300_000) => spawnSync(cmd, args, { encoding: 'utf8', cwd: dir, env, timeout });
const simreg = (...a: string[]) => run(process.execPath, [cli, ...a]);

test.before(() => {
  const r = spawnSync('bash', [join(root, 'scripts', 'slurm-local.sh'), 'start', state], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not bring up the one-node Slurm cluster (scripts/slurm-local.sh start): ${r.stderr}${r.stdout}`);
});
test.after(() => {
  spawnSync('bash', [join(root, 'scripts', 'slurm-local.sh'), 'stop', state]);
  rmSync(dir, { recursive: true, force: true });
});

const cacheFile = (cache: string) => {
  const sub = readdirSync(cache).filter((n) => n.startsWith('teacher-'));
  assert.is(sub.length, 1);
  return join(cache, sub[0]!, 'shard-00000.safetensors');
};

/** Waits until Slurm has no job `id` left in its queue. */
async function waitJob(id: string, limitS = 300): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const q = run('squeue', ['-h', '-j', id, '-o', '%i %T']);
    if (q.status !== 0 && !/Invalid job id/.test(q.stderr)) throw new Error(`squeue failed: ${q.stderr}`);
    if (!q.stdout.trim()) return;
    if (Date.now() - t0 > limitS * 1000) throw new Error(`job ${id} still queued after ${limitS} s: ${q.stdout}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

test('a 2-shard teacher cache as a Slurm array job, merged, equals the one-process cache', async () => {
  const parts = join(dir, 'cache-slurm'), one = join(dir, 'cache-one');
  const task = [process.execPath, cli, 'cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', parts, '--shard', '$SLURM_ARRAY_TASK_ID/2'].join(' ');
  const sub = run('sbatch', ['--parsable', '--array=0-1', `--output=${join(dir, 'cache-%A_%a.out')}`, `--chdir=${dir}`, `--wrap=${task}`]);
  assert.is(sub.status, 0, sub.stderr);
  const id = sub.stdout.trim().split(';')[0]!;
  await waitJob(id);
  const logs = readdirSync(dir).filter((n) => n.startsWith('cache-') && n.endsWith('.out')).map((n) => readFileSync(join(dir, n), 'utf8'));
  assert.is(logs.length, 2, 'two array tasks ran');
  assert.ok(logs.some((l) => /part 0\/2: rows 0-512/.test(l)) && logs.some((l) => /part 1\/2: rows 512-600/.test(l)), logs.join('\n'));
  let r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', parts, '--merge');
  assert.is(r.status, 0, r.stderr);
  r = simreg('cache-teacher', '--teacher', TEACHER, ...DATA, '--cache-dir', one);
  assert.is(r.status, 0, r.stderr);
  assert.ok(readFileSync(cacheFile(parts)).equals(readFileSync(cacheFile(one))), 'the merged Slurm cache differs from the one-process cache');
});

test('a 3-run sweep as a Slurm array job: every task done, results and weights equal to the --local path', async () => {
  const g = join(dir, 'grid.json');
  writeFileSync(g, JSON.stringify({
    command: 'distill',
    args: { teacher: TEACHER, preset: 'fmnist', size: 16, 'train-subset': 32, batch: 8, width: 0.125, workers: 0, quiet: true, steps: 3 },
    grid: { head: ['linear', 'mlp2', 'mlp4'] },
  }));
  const slurm = join(dir, 'sweep-slurm'), local = join(dir, 'sweep-local');
  let r = simreg('sweep', g, '--slurm', '--out', slurm, '--', `--chdir=${dir}`);
  assert.is(r.status, 0, r.stderr);
  const id = /submitted Slurm job (\d+): 3 of 3 tasks \(array 0-2\)/.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  await waitJob(id!);
  r = simreg('sweep', '--collect', '--out', slurm);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 of 3 tasks done/);
  r = simreg('sweep', g, '--local', '--out', local);
  assert.is(r.status, 0, r.stdout + r.stderr);
  const rows = (d: string) => readFileSync(join(d, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { name: string; state: string; steps: number; finalLoss: number });
  const a = rows(slurm), b = rows(local);
  assert.equal(a.map((x) => [x.name, x.state, x.steps, x.finalLoss]), b.map((x) => [x.name, x.state, x.steps, x.finalLoss]));
  for (const x of a) {
    assert.ok(readFileSync(join(slurm, 'runs', x.name, 'student.safetensors')).equals(readFileSync(join(local, 'runs', x.name, 'student.safetensors'))), `${x.name}: weights differ`);
  }
  // Each array task ran under Slurm: its status names the job.
  const st = JSON.parse(readFileSync(join(slurm, 'status', `${a[0]!.name}.json`), 'utf8')) as { job?: string };
  assert.match(st.job ?? '', new RegExp(`^${id}_0$`));
});

test('a preempted array task (scontrol requeue) resumes from its checkpoint and ends as the uninterrupted run', async () => {
  const g = join(dir, 'grid-long.json');
  const args = { teacher: TEACHER, preset: 'fmnist', size: 16, 'train-subset': 64, batch: 8, width: 0.125, workers: 0, quiet: true, steps: 80, 'ckpt-every': 1 };
  writeFileSync(g, JSON.stringify({ command: 'distill', args }));
  const out = join(dir, 'sweep-preempt');
  let r = simreg('sweep', g, '--slurm', '--out', out);
  assert.is(r.status, 0, r.stderr);
  const id = /submitted Slurm job (\d+)/.exec(r.stdout)![1]!;
  const log = join(out, 'runs', '000-run', 'log.jsonl');
  const lines = () => { try { return readFileSync(log, 'utf8').split('\n').filter(Boolean).length; } catch { return 0; } };
  const t0 = Date.now();
  while (lines() < 3) {
    assert.ok(Date.now() - t0 < 120_000, 'the task never started logging');
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(lines() < 80, 'the task finished before it could be preempted');
  // Preempt: Slurm sends SIGTERM (the run checkpoints and stops) and puts the task back in the queue; a requeued
  // job waits a while before it may start again, so let it start in 2 s. Not at once: slurmd refuses a launch
  // in the same second as the revocation of the job's previous credential ("Job credential revoked": the task
  // then fails instead of resuming), which a clean-clone CI run here hit once with StartTime=now.
  r = run('scontrol', ['requeue', `${id}_0`]);
  assert.is(r.status, 0, r.stderr);
  const jobState = () => run('squeue', ['-h', '-j', `${id}_0`, '-o', '%T']).stdout.trim();
  for (let i = 0; i < 300 && jobState() !== 'PENDING'; i++) await new Promise((res) => setTimeout(res, 100));
  r = run('scontrol', ['update', `JobId=${id}_0`, 'StartTime=now+2']);
  assert.is(r.status, 0, `scontrol update StartTime=now+2: ${r.stderr} (state ${jobState()})`);
  // Done when the task's status says so (the queue can look empty for a moment while a job is requeued).
  const status = join(out, 'status', '000-run.json');
  const t1 = Date.now();
  for (;;) {
    let st = '';
    try { st = (JSON.parse(readFileSync(status, 'utf8')) as { state: string }).state; } catch { /* being written */ }
    if (st === 'done' || st === 'failed') break;
    if (Date.now() - t1 > 240_000) {
      const why = [run('squeue', ['-j', id]).stdout, run('scontrol', ['show', 'job', id]).stdout, readFileSync(join(state, 'slurmctld.log'), 'utf8').slice(-3000)].join('\n');
      assert.unreachable(`the requeued task did not finish in 240 s (status ${st}):\n${why}`);
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  await waitJob(id);
  const out1 = readdirSync(join(out, 'logs')).map((n) => readFileSync(join(out, 'logs', n), 'utf8')).join('\n');
  assert.match(out1, /task 0 \(000-run\): stopped/, out1);
  assert.match(out1, /--resume/, out1);
  assert.match(out1, /task 0 \(000-run\): done/, out1);
  r = simreg('sweep', '--collect', '--out', out);
  assert.is(r.status, 0, r.stdout);
  r = simreg('distill', ...Object.entries(args).map(([k, v]) => (v === true ? `--${k}` : `--${k}=${v}`)), '--out', join(dir, 'one-go'));
  assert.is(r.status, 0, r.stderr);
  assert.ok(readFileSync(join(out, 'runs', '000-run', 'student.safetensors')).equals(readFileSync(join(dir, 'one-go', 'student.safetensors'))),
    'the preempted and resumed task differs from the uninterrupted run');
  assert.ok(readFileSync(log).equals(readFileSync(join(dir, 'one-go', 'log.jsonl'))), 'the resumed log differs from the uninterrupted one');
});

test.run();
