// Device memory stays flat while training: over 200 steps of SimReg, MoCo-v2 and DisCo the pool's bytes in use
// return to the same value after every step (a graph that is recorded and then dropped without backward() must
// free its saved tensors, not wait for the garbage collector), and a forward pass with gradients on whose
// result is disposed unused frees everything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { Encoder, saveEncoder } from '../../src/distill/models.js';
import { parseArgs } from '../../src/cli/options.js';
import { DISTILL_SPECS, PRETRAIN_SPECS, runDistill, runPretrain } from '../../src/cli/train_cmds.js';
import { poolStats } from '../../src/gpu/pool.js';
import { stream } from '../../src/gpu/stream.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { tidy } from '../../src/autograd/scope.js';
import { createModel } from '../../src/nn/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'simreg-mem-'));
const teacherFile = join(dir, 'teacher.safetensors');
const small = ['--data', 'fashion-mnist', '--size', '16', '--workers', '0', '--quiet', '--seed', '1', '--train-subset', '64', '--batch', '8', '--ckpt-every', '0'];
const student = ['--arch', 'resnet18', '--width', '0.0625', '--small-stem'];

test.before(async () => {
  await setupGpu();
  const t = new Encoder({ arch: 'resnet18', smallStem: true, inChannels: 1, widthMultiplier: 0.125 }, { hidden: 16, out: 8 }, 5);
  await saveEncoder(teacherFile, t, { withHead: true });
  t.dispose();
});
test.after(() => { teardownGpu(); rmSync(dir, { recursive: true, force: true }); });

/** Bytes in use after each step, from step `from` on. */
function recorder(from: number): { onStep: (s: number) => void; seen: Map<number, number> } {
  const seen = new Map<number, number>();
  return { seen, onStep: (s: number) => { if (s >= from) seen.set(s, poolStats().bytesInUse); } };
}

for (const [name, cmd, extra] of [
  ['SimReg', 'distill', ['--teacher', teacherFile, '--method', 'simreg']],
  ['MoCo-v2', 'pretrain', ['--queue', '64', '--dim', '8']],
  ['DisCo', 'distill', ['--teacher', teacherFile, '--method', 'disco', '--queue', '64', '--dim', '8', '--hidden', '32']],
] as const) {
  test(`${name}: pool bytes in use are the same after every one of 200 steps`, async () => {
    const rec = recorder(5);
    const args = [...extra, ...student, ...small, '--steps', '200', '--lr', '0.01', '--out', join(dir, name)];
    const o = parseArgs(cmd, args, cmd === 'distill' ? DISTILL_SPECS : PRETRAIN_SPECS);
    const r = cmd === 'distill' ? await runDistill(o, { onStep: rec.onStep }) : await runPretrain(o, { onStep: rec.onStep });
    if ('teachers' in r) for (const t of (r as Awaited<ReturnType<typeof runDistill>>).teachers) t.encoder.dispose();
    const values = [...rec.seen.values()];
    assert.is(values.length, 196);
    // The only thing that may differ between steps is whether the next step's 256-byte loss read is still in
    // flight when the callback runs (the loss is read one step late); a leak would grow step after step.
    const first = values[0]!;
    const spread = Math.max(...values) - Math.min(...values);
    assert.ok(spread <= 256, `${name}: bytes in use moved by ${spread} over 200 steps (step 5: ${first}, step 200: ${values[values.length - 1]})`);
    assert.ok(Math.max(...values.slice(-20)) <= Math.max(...values.slice(0, 20)), `${name}: bytes in use grew over the run`);
  });
}

test('a forward pass recorded with gradients on and then disposed unused frees its saved tensors', async () => {
  const m = createModel('resnet18', { widthMultiplier: 0.0625, smallStem: true, inChannels: 1, numClasses: 4 });
  const x = Tensor.fromArray(new Float32Array(4 * 16 * 16).fill(0.5), [4, 1, 16, 16]);
  await stream.sync();
  const before = poolStats().bytesInUse;
  for (let i = 0; i < 3; i++) {
    const y = tidy(() => m.forward(x)); // parameters require grad: the whole graph is recorded
    assert.ok(y.node, 'the output carries its graph');
    y.dispose();                         // never passed to backward()
  }
  await stream.sync();
  assert.is(poolStats().bytesInUse, before, 'the graphs of disposed outputs were not freed');
  x.dispose();
  m.dispose();
});

test.run();
