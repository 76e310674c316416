// Fault injection: a distillation run killed with SIGKILL at random moments (twelve times, a checkpoint written
// every step so many kills land inside a checkpoint write) never leaves a checkpoint that does not load, never
// leaves temporaries of a dead writer behind once the next run has started, and, resumed after the last kill,
// ends with a log and exported weights byte-identical to an uninterrupted run's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadCheckpoint } from '../../src/io/checkpoint.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'simreg-faults-'));
const TEACHER = join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors');
const STEPS = 30;
const args = (out: string, more: string[]) => [cli, 'distill', '--teacher', TEACHER, '--preset', 'fmnist', '--size', '16', '--batch', '16', '--train-subset', '96',
  '--workers', '0', '--quiet', '--width', '0.125', '--steps', String(STEPS), '--ckpt-every', '1', '--seed', '7', '--out', out, ...more];
const logLines = (out: string) => (existsSync(join(out, 'log.jsonl')) ? readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).length : 0);
/** Whether this run has appended a step to the log since `t0` (it has then started up and swept the dead writer's temporaries). */
const loggedSince = (out: string, t0: number) => existsSync(join(out, 'log.jsonl')) && statSync(join(out, 'log.jsonl')).mtimeMs >= t0;
const temporaries = (out: string) => (existsSync(out) ? readdirSync(out).filter((n) => /\.tmp(-\d+-[0-9a-f]+)?$/.test(n)) : []);

test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic sequence in [0, 1) (the kill schedule is reproducible). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

test('twelve SIGKILLs at random moments: checkpoints always load, no stray temporaries, the resumed result is bit-identical', async () => {
  const ref = join(dir, 'reference');
  const r = spawnSync(process.execPath, args(ref, []), { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const refLog = readFileSync(join(ref, 'log.jsonl'));
  const refStudent = readFileSync(join(ref, 'student.safetensors'));

  const out = join(dir, 'killed');
  const rand = rng(2024);
  let kills = 0, duringWrite = 0;
  let lastDead: number | null = null;
  while (kills < 12) {
    const more = existsSync(join(out, 'checkpoint.safetensors')) ? ['--resume'] : existsSync(out) ? ['--overwrite'] : [];
    const t0 = Date.now();
    const child = spawn(process.execPath, args(out, more), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const closed = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    // Kill once the run has logged a few more steps (or, now and then, while it is still starting up).
    const target = logLines(out) + Math.floor(rand() * 4);
    let finished = false;
    while (logLines(out) < target && Date.now() - t0 < 60_000) {
      if (child.exitCode !== null) { finished = true; break; }
      await new Promise((res) => setTimeout(res, 5));
    }
    if (lastDead !== null) {
      // The previous (killed) run's temporaries are gone once this run has started.
      const stale = temporaries(out).filter((n) => n.includes(`.tmp-${lastDead}-`) || n.endsWith('.tmp'));
      if (loggedSince(out, t0)) assert.equal(stale, [], `temporaries of dead pid ${lastDead} left: ${stale.join(', ')}`);
    }
    if (finished || child.exitCode !== null) break; // the run reached its end before the kill
    await new Promise((res) => setTimeout(res, Math.floor(rand() * 60)));
    if (temporaries(out).some((n) => n.includes(`.tmp-${child.pid}-`))) duringWrite++;
    child.kill('SIGKILL');
    await closed;
    kills++;
    lastDead = child.pid!;
    assert.not.match(stderr, /simreg: /, `the run failed before it was killed: ${stderr}`);
    // Whatever moment the kill hit, the checkpoint on disk is whole.
    if (existsSync(join(out, 'checkpoint.safetensors'))) {
      const ck = await loadCheckpoint(join(out, 'checkpoint.safetensors'));
      assert.ok(ck.step >= 1 && ck.step <= STEPS, `checkpoint step ${ck.step}`);
    }
  }
  assert.ok(kills >= 10, `only ${kills} kills landed before the run finished`);
  console.log(`# ${kills} SIGKILLs, ${duringWrite} while a checkpoint was being written`);
  // Resume to the end.
  const more = existsSync(join(out, 'checkpoint.safetensors')) ? ['--resume'] : ['--overwrite'];
  const fin = spawnSync(process.execPath, args(out, more), { encoding: 'utf8' });
  assert.is(fin.status, 0, fin.stderr);
  assert.equal(temporaries(out), [], 'temporaries left at the end');
  assert.not.ok(existsSync(join(out, '.simreg.lock')), 'the lock was left at the end');
  assert.ok(readFileSync(join(out, 'log.jsonl')).equals(refLog), 'the resumed log differs from the uninterrupted one');
  assert.ok(readFileSync(join(out, 'student.safetensors')).equals(refStudent), 'the exported weights differ from the uninterrupted run\'s');
});

test.run();
