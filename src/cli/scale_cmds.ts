// Work that spans processes and machines, handed to the scheduler research clusters run (Slurm):
//   simreg cache-teacher   the teacher's features of one part of a data set (--shard I/N), or the parts merged
//   simreg sweep GRID.json a grid of independent runs: one after another here, or as a Slurm array job
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, appendFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { makePipeline } from '../data/index.js';
import { openData, subset } from '../train/data.js';
import { loadTeacher, describeLoad } from '../distill/models.js';
import { computeCachePart, mergeCacheParts, cachedTeacherFeatures, CacheError } from '../distill/cache.js';
import { fileError, writeTextAtomic } from '../train/rundir.js';
import { UsageError, parseArgs, type OptSpec, type Parsed } from './options.js';
import { DATA_OPTS, DISTILL_SPECS, PRETRAIN_SPECS, teacherLoadOptions, teacherSpecs } from './train_cmds.js';
import { EVAL_OPTS } from './eval_cmds.js';

// ---------------------------------------------------------------------------------------------- cache-teacher

export const CACHE_OPTS: OptSpec[] = [
  { name: 'teacher', type: 'list', help: 'teacher weight file(s), as given to distill --teacher (one cache per teacher)' },
  ...DISTILL_SPECS.filter((s) => ['teacher-key', 'teacher-strip', 'teacher-arch', 'teacher-small-stem', 'teacher-width', 'train-subset'].includes(s.name)),
  ...DATA_OPTS,
  { name: 'cache-dir', type: 'string', help: 'the cache directory, as given to distill --cache-dir (required)' },
  { name: 'shard', type: 'string', help: 'I/N: compute part I (0-based) of N equal parts of the training set, e.g. --shard $SLURM_ARRAY_TASK_ID/8' },
  { name: 'merge', type: 'bool', default: false, help: 'join the parts into the cache distill reads (identical to a one-process cache)' },
  { name: 'shards', type: 'int', min: 1, help: 'with --merge: the number of parts (default: the one split found)' },
];

export async function runCacheTeacher(o: Parsed): Promise<number> {
  const files = (o.teacher as string[] | undefined) ?? [];
  if (!files.length) throw new UsageError('simreg cache-teacher: --teacher FILE is required');
  for (const f of files) if (!existsSync(f)) throw new UsageError(`teacher file ${f} does not exist`);
  if (!o['cache-dir']) throw new UsageError('simreg cache-teacher: --cache-dir DIR is required (give distill the same --cache-dir)');
  const dir = String(o['cache-dir']);
  let part: [number, number] | null = null;
  if (o.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(String(o.shard));
    if (!m) throw new UsageError(`--shard expects I/N with 0 <= I < N (e.g. 3/8), got ${JSON.stringify(o.shard)}`);
    part = [Number(m[1]), Number(m[2])];
    if (part[1] < 1) throw new UsageError(`--shard ${o.shard}: the number of parts N must be at least 1`);
    if (part[0] >= part[1]) throw new UsageError(`--shard ${o.shard}: the part index must be in 0..${part[1] - 1}`);
    if (o.merge) throw new UsageError('--shard and --merge contradict each other: compute a part, or merge them');
  }
  if (o.shards !== undefined && !o.merge) throw new UsageError('--shards only goes with --merge (a part is named with --shard I/N)');
  const data = await openData(String(o.data), { imageSize: o.size as number | undefined });
  const train = subset(data.train, o['train-subset'] as number | undefined, 1234);
  const size = (o.size as number | undefined) ?? data.size;
  const pipe = makePipeline('eval', { size, channels: data.channels, mean: data.mean, std: data.std });
  const specs = teacherSpecs(o, data.channels);
  const loadOpts = teacherLoadOptions(o, files, 'teacher');
  for (let i = 0; i < files.length; i++) {
    const t = await loadTeacher(files[i]!, specs[i], loadOpts[i]);
    console.log(`teacher ${describeLoad(t)}`);
    if ((t.spec.inChannels ?? 3) !== data.channels) throw new UsageError(`teacher ${files[i]} takes ${t.spec.inChannels ?? 3}-channel images but ${data.name} has ${data.channels}`);
    try {
      const t0 = performance.now();
      if (part) {
        const r = await computeCachePart(t, train, pipe, dir, part[0], part[1], Number(o.workers));
        console.log(`part ${part[0]}/${part[1]}: rows ${r.start}-${r.end} of ${train.length}, ${r.reused ? 'already computed' : `computed in ${((performance.now() - t0) / 1000).toFixed(1)} s`}: ${r.file}`);
      } else if (o.merge) {
        const l = await mergeCacheParts(t, train, pipe, dir, o.shards as number | undefined);
        console.log(`merged ${l.count} parts into ${l.files.length} cache file(s) in ${l.base} (${l.rows} x ${l.dim}); the part files can now be deleted`);
      } else {
        await cachedTeacherFeatures(t, train, pipe, dir, Number(o.workers));
      }
    } catch (e) {
      if (e instanceof CacheError) throw new UsageError(e.message);
      throw e;
    } finally { t.encoder.dispose(); }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------- sweep

export const SWEEP_OPTS: OptSpec[] = [
  { name: 'out', type: 'string', help: 'sweep directory: sweep.json, runs/<name>/, status/, logs/, results.jsonl (default runs/sweep-<grid name>)' },
  { name: 'local', type: 'bool', default: false, help: 'run every unfinished task here, one after another' },
  { name: 'slurm', type: 'bool', default: false, help: 'write <out>/sweep.sbatch and submit the unfinished tasks as one Slurm array job (sbatch options after --)' },
  { name: 'dry-run', type: 'bool', default: false, help: 'with --slurm: write the script and print the sbatch command, submit nothing' },
  { name: 'collect', type: 'bool', default: false, help: 'gather the results table (results.jsonl); exit 1 naming any task that failed or has not finished' },
  { name: 'task', type: 'int', min: 0, help: 'run task I of the sweep in <out> (what each array task runs; reruns resume from the checkpoint)' },
];

const SWEEP_COMMANDS: Record<string, { specs: OptSpec[]; exported: string }> = {
  distill: { specs: DISTILL_SPECS, exported: 'student.safetensors' },
  pretrain: { specs: PRETRAIN_SPECS, exported: 'teacher.safetensors' },
};
/** Options the sweep sets itself. */
const RESERVED = ['out', 'resume', 'overwrite', 'config', 'stop-after'];

type ArgValue = string | number | boolean | (string | number)[];
export interface SweepTask { index: number; name: string; command: string; args: Record<string, ArgValue>; argv: string[] }
/** `cwd`: where relative paths in the grid's options are resolved (the directory `simreg sweep` was first run in). */
export interface Sweep { grid: string; cwd: string; command: string; tasks: SweepTask[]; eval: Record<string, ArgValue> | null }

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function toArgv(args: Record<string, ArgValue>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(args)) {
    if (typeof v === 'boolean') out.push(v ? `--${k}` : `--no-${k}`);
    else out.push(`--${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return out;
}

function checkArgs(file: string, where: string, args: unknown, specs: OptSpec[]): Record<string, ArgValue> {
  if (!isObj(args)) throw new UsageError(`${file}: ${where} must be an object of option names and values`);
  const names = new Set(specs.map((s) => s.name));
  for (const [k, v] of Object.entries(args)) {
    if (RESERVED.includes(k)) throw new UsageError(`${file}: ${where}.${k}: the sweep sets --${k} itself (each task runs in <out>/runs/<name>)`);
    if (!names.has(k)) throw new UsageError(`${file}: ${where}.${k} is not an option of this command`);
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) ||
      (Array.isArray(v) && v.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))));
    if (!ok) throw new UsageError(`${file}: ${where}.${k} must be a string, number, boolean or a list of strings/numbers, got ${JSON.stringify(v)}`);
  }
  return args as Record<string, ArgValue>;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._=+,-]+/g, '_').slice(0, 80);
const valueName = (v: ArgValue) => (Array.isArray(v) ? v.map((x) => basename(String(x)).replace(/\.(safetensors|pth|pt|tar)$/g, '')).join('+') : typeof v === 'string' ? basename(v) : String(v));

/**
 * A grid file, expanded: every combination of `grid` values (keys in file order, the last varying fastest), for
 * each entry of `runs` (or once), over the shared `args`. Every task's options are checked as the command would.
 */
export function expandGrid(file: string): Sweep {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw fileError('read the grid file', file, e); }
  let g: unknown;
  try { g = JSON.parse(text); } catch (e) { throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`); }
  if (!isObj(g)) throw new UsageError(`${file}: the grid must be a JSON object with "command", "args", "grid" and/or "runs"`);
  for (const k of Object.keys(g)) if (!['command', 'args', 'grid', 'runs', 'eval', 'description'].includes(k)) throw new UsageError(`${file}: unknown key "${k}" (command, args, grid, runs, eval, description)`);
  const command = g.command ?? 'distill';
  if (typeof command !== 'string' || !SWEEP_COMMANDS[command]) throw new UsageError(`${file}: "command" must be one of ${Object.keys(SWEEP_COMMANDS).join(', ')}, got ${JSON.stringify(command)}`);
  const specs = SWEEP_COMMANDS[command]!.specs;
  const base = checkArgs(file, 'args', g.args ?? {}, specs);
  const axes: [string, ArgValue[]][] = [];
  if (g.grid !== undefined) {
    if (!isObj(g.grid)) throw new UsageError(`${file}: "grid" must be an object of option names and lists of values`);
    for (const [k, vs] of Object.entries(g.grid)) {
      if (!Array.isArray(vs) || vs.length === 0) throw new UsageError(`${file}: grid.${k} must be a non-empty list of values`);
      vs.forEach((v, i) => checkArgs(file, `grid.${k}[${i}]`, { [k]: v }, specs));
      axes.push([k, vs as ArgValue[]]);
    }
  }
  let runs: { name?: string; args: Record<string, ArgValue> }[] = [{ args: {} }];
  if (g.runs !== undefined) {
    if (!Array.isArray(g.runs) || g.runs.length === 0) throw new UsageError(`${file}: "runs" must be a non-empty list of {"name": ..., "args": {...}}`);
    runs = g.runs.map((r, i) => {
      if (!isObj(r)) throw new UsageError(`${file}: runs[${i}] must be an object {"name": ..., "args": {...}}`);
      if (r.name !== undefined && (typeof r.name !== 'string' || !r.name)) throw new UsageError(`${file}: runs[${i}].name must be a non-empty string`);
      return { name: r.name as string | undefined, args: checkArgs(file, `runs[${i}].args`, r.args ?? {}, specs) };
    });
  }
  let evalArgs: Record<string, ArgValue> | null = null;
  if (g.eval !== undefined) {
    const evalSpecs = [...EVAL_OPTS, ...DATA_OPTS].filter((s) => !['weights', 'json', 'raw'].includes(s.name));
    evalArgs = checkArgs(file, 'eval', g.eval, evalSpecs);
  }
  const combos: Record<string, ArgValue>[] = [{}];
  for (const [k, vs] of axes) {
    const next: Record<string, ArgValue>[] = [];
    for (const c of combos) for (const v of vs) next.push({ ...c, [k]: v });
    combos.splice(0, combos.length, ...next);
  }
  const tasks: SweepTask[] = [];
  const names = new Set<string>();
  for (const r of runs) {
    for (const c of combos) {
      const index = tasks.length;
      const label = [r.name, ...Object.entries(c).map(([k, v]) => `${k}=${valueName(v)}`)].filter(Boolean).join(',') || 'run';
      const name = `${String(index).padStart(3, '0')}-${slug(label)}`;
      if (names.has(name)) throw new UsageError(`${file}: two tasks are both named ${name}`);
      names.add(name);
      const args = { ...base, ...r.args, ...c };
      const argv = toArgv(args);
      try { parseArgs(command, argv, specs); } catch (e) { throw new UsageError(`${file}: task ${index} (${label}): ${(e as Error).message}`); }
      tasks.push({ index, name, command, args, argv });
    }
  }
  return { grid: resolve(file), cwd: process.cwd(), command, tasks, eval: evalArgs };
}

interface Status { index: number; name: string; state: 'running' | 'done' | 'failed' | 'stopped'; host: string; pid: number; job?: string; started: string; ended?: string; code?: number | null; signal?: string | null; seconds?: number; error?: string }

const writeJson = (path: string, v: unknown) => writeTextAtomic(path, `${JSON.stringify(v, null, 2)}\n`);

function readStatus(dir: string, t: SweepTask): Status | null {
  const p = join(dir, 'status', `${t.name}.json`);
  if (!existsSync(p)) return null;
  try { return JSON.parse(readFileSync(p, 'utf8')) as Status; } catch { return null; }
}

/** The sweep in `dir`: created from the grid file, or checked against it (a directory of another sweep is refused). */
function openSweep(dir: string, grid: string | undefined): Sweep {
  const path = join(dir, 'sweep.json');
  let have: Sweep | null = null;
  if (existsSync(path)) {
    try {
      have = JSON.parse(readFileSync(path, 'utf8')) as Sweep;
      if (!Array.isArray(have.tasks) || typeof have.cwd !== 'string') throw new Error('it lacks its task list');
    } catch (e) {
      throw new UsageError(`${path} is not a sweep file simreg wrote (${(e as Error).message}); the runs under ${join(dir, 'runs')} are kept: choose another --out`);
    }
  }
  if (!grid) {
    if (!have) throw new UsageError(`${dir} holds no sweep (no sweep.json): give the grid file, simreg sweep GRID.json --out ${dir}`);
    return have;
  }
  const s = expandGrid(grid);
  if (have) {
    const same = JSON.stringify(have.tasks) === JSON.stringify(s.tasks) && JSON.stringify(have.eval) === JSON.stringify(s.eval);
    if (!same) {
      throw new UsageError(`${dir} holds another sweep (from ${have.grid}, ${have.tasks.length} tasks) whose tasks differ from ${grid}'s; ` +
        'its runs are kept: choose another --out for the changed grid');
    }
    return have;
  }
  mkdirSync(join(dir, 'runs'), { recursive: true });
  writeJson(path, s);
  return s;
}

const cliPath = () => resolve(process.argv[1]!);

/** Whether the task's run has finished (its exported weights exist). */
const finished = (dir: string, s: Sweep, t: SweepTask) => existsSync(join(dir, 'runs', t.name, SWEEP_COMMANDS[t.command]!.exported)) &&
  (!s.eval || existsSync(join(dir, 'runs', t.name, 'eval.json')));

function runChild(argv: string[], cwd: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [cliPath(), ...argv], { stdio: 'inherit', cwd });
    // Slurm preempts with SIGTERM: the run checkpoints and stops; the requeued task resumes it.
    const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
    const onTerm = forward('SIGTERM'), onInt = forward('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    child.on('error', rej);
    child.on('close', (code, signal) => { process.off('SIGTERM', onTerm); process.off('SIGINT', onInt); res({ code, signal }); });
  });
}

/** Runs one task to its end: resumes its checkpoint if there is one, then evaluates its export when the grid asks. */
export async function runTask(dir: string, s: Sweep, index: number): Promise<number> {
  const t = s.tasks[index];
  if (!t) throw new UsageError(`--task ${index}: the sweep in ${dir} has tasks 0..${s.tasks.length - 1}`);
  const runDir = resolve(dir, 'runs', t.name);
  mkdirSync(join(dir, 'status'), { recursive: true });
  const statusPath = join(dir, 'status', `${t.name}.json`);
  const job = process.env.SLURM_ARRAY_JOB_ID ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}` : process.env.SLURM_JOB_ID;
  const st: Status = { index, name: t.name, state: 'running', host: hostname(), pid: process.pid, job, started: new Date().toISOString() };
  if (finished(dir, s, t)) {
    console.log(`task ${index} (${t.name}): already finished`);
    const old = readStatus(dir, t);
    if (!old || old.state !== 'done') writeJson(statusPath, { ...st, state: 'done', ended: st.started, code: 0 });
    return 0;
  }
  writeJson(statusPath, st);
  const t0 = performance.now();
  const exported = join(runDir, SWEEP_COMMANDS[t.command]!.exported);
  let r = { code: 0 as number | null, signal: null as NodeJS.Signals | null };
  if (!existsSync(exported)) {
    // A checkpoint: continue it (a requeued or rerun task). No checkpoint but files of an attempt that never
    // reached one: start over (the attempt has nothing to continue from).
    const resume = existsSync(join(runDir, 'checkpoint.safetensors'));
    const fresh = !resume && existsSync(runDir) && readdirSync(runDir).some((n) => n === 'config.json' || n === 'log.jsonl');
    const argv = [t.command, ...t.argv, `--out=${runDir}`, ...(resume ? ['--resume'] : fresh ? ['--overwrite'] : [])];
    console.log(`task ${index} (${t.name}): simreg ${argv.join(' ')}`);
    r = await runChild(argv, s.cwd);
  }
  if (r.code === 0 && s.eval) {
    const argv = ['eval', `--weights=${exported}`, ...toArgv(s.eval), `--json=${join(runDir, 'eval.json')}`];
    if (t.args.data !== undefined && s.eval.data === undefined) argv.push(`--data=${String(t.args.data)}`);
    console.log(`task ${index} (${t.name}): simreg ${argv.join(' ')}`);
    r = await runChild(argv, s.cwd);
    if (r.code !== 0) st.error = 'the evaluation failed';
  }
  const state = r.code === 0 ? 'done' : r.code === 130 || r.signal === 'SIGTERM' || r.signal === 'SIGINT' ? 'stopped' : 'failed';
  writeJson(statusPath, { ...st, state, ended: new Date().toISOString(), code: r.code, signal: r.signal, seconds: (performance.now() - t0) / 1000 });
  console.log(`task ${index} (${t.name}): ${state}${r.code ? ` (exit code ${r.code})` : r.signal ? ` (${r.signal})` : ''}`);
  return r.code ?? 1;
}

interface Row { index: number; name: string; state: string; steps: number | null; finalLoss: number | null; seconds: number | null; knn: Record<string, number> | null; args: Record<string, ArgValue>; note: string }

/** One row per task: its state, the last logged step, the mean loss of its last 10 steps, k-NN if evaluated. */
export function collect(dir: string, s: Sweep): Row[] {
  return s.tasks.map((t) => {
    const runDir = join(dir, 'runs', t.name);
    const st = readStatus(dir, t);
    let steps: number | null = null, finalLoss: number | null = null, knn: Record<string, number> | null = null;
    const log = join(runDir, 'log.jsonl');
    if (existsSync(log)) {
      const recs = readFileSync(log, 'utf8').split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as { step: number; loss: number }]; } catch { return []; } });
      if (recs.length) {
        steps = recs[recs.length - 1]!.step;
        const last = recs.slice(-10);
        finalLoss = last.reduce((a, r) => a + r.loss, 0) / last.length;
      }
    }
    const ev = join(runDir, 'eval.json');
    if (existsSync(ev)) {
      try { knn = (JSON.parse(readFileSync(ev, 'utf8')) as { rows: { knn: Record<string, number> }[] }).rows[0]!.knn; } catch { knn = null; }
    }
    const done = finished(dir, s, t);
    const state = done ? 'done' : st ? st.state : 'not started';
    const log2 = st?.job ? ` (log: ${join(dir, 'logs', `${st.job}.out`)})` : '';
    const note = done ? '' : !st ? 'no record: pending, never ran, or killed before it started' :
      st.state === 'running' ? `running on ${st.host} since ${st.started}, or killed without a trace${log2}` :
        st.state === 'stopped' ? `stopped at step ${steps ?? 0} (preempted or interrupted): rerun resumes from its checkpoint${log2}` :
          `failed with ${st.code !== null && st.code !== undefined ? `exit code ${st.code}` : st.signal} on ${st.host}${st.error ? ` (${st.error})` : ''}${log2}`;
    return { index: t.index, name: t.name, state, steps, finalLoss, seconds: st?.seconds ?? null, knn, args: t.args, note };
  });
}

function printTable(rows: Row[]): void {
  const ks = [...new Set(rows.flatMap((r) => Object.keys(r.knn ?? {})))].sort((a, b) => Number(a) - Number(b));
  const head = ['task', 'state', 'steps', 'final loss', ...ks.map((k) => `${k}-NN %`)];
  const body = rows.map((r) => [r.name, r.state, r.steps === null ? '' : String(r.steps), r.finalLoss === null ? '' : r.finalLoss.toFixed(4),
    ...ks.map((k) => (r.knn?.[k] === undefined ? '' : (100 * r.knn[k]!).toFixed(2)))]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  console.log(head.map((h, i) => h.padEnd(w[i]!)).join('  '));
  for (const b of body) console.log(b.map((c, i) => c.padEnd(w[i]!)).join('  '));
}

function collectAndReport(dir: string, s: Sweep): number {
  const rows = collect(dir, s);
  printTable(rows);
  const path = join(dir, 'results.jsonl');
  writeTextAtomic(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const bad = rows.filter((r) => r.state !== 'done');
  console.log(`${rows.length - bad.length} of ${rows.length} tasks done; results in ${path}`);
  for (const r of bad) console.log(`  task ${r.index} (${r.name}): ${r.note}`);
  return bad.length ? 1 : 0;
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The array job script: each task runs `simreg sweep --task $SLURM_ARRAY_TASK_ID`; --requeue lets Slurm rerun a preempted task, which resumes. */
function sbatchScript(dir: string, s: Sweep): string {
  const absDir = resolve(dir);
  return [
    '#!/bin/bash',
    `# simreg sweep of ${s.grid}: one array task per run (written by simreg sweep --slurm)`,
    `#SBATCH --job-name=simreg-${slug(basename(s.grid, '.json'))}`,
    `#SBATCH --output=${join(absDir, 'logs', '%A_%a.out')}`,
    '#SBATCH --open-mode=append',
    '#SBATCH --requeue',
    `cd ${shellQuote(s.cwd)}`,
    `exec ${shellQuote(process.execPath)} ${shellQuote(cliPath())} sweep --out=${shellQuote(absDir)} --task="$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
}

export async function runSweep(args: string[], o: Parsed, passthrough: string[]): Promise<number> {
  if (args.length > 1) throw new UsageError(`simreg sweep takes one grid file, got ${args.join(' ')}`);
  const modes = ['local', 'slurm', 'collect'].filter((m) => o[m]).concat(o.task !== undefined ? ['task'] : []);
  if (modes.length !== 1) throw new UsageError(`simreg sweep: choose one of --local, --slurm, --collect, --task I${modes.length ? ` (got ${modes.map((m) => `--${m}`).join(' and ')})` : ''}`);
  if (passthrough.length && !o.slurm) throw new UsageError(`options after -- go to sbatch, so they need --slurm: ${passthrough.join(' ')}`);
  const grid = args[0];
  if (grid && !existsSync(grid)) throw new UsageError(`grid file ${grid} does not exist`);
  const dir = (o.out as string | undefined) ?? (grid ? join('runs', `sweep-${slug(basename(grid, '.json'))}`) : undefined);
  if (!dir) throw new UsageError('simreg sweep: give the grid file or --out DIR of an existing sweep');
  const s = openSweep(dir, grid);
  if (o.task !== undefined) return runTask(dir, s, Number(o.task));
  if (o.collect) return collectAndReport(dir, s);
  if (o.local) {
    let failedAny = false;
    for (const t of s.tasks) {
      const code = await runTask(dir, s, t.index);
      if (code === 130) { console.log('stopped: rerun the same command to continue (finished tasks are skipped, a stopped one resumes)'); return 130; }
      if (code !== 0) failedAny = true;
    }
    return collectAndReport(dir, s) || (failedAny ? 1 : 0);
  }
  // --slurm
  const todo = s.tasks.filter((t) => !finished(dir, s, t)).map((t) => t.index);
  if (!todo.length) { console.log(`every task of ${dir} has finished: simreg sweep --collect --out ${dir}`); return 0; }
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const script = join(dir, 'sweep.sbatch');
  writeTextAtomic(script, sbatchScript(dir, s));
  const sbatchArgs = ['--parsable', `--array=${ranges(todo)}`, ...passthrough, script];
  if (o['dry-run']) { console.log(`wrote ${script}\nsbatch ${sbatchArgs.map(shellQuote).join(' ')}`); return 0; }
  const r = spawnSync('sbatch', sbatchArgs, { encoding: 'utf8' });
  if (r.error) throw new UsageError(`could not run sbatch (${(r.error as Error).message}): is Slurm installed here? (--dry-run writes the script without submitting)`);
  if (r.status !== 0) { console.error(`simreg: sbatch refused the job (exit code ${r.status}): ${r.stderr.trim()}`); return 1; }
  const jobId = r.stdout.trim().split(';')[0]!;
  const rec = join(dir, 'slurm-jobs.jsonl');
  try { appendFileSync(rec, `${JSON.stringify({ job: jobId, tasks: todo, submitted: new Date().toISOString(), sbatch: sbatchArgs })}\n`); } catch (e) { throw fileError('append to', rec, e); }
  console.log(`submitted Slurm job ${jobId}: ${todo.length} of ${s.tasks.length} tasks (array ${ranges(todo)}); logs in ${join(dir, 'logs')}`);
  console.log(`when it has finished: simreg sweep --collect --out ${dir}`);
  return 0;
}

/** 0,1,2,5,7,8 -> "0-2,5,7-8". */
function ranges(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export const SWEEP_SUMMARY = 'A grid of independent runs (an ablation table): GRID.json names the command ("distill" or "pretrain"), shared "args", ' +
  'a "grid" of option values to cross and/or a list of "runs", and optionally "eval" (k-NN of each export). --local runs the unfinished tasks here, ' +
  '--slurm submits them as one Slurm array job (sbatch options after --), --collect gathers the table. A rerun or requeued task resumes from its checkpoint.';

/** The argument list split at `--`. */
export function splitPassthrough(argv: string[]): [string[], string[]] {
  const i = argv.indexOf('--');
  return i < 0 ? [argv, []] : [argv.slice(0, i), argv.slice(i + 1)];
}

