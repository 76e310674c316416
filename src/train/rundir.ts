// A run directory's guarantees: one run at a time (a lock file naming the holder's pid and host; a lock left by
// a dead process is recognised and taken over), another run's files never overwritten unless --resume
// continues it or --overwrite replaces it, temporaries of dead writers removed when a run starts, and every
// file error naming the file.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { realpathSync, accessSync, constants as fsConstants } from 'node:fs';
import { tempPathFor } from '../io/safetensors.js';

/** The files a run writes into its directory; their presence means another run lives here. */
export const RUN_FILES = ['config.json', 'log.jsonl', 'checkpoint.safetensors', 'student.safetensors', 'teacher.safetensors', 'loss.png', 'loss.svg'];
const LOCK = '.simreg.lock';

/** A refusal the user can fix with an option (exit 2). */
export class RunDirError extends Error {
  constructor(message: string, readonly usage: boolean) {
    super(message);
    this.name = 'RunDirError';
  }
}

/**
 * Replaces `path` with `text` atomically: written to a temporary beside it (named as every writer here names
 * them, so a dead writer's is swept at the next run) and renamed over it; on failure the temporary is removed
 * and the error names the file and `what` was being done.
 */
export function writeTextAtomic(path: string, text: string, what = 'write'): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw fileError(what, path, e);
  }
}

/** An I/O error reworded to name the file and what was being done (ENOSPC, EROFS, EACCES ... stay visible). */
export function fileError(what: string, path: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOSPC: 'the disk is full', EROFS: 'the file system is read-only', EACCES: 'permission denied', EPERM: 'not permitted',
    ENOENT: 'no such file or directory', EDQUOT: 'disk quota exceeded', EISDIR: 'is a directory', ENOTDIR: 'a parent is not a directory',
  };
  const out = new Error(`cannot ${what} ${path}: ${(err.code && why[err.code]) ?? err.message}${err.code ? ` (${err.code})` : ''}`);
  (out as NodeJS.ErrnoException).code = err.code;
  return out;
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

interface LockInfo { pid: number; host: string; started: string; command: string }

export interface RunDir {
  dir: string;
  /** Temporaries of dead writers removed when the directory was opened. */
  cleaned: string[];
  release(): void;
}

export interface RunDirOptions {
  resume: boolean;
  overwrite: boolean;
  /** e.g. "simreg distill": who holds the lock, for the refusal message of a second run. */
  command: string;
  /** Input files of this run (teachers): --overwrite must never remove them. */
  inputs?: string[];
}

const samePath = (a: string, b: string) => { try { return realpathSync(a) === realpathSync(b); } catch { return resolve(a) === resolve(b); } };

/** What a run directory holds, in words (for the refusal). */
function describeRun(dir: string): string {
  const parts: string[] = [];
  try {
    const log = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
    const last = log.length ? (JSON.parse(log[log.length - 1]!) as { step?: number }).step : undefined;
    if (last !== undefined) parts.push(`logged up to step ${last}`);
  } catch { /* no log */ }
  const cfg = (() => { try { return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { command?: string; train?: { steps?: number } }; } catch { return null; } })();
  if (cfg?.train?.steps) parts.push(`of ${cfg.train.steps} steps`);
  if (cfg?.command) parts.unshift(`a ${cfg.command} run`);
  if (existsSync(join(dir, 'student.safetensors')) || existsSync(join(dir, 'teacher.safetensors'))) parts.push('finished (exported weights present)');
  return parts.length ? parts.join(', ') : 'files of another run';
}

/**
 * Open (create) a run directory for a new or resumed run: take the lock, refuse another run's files unless
 * resuming or overwriting, remove temporaries left by dead writers. Call release() when the run ends (also
 * done at process exit).
 */
export function openRunDir(dir: string, o: RunDirOptions): RunDir {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    // A recursive mkdir on a read-only file system reports ENOENT: ask the nearest existing parent why.
    let parent = resolve(dir);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    try { accessSync(parent, fsConstants.W_OK); } catch (why) { throw fileError('create the run directory', dir, why); }
    throw fileError('create the run directory', dir, e);
  }
  if (!statSync(dir).isDirectory()) throw new RunDirError(`--out ${dir} is not a directory`, true);
  const lockPath = join(dir, LOCK);
  const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command: o.command };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw fileError('create the lock file', lockPath, e);
      let held: LockInfo | null = null;
      try { held = JSON.parse(readFileSync(lockPath, 'utf8')) as LockInfo; } catch { /* half-written or garbage: treated as stale below */ }
      const stale = !held || typeof held.pid !== 'number' || (held.host === me.host && !pidAlive(held.pid));
      if (!stale || attempt > 2) {
        throw new RunDirError(`run directory ${dir} is in use by ${held?.command ?? 'another run'} (pid ${held?.pid} on ${held?.host}, since ${held?.started}); ` +
          `wait for it, stop it, or use another --out. If that process is gone (another host's run cannot be checked from here), delete ${lockPath}.`, true);
      }
      // The holder is dead: take the lock over.
      try { unlinkSync(lockPath); } catch { /* another starter took it first: retry */ }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } catch (e) {
      closeSync(fd);
      try { unlinkSync(lockPath); } catch { /* leave it: an empty lock counts as stale */ }
      throw fileError('write the lock file', lockPath, e);
    }
    closeSync(fd);
    break;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      const held = JSON.parse(readFileSync(lockPath, 'utf8')) as LockInfo;
      if (held.pid === process.pid && held.host === me.host) unlinkSync(lockPath);
    } catch { /* gone already */ }
  };
  process.once('exit', release);
  try {
    const present = RUN_FILES.filter((f) => existsSync(join(dir, f)));
    if (!o.resume && present.length) {
      if (!o.overwrite) {
        throw new RunDirError(`run directory ${dir} holds ${describeRun(dir)} (${present.join(', ')}); ` +
          'pass --resume to continue it, --overwrite to replace it, or choose another --out', true);
      }
      for (const f of present) {
        const p = join(dir, f);
        if ((o.inputs ?? []).some((i) => samePath(i, p))) throw new RunDirError(`--overwrite would delete ${p}, which this run reads (an input); move it or use another --out`, true);
      }
      for (const f of present) {
        try { rmSync(join(dir, f), { force: true }); } catch (e) { throw fileError('remove', join(dir, f), e); }
      }
    }
    const cleaned = removeDeadTemporaries(dir);
    return { dir, cleaned, release };
  } catch (e) {
    release();
    throw e;
  }
}

/**
 * Temporaries of writers that are gone: "<name>.tmp-<pid>-<random>" (atomic writes) whose pid is not alive,
 * and the trainer's own "<name>.tmp" files (only this run writes those, and it holds the lock).
 */
export function removeDeadTemporaries(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const m = /\.tmp-(\d+)-[0-9a-f]+$/.exec(n);
    const dead = m ? Number(m[1]) !== process.pid && !pidAlive(Number(m[1])) : /\.tmp$/.test(n);
    if (!dead) continue;
    try { rmSync(join(dir, n), { force: true }); out.push(n); } catch { /* leave it; it will be tried again next start */ }
  }
  return out;
}
