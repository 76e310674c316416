// Runtime: device, buffer pool counters and deterministic release, Params packing from reflection,
// launch validation, grid folding past 65535 workgroups, NaN poisoning, tape bookkeeping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuContext } from '../../src/gpu/device.js';
import { pool, poolStats, sizeClass } from '../../src/gpu/pool.js';
import { stream, gridFor, workgroupSize, packParams } from '../../src/gpu/stream.js';
import { kernels } from '../../src/gen/kernels.gen.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { tidy, noGrad } from '../../src/autograd/scope.js';
import { backward } from '../../src/autograd/tape.js';
import * as ops from '../../src/ops/index.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { tuned, knob, resetTuning, tuningFile } from '../../src/gpu/tuning.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test.before(setupGpu);
test.after(teardownGpu);

test('device: adapter limits are the maximum the adapter offers', () => {
  const g = gpuContext();
  const adapterMax = (g.adapter.limits as unknown as Record<string, number>).maxStorageBufferBindingSize!;
  assert.is(g.limits.maxStorageBufferBindingSize, adapterMax);
  assert.ok(g.limits.maxComputeWorkgroupsPerDimension! >= 65535);
});

test('pool: size classes waste at most 25% and reuse released buffers', () => {
  for (const b of [1, 17, 256, 4097, 65536, 65537, 100000, 1 << 20, (1 << 20) + 1, 123456789]) {
    const c = sizeClass(b);
    assert.ok(c >= b, `class ${c} < ${b}`);
    assert.ok(b < 65536 ? c - b < 256 : c <= b * 1.25 + 1, `class ${c} wastes too much for ${b}`);
  }
  const before = poolStats();
  const t = Tensor.empty([1000]);
  const mid = poolStats();
  assert.is(mid.buffersInUse, before.buffersInUse + 1);
  t.dispose();
  const t2 = Tensor.empty([1001]);
  const after = poolStats();
  assert.is(after.reuses, mid.reuses + 1, 'same size class should be served from the free list');
  assert.is(after.allocations, mid.allocations);
  t2.dispose();
  assert.is(poolStats().buffersInUse, before.buffersInUse);
});

test('Params are packed at the reflected offsets, and bad fields are named', () => {
  const spec = kernels.add_scaled;
  const view = new DataView(new ArrayBuffer(spec.params.size));
  packParams(spec, { n4: 7, alpha: 1.5, beta: -2, gamma: 0.25 }, view, 0);
  assert.is(view.getUint32(spec.params.fields.n4[0], true), 7);
  assert.is(view.getFloat32(spec.params.fields.beta[0], true), -2);
  assert.throws(() => packParams(spec, { n4: 7, alpha: 1, beta: 1 }, view, 0), /add_scaled: Params.gamma not given/);
  assert.throws(() => packParams(spec, { n4: 7, alpha: 1, beta: 1, gamma: 0, oops: 1 }, view, 0), /add_scaled: Params has no field oops/);
  assert.throws(() => packParams(spec, { n4: -1, alpha: 1, beta: 1, gamma: 0 }, view, 0), /Params.n4 = -1 is not a u32/);
});

test('dispatch takes named bindings and validates names, grid size and overrides', () => {
  const t = Tensor.empty([4]);
  // The bindings are typed from the reflected spec; these casts are what a caller outside TypeScript could pass.
  assert.throws(() => stream.dispatch('relu_fwd', { params: { n4: 1 }, bind: { x: t } as never, grid: [1, 1, 1] }), /relu_fwd: binding y not given \(needs x, y\)/);
  assert.throws(() => stream.dispatch('relu_fwd', { params: { n4: 1 }, bind: { x: t, y: t, z: t } as never, grid: [1, 1, 1] }), /relu_fwd: no binding named z \(has x, y\)/);
  assert.throws(() => stream.dispatch('fill', { params: { n4: 1, value: 0 }, bind: { y: t }, grid: [70000, 1, 1] }), /grid .* out of range/);
  assert.throws(() => stream.dispatch('fill', { params: { n4: 1, value: 0 }, bind: { y: t }, grid: [1, 1, 1], overrides: { NOPE: 3 } }), /fill: unknown override NOPE/);
  t.dispose();
});

test('workgroup sizes are read from the overrides in force', () => {
  assert.equal(workgroupSize('fill'), [256, 1, 1]);
  assert.equal(workgroupSize('fill', { WG: 64 }), [64, 1, 1]);
  assert.equal(workgroupSize('gemm_tiled', { WGX: 4, WGY: 2 }), [4, 2, 1]);
  assert.equal(workgroupSize('reduce_sum'), [64, 1, 1]);
  assert.equal(gridFor('fill', 1000, { WG: 64 }), [16, 1, 1]);
});

test('1-D launches past 65535 workgroups fold into y and reach every element', async () => {
  // fill with 64-invocation workgroups over 4.2M vec4s: 65537 workgroups, folded into [65535, 2, 1].
  const n4 = 65535 * 64 + 100, n = 4 * n4;
  const grid = gridFor('fill', n4, { WG: 64 });
  assert.equal(grid, [65535, 2, 1]);
  const t = Tensor.empty([n]);
  stream.dispatch('fill', { params: { n4, value: 2.5 }, bind: { y: t }, grid, overrides: { WG: 64 } });
  const h = await t.read();
  for (const i of [0, n - 1, 65535 * 64 * 4, 65535 * 64 * 4 + 3, n - 5]) assert.is(h[i], 2.5, `element ${i}`);
  t.dispose();
});

test('elementwise kernels take sizes that are not multiples of 4 (the last vec4 runs into the padding)', async () => {
  for (const n of [1, 2, 3, 5, 7, 1023]) {
    const x = Tensor.fromArray(Float32Array.from({ length: n }, (_, i) => i - n / 2), [n]);
    const y = ops.relu(x);
    const h = await y.read();
    for (let i = 0; i < n; i++) assert.is(h[i], Math.max(0, i - n / 2), `relu n=${n} element ${i}`);
    x.dispose(); y.dispose();
  }
});

test('new uninitialised tensors are NaN under test poisoning', async () => {
  const t = Tensor.empty([5]);
  const h = await t.read();
  assert.ok(h.every((v) => Number.isNaN(v)));
  t.dispose();
});

test('tidy disposes intermediates; backward frees the tape; nothing leaks across steps', async () => {
  const w = Tensor.fromArray(new Float32Array(64).fill(0.5), [8, 8]);
  w.requiresGrad = true;
  const x = Tensor.fromArray(Float32Array.from({ length: 64 }, (_, i) => (i % 7) - 3), [8, 8]);
  const step = async () => {
    const loss = tidy(() => ops.mean(ops.relu(ops.mul(ops.add(x, w), w))));
    backward(loss);
    const v = await loss.item();
    loss.dispose();
    w.zeroGrad();
    return v;
  };
  await step();
  const base = poolStats().buffersInUse;
  for (let i = 0; i < 3; i++) await step();
  assert.is(poolStats().buffersInUse, base, 'buffers in use must return to the same count after each step');
  w.dispose(); x.dispose();
});

test('gradients accumulate into leaves, and a freed graph cannot be replayed', async () => {
  const a = Tensor.fromArray([1, 2, 3], [3]);
  a.requiresGrad = true;
  const l1 = ops.sum(ops.mul(a, a));
  backward(l1);
  assert.throws(() => backward(l1), /already freed/);
  const l2 = ops.sum(ops.scale(a, 3));
  backward(l2);
  const g = await a.grad!.read();
  assert.equal(Array.from(g), [2 + 3, 4 + 3, 6 + 3]);
  const nog = noGrad(() => ops.mul(a, a));
  assert.is(nog.requiresGrad, false);
  assert.throws(() => backward(nog), /does not require grad/);
  const used = ops.relu(a);
  used.dispose();
  assert.throws(() => ops.relu(used), /disposed/);
  for (const t of [a, l1, l2, nog]) t.dispose();
});

test("backward(root, dy) leaves the caller's dy intact; a tensor used twice gets both gradients", async () => {
  const a = Tensor.fromArray([1, 2], [2]); a.requiresGrad = true;
  const b = Tensor.fromArray([3, 4], [2]); b.requiresGrad = true;
  const y = ops.add(ops.add(a, b), a);
  const dy = Tensor.fromArray([1, 10], [2]);
  backward(y, dy);
  assert.equal(Array.from(await dy.read()), [1, 10]);
  assert.equal(Array.from(await a.grad!.read()), [2, 20]);
  assert.equal(Array.from(await b.grad!.read()), [1, 10]);
  const c = Tensor.fromArray([5], [1]); c.requiresGrad = true;
  const z = ops.add(c, c);
  backward(ops.sum(z));
  assert.equal(Array.from(await c.grad!.read()), [2]);
  for (const t of [a, b, y, dy, c, z]) t.dispose();
});

test('tuning: a sweep file overrides the measured defaults; a broken one is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simreg-tune-'));
  const file = join(dir, 't.json');
  const defaultWg = tuned('gemm_sg_v4').WG;
  writeFileSync(file, JSON.stringify({ overrides: { gemm_sg_v4: { WG: 16 } }, knobs: { 'conv2d_bwd_weight.nsplit': 4 } }));
  process.env.SIMREG_TUNING = file;
  resetTuning();
  try {
    assert.is(tuningFile(), file);
    assert.is(tuned('gemm_sg_v4').WG, 16);
    assert.is(knob('conv2d_bwd_weight.nsplit', 1), 4);
    writeFileSync(file, '{ not json');
    resetTuning();
    assert.throws(() => tuned('gemm_sg_v4'), /tuning file .*t\.json is not valid JSON/);
  } finally {
    delete process.env.SIMREG_TUNING;
    resetTuning();
  }
  assert.is(tuned('gemm_sg_v4').WG, defaultWg);
});

test('pool reports peak bytes and trims free buffers', () => {
  pool.resetPeaks();
  const big = Tensor.empty([1 << 20]);
  assert.ok(poolStats().peakBytesInUse >= 4 << 20);
  big.dispose();
  const freed = pool.trim();
  assert.ok(freed >= 4 << 20);
});

test.run();
