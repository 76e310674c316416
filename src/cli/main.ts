// simreg command line: pretrain | distill | eval | export | demo | bench | info.
import { spawnSync } from 'node:child_process';
import { workerData } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initGpu, destroyGpu, gpuContext, listAdapters } from '../gpu/device.js';
import { families, supports, adapterCaps } from '../gpu/variants.js';
import { tuning } from '../gpu/tuning.js';
import '../ops/index.js'; // every op family registers its variants when its module loads
import '../optim/index.js';
import { kernels } from '../gen/kernels.gen.js';
import { NonFiniteLossError } from '../train/trainer.js';
import { DeviceMemoryError } from '../gpu/pool.js';
import { NonFiniteWeightsError } from '../io/checkpoint.js';
import { RunDirError } from '../train/rundir.js';
import { parseArgs, helpText, UsageError, type OptSpec } from './options.js';
import { DATA_OPTS, PRETRAIN_SPECS, DISTILL_SPECS, runPretrain, runDistill, type ReplicaPayload } from './train_cmds.js';
import { Exchange, ReplicaError, replicaInit, reportReplica, type ReplicaInit } from '../train/replicas.js';
import { EVAL_OPTS, runEval, EXPORT_OPTS, runExport } from './eval_cmds.js';
import { DEMO_OPTS, runDemo } from './demo.js';
import { INSPECT_OPTS, CONVERT_OPTS, runInspect, runConvert } from './weights_cmds.js';
import { CACHE_OPTS, runCacheTeacher, SWEEP_OPTS, SWEEP_SUMMARY, runSweep, splitPassthrough } from './scale_cmds.js';

const USAGE = `usage: simreg <command> [options]     (simreg <command> --help for its options)

commands:
  pretrain  self-supervised MoCo-v2 pre-training; the result loads as a teacher
  distill   distil one or more frozen teachers into a student (SimReg) or with DisCo
  eval      k-NN (k = 1, 20) and linear-probe top-1 of weight files (and raw pixels)
  export    write the student backbone of a checkpoint as a safetensors weight file
  inspect   FILE: the tensors (name, dtype, shape) and the layout of a weight file (safetensors or .pth)
  convert   IN OUT.safetensors: a PyTorch checkpoint (.pth, .pth.tar, .pt) as torchvision-named safetensors
  cache-teacher  the teacher's features of a data set, or of one part of it (--shard I/N), or the parts merged
  sweep     GRID.json: a grid of runs, here one after another (--local) or as a Slurm array job (--slurm); --collect
  demo      the npm start job: distil the shipped Fashion-MNIST teacher and compare by k-NN
  bench     run a benchmark: resnet18 | kernels | data | knn | ablation | parallel (arguments pass through)
  info      list the WebGPU adapters found, and the one in use: limits, features, kernels, variant tables
  help      this text`;


/** Commands that take file arguments before their options. */
const FILE_COMMANDS: Record<string, { summary: string; args: string; opts: OptSpec[]; run: (args: string[], o: ReturnType<typeof parseArgs>) => Promise<number> }> = {
  inspect: {
    summary: 'List the tensors of a weight file (safetensors, or a torch.save checkpoint in either format) with dtypes and shapes, where in the file they are, and the detected layout (MoCo, SwAV, DINO, torchvision, ...). Nothing in the file is run: pickles go through an allow-list.',
    args: 'FILE', opts: INSPECT_OPTS, run: runInspect,
  },
  convert: {
    summary: 'Write the weights of a checkpoint as safetensors with torchvision names: the state dict and the prefix around the backbone are found (or given). With --arch they are checked against the model and the architecture is recorded, so the file works as --teacher alone.',
    args: 'IN OUT.safetensors', opts: CONVERT_OPTS, run: runConvert,
  },
};

const COMMANDS: Record<string, { summary: string; opts: OptSpec[]; run: (o: ReturnType<typeof parseArgs>) => Promise<number> }> = {
  pretrain: {
    summary: 'MoCo-v2 pre-training (two strong views, momentum key encoder, queue, InfoNCE). Writes <out>/teacher.safetensors with the backbone and its projection head.',
    opts: PRETRAIN_SPECS,
    run: async (o) => { await initGpu(); const r = await runPretrain(o); return r.result.stopped === 'done' ? 0 : 130; },
  },
  distill: {
    summary: 'Distil frozen teachers into a student: SimReg (prediction heads regress L2-normalised teacher features) or DisCo. Writes <out>/student.safetensors (backbone only).',
    opts: DISTILL_SPECS,
    run: async (o) => { await initGpu(); const r = await runDistill(o); return r.result.stopped === 'done' ? 0 : 130; },
  },
  eval: {
    summary: 'k-NN (L2-normalised pooled features, k = 1 and 20, majority vote) and optionally the linear probe, for each weight file side by side.',
    opts: [...EVAL_OPTS, ...DATA_OPTS],
    run: async (o) => { await initGpu(); await runEval(o); return 0; },
  },
  export: {
    summary: 'Export the student backbone of a training checkpoint (heads, key encoder and queue discarded) under torchvision names.',
    opts: EXPORT_OPTS,
    run: async (o) => { await runExport(o); return 0; },
  },
  'cache-teacher': {
    summary: 'Compute the teacher features distill --cache-teacher reads, for the whole training set or one part of it (--shard I/N, one process or Slurm array task each), then join the parts (--merge): the merged cache is identical to a one-process one.',
    opts: CACHE_OPTS,
    run: async (o) => { await initGpu(); return runCacheTeacher(o); },
  },
  demo: {
    summary: 'Distil the shipped MoCo-v2 Fashion-MNIST teacher into a smaller student with SimReg, train the same student with MoCo-v2 alone for as many steps, and print k-NN top-1 of raw pixels, teacher and both students.',
    opts: DEMO_OPTS,
    run: async (o) => { await initGpu(); await runDemo(o); return 0; },
  },
};

async function info(): Promise<void> {
  // Every adapter Dawn finds (SwiftShader too, where Debian's chromium package is installed); SIMREG_ADAPTER picks.
  const found = await listAdapters();
  await initGpu();
  const g = gpuContext();
  const i = g.info;
  console.log('adapters (SIMREG_ADAPTER=<name> picks one; * = in use):');
  for (const a of found) {
    const inUse = a.short === g.adapterName ? '*' : ' ';
    const sg = a.features.includes('subgroups') ? `subgroups ${a.subgroupMinSize}-${a.subgroupMaxSize}` : 'no subgroups';
    const compute = a.features.filter((f) => ['shader-f16', 'timestamp-query'].includes(f));
    console.log(`  ${inUse} ${a.short.padEnd(12)} ${a.name.padEnd(34)} ${a.backend.padEnd(7)} ${sg.padEnd(15)} ${compute.join(', ')}`);
  }
  if (!found.length) console.log('  (none listed)');
  console.log(`adapter:   ${g.adapterName}: ${i.vendor} ${i.device || i.description} (${i.architecture || 'n/a'})${i.description ? ` | driver: ${i.description}` : ''}`);
  console.log(`features:  ${[...g.features].sort().join(', ')}${g.subgroupMinSize ? ` | subgroup sizes ${g.subgroupMinSize}-${g.subgroupMaxSize}` : ''}`);
  const keys = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage', 'minUniformBufferOffsetAlignment'];
  console.log('limits:');
  for (const k of keys) console.log(`  ${k.padEnd(36)} ${g.limits[k]}`);
  console.log(`kernels:   ${Object.keys(kernels).length} reflected from kernels/**/*.wgsl`);
  console.log('variants (selection order on this adapter; x = cannot run here):');
  const caps = adapterCaps();
  for (const f of families()) {
    const list = f.order().map((v) => { const ok = supports(v as never, caps); return ok === true ? v.name : `x ${v.name} (${ok})`; });
    const rules = (tuning().prefer?.[f.name] ?? []).map((r) => `${r.variant} when ${Object.entries(r.when).map(([k, b]) => `${b.min ?? ''}${b.min !== undefined ? ' <= ' : ''}${k}${b.max !== undefined ? ` <= ${b.max}` : ''}`).join(', ')}`);
    console.log(`  ${f.name.padEnd(22)} ${list.join(', ')}${rules.length ? `  (first: ${rules.join('; ')})` : ''}`);
  }
}

function bench(args: string[]): number {
  const name = args[0];
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const known = ['resnet18', 'kernels', 'data', 'knn', 'ablation', 'parallel'];
  if (!name || name === '--help' || name === '-h') { console.log(`usage: simreg bench ${known.join('|')} [arguments of bench/<name>.mjs]`); return name ? 0 : 2; }
  if (!known.includes(name)) { console.error(`simreg bench: unknown benchmark '${name}' (${known.join(', ')})`); return 2; }
  const script = join(root, 'bench', `${name}.mjs`);
  if (!existsSync(script)) { console.error(`simreg bench: ${script} not found`); return 1; }
  return spawnSync(process.execPath, [script, ...args.slice(1)], { stdio: 'inherit' }).status ?? 1;
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? 'help';
  if (cmd === 'info') { await info(); return 0; }
  if (cmd === 'bench') return bench(argv.slice(1));
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') { console.log(USAGE); return 0; }
  if (cmd === 'sweep') {
    if (argv.includes('--help') || argv.includes('-h')) { console.log(helpText('sweep [GRID.json]', SWEEP_SUMMARY, SWEEP_OPTS) + '\n  -- OPTIONS          with --slurm: passed to sbatch (e.g. -- --partition=gpu --gres=gpu:1 --time=4:00:00)'); return 0; }
    const [mine, passthrough] = splitPassthrough(argv.slice(1));
    const firstOpt = mine.findIndex((a) => a.startsWith('--'));
    const files = firstOpt < 0 ? mine : mine.slice(0, firstOpt);
    return runSweep(files, parseArgs(cmd, firstOpt < 0 ? [] : mine.slice(firstOpt), SWEEP_OPTS), passthrough);
  }
  const fc = FILE_COMMANDS[cmd];
  if (fc) {
    if (argv.includes('--help') || argv.includes('-h')) { console.log(helpText(`${cmd} ${fc.args}`, fc.summary, fc.opts)); return 0; }
    const rest = argv.slice(1);
    const firstOpt = rest.findIndex((a) => a.startsWith('--'));
    const args = firstOpt < 0 ? rest : rest.slice(0, firstOpt);
    return fc.run(args, parseArgs(cmd, firstOpt < 0 ? [] : rest.slice(firstOpt), fc.opts));
  }
  const c = COMMANDS[cmd];
  if (!c) { console.error(`simreg: unknown command '${cmd}'\n\n${USAGE}`); return 2; }
  if (argv.includes('--help') || argv.includes('-h')) { console.log(helpText(cmd, c.summary, c.opts)); return 0; }
  return c.run(parseArgs(cmd, argv.slice(1), c.opts));
}

/** The exit code of a failure and the line that says it (2 usage, 3 non-finite, 4 memory, 1 anything else). */
function failure(e: Error): { code: number; text: string } {
  if (e instanceof ReplicaError) return { code: e.exitCode, text: e.message };
  if (e instanceof UsageError || (e instanceof RunDirError && e.usage)) return { code: 2, text: `simreg: ${e.message}` };
  if (e instanceof NonFiniteLossError || e instanceof NonFiniteWeightsError) return { code: 3, text: `\nsimreg: ${e.message}` };
  if (e instanceof DeviceMemoryError || /out of memory/i.test(e.message)) return { code: 4, text: `simreg: ${e.message}${/Use a smaller/.test(e.message) ? '' : '. Use a smaller --batch, --size or model.'}` };
  return { code: 1, text: `simreg: ${e.message}${process.env.SIMREG_DEBUG ? `\n${e.stack}` : ''}` };
}

/**
 * This thread is one replica of a data-parallel pretrain/distill (started by runReplicated in train_cmds): it
 * opens its own device, runs the command as replica `rank` and reports to the main thread. Only replica 0 prints.
 */
async function replicaMain(init: ReplicaInit): Promise<void> {
  const { kind, o, adapters } = init.payload as ReplicaPayload;
  if (init.rank !== 0) { const quiet = () => {}; console.log = quiet; console.error = quiet; console.warn = quiet; }
  if (adapters) process.env.SIMREG_ADAPTER = adapters[init.rank]!;
  try {
    await initGpu();
    const ex = new Exchange(init);
    const r = kind === 'pretrain' ? await runPretrain(o, {}, ex) : await runDistill(o, {}, ex);
    reportReplica({ result: { result: r.result, exported: r.exported } });
  } catch (e) {
    const f = failure(e as Error);
    reportReplica({ error: new Error(f.text), exitCode: f.code, cause: e as Error });
  } finally {
    try { destroyGpu(); } catch { /* not started */ }
  }
}

const replica = replicaInit(workerData);
if (replica) {
  void replicaMain(replica);
} else {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: Error) => {
    const f = failure(e);
    console.error(f.text);
    process.exitCode = f.code;
  }).finally(() => { try { destroyGpu(); } catch { /* not started */ } });
}
