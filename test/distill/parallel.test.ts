// Data-parallel training over two devices of this machine's adapter (one worker thread each):
// - without BatchNorm, two replicas' averaged gradient is the one-device gradient of the concatenated batch;
// - with BatchNorm (SimReg, MoCo-v2, DisCo), every replica's parameters and buffers hash the same after every step;
// - a SIGINT to a two-device run writes a checkpoint, and --resume continues it bit for bit;
// - resuming with another device count is refused (the checkpoint untouched), and the checkpoint loads on one;
// - bad --devices values and a replica's failure (a non-finite loss) end the run with the right exit code.
// This file is also the replicas' script for the first test: run as a worker, it trains its replica instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { workerData } from 'node:worker_threads';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { initGpu, destroyGpu } from '../../src/gpu/device.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { MLPHead } from '../../src/nn/heads.js';
import { crossEntropy } from '../../src/ops/index.js';
import { ArrayDataset, DataLoader, makePipeline } from '../../src/data/index.js';
import { train, type Method, type TrainConfig } from '../../src/train/trainer.js';
import { Exchange, replicaInit, reportReplica, runReplicas, type ReplicaInit } from '../../src/train/replicas.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { bytes } from '../helpers/data_fixtures.js';

// ---- the BatchNorm-free model both sides train: a two-layer MLP on 4x4 images, cross-entropy on 10 classes
const data = () => new ArrayDataset({ name: 'noise', pixels: bytes(64 * 16, 7), labels: Int32Array.from({ length: 64 }, (_, i) => (i * 7) % 10), width: 4, height: 4, channels: 1, numClasses: 10 });
const pipeline = makePipeline('eval', { size: 4, channels: 1, mean: [0.5], std: [0.25] });
function mlpMethod(fail?: () => boolean): Method {
  const head = new MLPHead(16, [{ out: 24, relu: true }, { out: 10 }], 11);
  return {
    name: 'mlp', modules: [['head', head]], trainable: () => head.namedParameters(), extraTensors: () => [], hostState: () => ({}), loadHostState: () => {},
    loss: (b, step) => {
      if (fail?.() && step === 1) throw new Error(`replica failure injected at step ${step}`);
      return { loss: crossEntropy(head.forward(Tensor.fromArray(b.images[0]!, [b.size, 16])), b.labels) };
    },
    afterStep: () => {},
  };
}
interface MlpJob { out: string; cfg: TrainConfig; failRank?: number; bucketBytes?: number }
async function trainMlp(job: MlpJob, replica?: Exchange): Promise<void> {
  const loader = new DataLoader(data(), { batchSize: job.cfg.batchSize, pipeline, views: 'single', shuffle: true, seed: 5, dropLast: true, ...(replica ? { shard: { index: replica.rank, count: replica.world } } : {}) });
  try {
    await train(mlpMethod(() => replica !== undefined && replica.rank === job.failRank), loader, job.cfg, { outDir: job.out, runConfig: { test: 'mlp' }, quiet: true, replica, bucketBytes: job.bucketBytes });
  } finally { await loader.close(); }
}

const init: ReplicaInit | null = replicaInit(workerData);
if (init) {
  // A replica of the first test.
  (async () => {
    try {
      await initGpu();
      await trainMlp(init.payload as MlpJob, new Exchange(init));
      reportReplica({ result: null });
    } catch (e) {
      reportReplica({ error: e as Error, exitCode: 1 });
    } finally { destroyGpu(); }
  })();
} else {
  runTests();
}

function runTests(): void {
  const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
  const cli = join(root, 'dist', 'cli.js');
  const dir = mkdtempSync(join(tmpdir(), 'simreg-parallel-'));
  const TEACHER = join(root, 'assets', 'fmnist-moco-resnet18x0.25.safetensors');
  const SMALL = ['--preset', 'fmnist', '--size', '16', '--train-subset', '400', '--width', '0.125', '--batch', '16', '--quiet'];
  const simreg = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', cwd: dir });
  type Rec = { step: number; loss: number; replicaHashes?: number[] };
  const log = (out: string): Rec[] => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);

  test.before(async () => { await setupGpu(); });
  test.after(async () => { await teardownGpu(); rmSync(dir, { recursive: true, force: true }); });

  test('no BatchNorm: two replicas\' averaged gradient is the one-device gradient of the concatenated batch', async () => {
    // One step of plain SGD (lr 1, no momentum, no decay): the weights move by exactly the gradient. Then three
    // steps with momentum and decay: the trajectories stay together.
    for (const [tag, cfg] of [
      ['grad', { steps: 1, batchSize: 16, lr: 1, momentum: 0, weightDecay: 0, warmupSteps: 0, cosinePerEpoch: false, checkpointEvery: 0, seed: 0 }],
      ['run', { steps: 3, batchSize: 16, lr: 0.2, momentum: 0.9, weightDecay: 1e-3, warmupSteps: 0, cosinePerEpoch: false, checkpointEvery: 0, seed: 0 }],
    ] as const) {
      const two = join(dir, `mlp-${tag}-2`), one = join(dir, `mlp-${tag}-1`);
      mkdirSync(two); mkdirSync(one);
      await runReplicas(new URL(import.meta.url), 2, { out: two, cfg } satisfies MlpJob);
      await trainMlp({ out: one, cfg });
      const a = (await loadCheckpoint(join(two, 'checkpoint.safetensors'))).model, b = (await loadCheckpoint(join(one, 'checkpoint.safetensors'))).model;
      const init0 = mlpMethod().modules[0]![1];
      const start = new Map((await init0.stateDict()).entries());
      assert.equal([...a.keys()].sort(), [...b.keys()].sort());
      let moved = 0;
      for (const [k, e] of b) {
        const x = a.get(k)!.data, y = e.data, s = start.get(k.replace(/^head\./, ''))!.data;
        for (let i = 0; i < y.length; i++) {
          // Float32 sums over 8 + 8 rows and over 16 rows round differently: a few ulps of values below 1.
          assert.ok(Math.abs(x[i]! - y[i]!) <= 2e-6, `${tag}: ${k}[${i}]: two devices ${x[i]}, one device ${y[i]}`);
          moved = Math.max(moved, Math.abs(y[i]! - s[i]!));
        }
      }
      assert.ok(moved > 1e-3, `${tag}: the weights barely moved (${moved}): the comparison would say nothing`);
      const la = log(two), lb = log(one);
      assert.is(la.length, cfg.steps);
      la.forEach((r, i) => assert.ok(Math.abs(r.loss - lb[i]!.loss) <= 1e-6 * Math.max(1, lb[i]!.loss), `${tag}: loss at step ${r.step}: ${r.loss} vs ${lb[i]!.loss}`));
    }
  });

  test('gradients sent in buckets during the backward pass average to the same bits as one exchange after it', async () => {
    const cfg = { steps: 3, batchSize: 16, lr: 0.2, momentum: 0.9, weightDecay: 1e-3, warmupSteps: 0, cosinePerEpoch: false, checkpointEvery: 0, seed: 0 };
    const whole = join(dir, 'mlp-whole'), buckets = join(dir, 'mlp-buckets');
    mkdirSync(whole); mkdirSync(buckets);
    await runReplicas(new URL(import.meta.url), 2, { out: whole, cfg, bucketBytes: 0 } satisfies MlpJob);
    // 4 bytes: every parameter tensor of the MLP ends a bucket of its own (4 buckets, the last with the loss).
    await runReplicas(new URL(import.meta.url), 2, { out: buckets, cfg, bucketBytes: 4 } satisfies MlpJob);
    const nb = (out: string) => log(out).map((r) => (r as Rec & { exchangeBuckets: number }).exchangeBuckets);
    assert.equal(nb(whole), [1, 1, 1]);
    // The first step learns the order in which the backward pass finishes the gradients; later steps follow it.
    assert.equal(nb(buckets), [1, 4, 4]);
    assert.ok(readFileSync(join(whole, 'checkpoint.safetensors')).equals(readFileSync(join(buckets, 'checkpoint.safetensors'))), 'the bucketed run\'s checkpoint differs');
    assert.equal(log(whole).map((r) => r.loss), log(buckets).map((r) => r.loss));
  });

  test('one replica failing stops the others: the error is its own, and no replica waits forever', async () => {
    const out = join(dir, 'mlp-fail');
    mkdirSync(out);
    const cfg = { steps: 4, batchSize: 16, lr: 0.1, momentum: 0, weightDecay: 0, warmupSteps: 0, cosinePerEpoch: false, checkpointEvery: 0, seed: 0 };
    let msg = '';
    const t0 = Date.now();
    try { await runReplicas(new URL(import.meta.url), 2, { out, cfg, failRank: 1 } satisfies MlpJob); } catch (e) { msg = (e as Error).message; }
    assert.match(msg, /replica failure injected at step 1/);
    assert.ok(Date.now() - t0 < 60_000, 'the failure took a minute to surface');
    // Replica 0 went no further than the step both finished (its record is still pending when the run stops).
    assert.ok(log(out).every((r) => r.step <= 1), `replica 0 went on alone: ${JSON.stringify(log(out))}`);
    assert.not.ok(existsSync(join(out, 'checkpoint.safetensors')), 'a checkpoint was written by a failed run');
  });

  const sameHashes = (out: string, steps: number) => {
    const recs = log(out);
    assert.is(recs.length, steps);
    for (const r of recs) {
      assert.ok(r.replicaHashes && r.replicaHashes.length === 2, `step ${r.step}: no replica hashes`);
      assert.is(r.replicaHashes![0], r.replicaHashes![1], `step ${r.step}: replicas differ`);
    }
    assert.is(new Set(recs.map((r) => r.replicaHashes![0])).size, steps, 'the weights did not change from step to step');
  };

  test('with BatchNorm: SimReg, MoCo-v2 and DisCo replicas stay bit-identical after every step', () => {
    const runs: [string, string[]][] = [
      ['simreg', ['distill', '--teacher', TEACHER, '--workers', '1']],
      ['moco', ['pretrain', '--queue', '64', '--workers', '0', '--bucket-mb', '0.01']],
      ['disco', ['distill', '--method', 'disco', '--teacher', TEACHER, '--queue', '64', '--workers', '0']],
    ];
    for (const [name, args] of runs) {
      const out = join(dir, `bn-${name}`);
      const r = simreg(...args, ...SMALL, '--steps', '3', '--devices', '2', '--check-replicas', '--out', out);
      assert.is(r.status, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, /data-parallel: 2 replicas, 8 images each per step/);
      sameHashes(out, 3);
      if (name === 'moco') {
        const nb = log(out).map((r) => (r as Rec & { exchangeBuckets: number }).exchangeBuckets);
        assert.ok(nb[0] === 1 && nb.slice(1).every((n) => n > 1), `MoCo with 10 KiB buckets: ${nb.join(', ')} buckets per step`);
      }
      const ck = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { devices?: number };
      assert.is(ck.devices, 2, `${name}: the device count is not recorded`);
    }
  });

  test('SIGINT to a two-device MoCo run writes a checkpoint; --resume continues bit for bit', async () => {
    const args = ['pretrain', ...SMALL, '--queue', '64', '--workers', '1', '--steps', '10', '--devices', '2', '--bucket-mb', '0.05'];
    const straight = join(dir, 'sig-straight'), cut = join(dir, 'sig-cut');
    let r = simreg(...args, '--out', straight);
    assert.is(r.status, 0, r.stderr);
    const child = spawn(process.execPath, [cli, ...args, '--out', cut], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += String(d); });
    const code = await new Promise<number | null>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(cut, 'log.jsonl')) && readFileSync(join(cut, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length >= 2) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 20);
      child.on('exit', (c) => { clearInterval(poll); resolve(c); });
    });
    assert.is(code, 130, err);
    const at = (await loadCheckpoint(join(cut, 'checkpoint.safetensors'))).step;
    assert.ok(at >= 2 && at < 10, `the interrupted run's checkpoint is at step ${at}`);
    r = simreg(...args, '--out', cut, '--resume');
    assert.is(r.status, 0, r.stderr);
    assert.equal(log(cut).map((x) => x.loss), log(straight).map((x) => x.loss), 'the resumed losses differ from the uninterrupted run');
    const a = await loadCheckpoint(join(cut, 'checkpoint.safetensors')), b = await loadCheckpoint(join(straight, 'checkpoint.safetensors'));
    assert.is(a.step, 10);
    for (const [k, e] of b.model) assert.equal(Array.from(a.model.get(k)!.data), Array.from(e.data), `${k} differs after the resume`);
    for (const [k, e] of b.optimizer ?? []) assert.equal(Array.from(a.optimizer!.get(k)!.data), Array.from(e.data), `optimizer ${k} differs after the resume`);
  });

  test('resuming on another number of devices is refused and changes nothing; the checkpoint exports on one device', () => {
    const out = join(dir, 'sig-straight');
    const ckpt = join(out, 'checkpoint.safetensors');
    const before = readFileSync(ckpt);
    const r = simreg('pretrain', ...SMALL, '--queue', '64', '--workers', '1', '--steps', '12', '--out', out, '--resume');
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /trained on 2 device\(s\), this run has 1.*resume with --devices 2/);
    assert.ok(readFileSync(ckpt).equals(before), 'the refused resume touched the checkpoint');
    const e = simreg('export', '--checkpoint', ckpt, '--out', join(dir, 'exported.safetensors'));
    assert.is(e.status, 0, e.stderr);
    assert.ok(existsSync(join(dir, 'exported.safetensors')));
  });

  test('bad --devices values are option errors; a replica\'s non-finite loss stops every replica with exit 3', () => {
    for (const [v, msg] of [['x', /positive whole number or all/], ['0', /positive whole number or all/], ['3', /does not split into 3 equal slices/]] as const) {
      const r = simreg('distill', '--teacher', TEACHER, ...SMALL, '--steps', '2', '--devices', v, '--out', join(dir, `bad-${v}`));
      assert.is(r.status, 2, `--devices ${v}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    // No GPU adapter on the CI machines: `all` is one device, and says so.
    const all = simreg('distill', '--teacher', TEACHER, ...SMALL, '--steps', '1', '--devices', 'all', '--out', join(dir, 'all'));
    assert.is(all.status, 0, all.stderr);
    assert.match(all.stdout, /--devices all: (no GPU adapter found .*; one device|\d+ GPU adapter\(s\): )/);
    const out = join(dir, 'nan');
    const r = simreg('distill', '--teacher', TEACHER, ...SMALL, '--steps', '5', '--devices', '2', '--lr', '1e30', '--out', out);
    assert.is(r.status, 3, r.stderr);
    assert.match(r.stderr, /the loss became NaN at step \d/);
    assert.not.ok(existsSync(join(out, 'checkpoint.safetensors')), 'a checkpoint was written after the loss became non-finite');
  });

  test.run();
}
