// Variant selection reads the adapter: a variant is never chosen where its declared requirements fail
// (missing feature, subgroups narrower than it is correct for, limits, workgroup size), whatever the tuning
// order says; forcing one names why it cannot run. Checked with made-up adapters, plus the real one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Family, supports, adapterCaps, lastVariant, variantCounts, type AdapterCaps, type Variant } from '../../src/gpu/variants.js';
import { gemmFamily, gemmGeom, laneGroup } from '../../src/ops/gemm.js';
import { convFwdFamily, convDataFamily, convWeightFamily } from '../../src/ops/conv2d.js';
import { setTuning, tuned, tuning } from '../../src/gpu/tuning.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';

test.before(setupGpu);
test.after(teardownGpu);

const limits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupSizeZ: 64, maxComputeWorkgroupStorageSize: 16384 };
const caps = (name: string, features: string[], sgMin: number, sgMax: number, more: Record<string, number> = {}): AdapterCaps =>
  ({ name, features: new Set(features), subgroupMinSize: sgMin, subgroupMaxSize: sgMax, limits: { ...limits, ...more } });
const noSubgroups = caps('no-subgroups', [], 0, 0);
const quad = caps('quad-lanes', ['subgroups'], 4, 4);
const wide = caps('wide', ['subgroups', 'shader-f16'], 32, 64);
const aligned = gemmGeom({ a: null!, b: null!, c: null!, m: 64, n: 64, k: 64 });

test('an adapter without subgroups gets the portable GEMMs: workgroup-memory tiles where its limits allow, else registers only', () => {
  const t = tuning();
  const order = t.variants!.gemm;
  t.variants!.gemm = ['sg_v4', 'sg', 'wgtile', 'tiled'];   // the declared order (lavapipe's table puts tiled first)
  try {
    assert.is(gemmFamily.choose(aligned, noSubgroups).name, 'wgtile');
    const small = caps('small-shared', [], 0, 0, { maxComputeWorkgroupStorageSize: 4096 });
    assert.match(String(supports(gemmFamily.variant('wgtile') as never, small)), /maxComputeWorkgroupStorageSize/);
    assert.is(gemmFamily.choose(aligned, small).name, 'tiled');
  } finally {
    if (order) t.variants!.gemm = order; else delete t.variants!.gemm;
  }
  const why = supports(gemmFamily.variant('sg_v4') as never, noSubgroups);
  assert.match(String(why), /needs the subgroups feature, which no-subgroups does not offer/);
  gemmFamily.force('sg');
  try {
    assert.throws(() => gemmFamily.choose(aligned, noSubgroups), /gemm\/sg was forced but cannot run on this adapter: needs the subgroups feature/);
  } finally {
    gemmFamily.force(null);
  }
});

test('the subgroup kernels are correct for 4-lane subgroups: lane groups follow subgroupMinSize', () => {
  assert.is(gemmFamily.choose(aligned, quad).name, 'sg_v4');
  assert.is(laneGroup(quad), 4);
  assert.is(laneGroup(wide), 8);
  assert.equal(gemmFamily.overridesFor(gemmFamily.variant('sg_v4'), aligned, quad).SG, 4);
  assert.equal(gemmFamily.overridesFor(gemmFamily.variant('sg_v4'), aligned, wide).SG, 8);
});

test('declared subgroup sizes, limits and features exclude a variant; the next one runs', () => {
  const mk = (name: string, requires: Variant<number, null>['requires']): Variant<number, null> =>
    ({ name, kernels: ['gemm_sg'], requires, fits: () => true, grid: () => [1, 1, 1], run: () => {} });
  const fam = new Family<number, null>('test.requirements', [
    mk('needs8', { subgroupSize: { min: 8 } }),
    mk('atMost16', { subgroupSize: { max: 16 } }),
    mk('bigShared', { limits: { maxComputeWorkgroupStorageSize: 32768 } }),
    mk('f16', { features: ['shader-f16'] }),
    { name: 'plain', kernels: ['gemm_tiled'], fits: () => true, grid: () => [1, 1, 1], run: () => {} },
  ]);
  assert.is(fam.choose(0, quad).name, 'atMost16');           // 4 lanes: not needs8
  assert.is(fam.choose(0, wide).name, 'needs8');             // 32-64 lanes: needs8 is fine
  assert.match(String(supports(fam.variant('needs8') as never, quad)), /subgroups of >= 8 lanes; quad-lanes may use 4/);
  assert.match(String(supports(fam.variant('atMost16') as never, wide)), /subgroups of <= 16 lanes; wide may use 64/);
  assert.match(String(supports(fam.variant('bigShared') as never, quad)), /maxComputeWorkgroupStorageSize >= 32768; quad-lanes has 16384/);
  assert.match(String(supports(fam.variant('f16') as never, quad)), /needs the shader-f16 feature/);
  assert.is(fam.choose(0, noSubgroups).name, 'plain');
  // The tuning order comes first, but never over the requirements.
  tuning().variants!['test.requirements'] = ['f16', 'needs8'];
  try {
    assert.is(fam.choose(0, wide).name, 'f16');
    assert.is(fam.choose(0, quad).name, 'atMost16');
  } finally {
    delete tuning().variants!['test.requirements'];
  }
});

test('a workgroup larger than the adapter allows rules the variant out', () => {
  const saved = { ...tuned('gemm_tiled') };
  setTuning('gemm_tiled', { WGX: 32, WGY: 16 });          // 512 invocations
  try {
    assert.match(String(supports(gemmFamily.variant('tiled') as never, noSubgroups)), /kernel gemm_tiled runs 512 invocations per workgroup; no-subgroups allows 256/);
    const tiny = caps('no-subgroups-small-shared', [], 0, 0, { maxComputeWorkgroupStorageSize: 4096 });
    let msg = '';
    try { gemmFamily.choose(aligned, tiny); } catch (e) { msg = (e as Error).message; }
    assert.match(msg, /^gemm: no variant runs 64x64x64 on no-subgroups-small-shared:/);
    for (const why of [/sg_v4: needs the subgroups feature/, /wgtile: needs maxComputeWorkgroupStorageSize/, /tiled: kernel gemm_tiled runs 512 invocations/]) assert.match(msg, why);
  } finally {
    tuning().overrides.gemm_tiled = saved;
  }
});

test('on this adapter every GEMM and conv2d variant can run (both CI adapters have subgroups of >= 4 lanes)', () => {
  const here = adapterCaps();
  for (const fam of [gemmFamily, convFwdFamily, convDataFamily, convWeightFamily]) {
    for (const v of fam.variants) assert.is(supports(v as never, here), true, `${fam.name}/${v.name} on ${here.name}`);
  }
});

test('the log names the variant that ran and counts each', async () => {
  const { Tensor } = await import('../../src/autograd/tensor.js');
  const { gemm } = await import('../../src/ops/gemm.js');
  const before = variantCounts()['gemm/sg'] ?? 0;
  const a = Tensor.empty([3, 5]), b = Tensor.empty([5, 7]), c = Tensor.empty([3, 7]);
  gemm({ a, b, c, m: 3, n: 7, k: 5 });
  assert.is(lastVariant('gemm'), 'sg');
  assert.is(variantCounts()['gemm/sg'], before + 1);
  for (const t of [a, b, c]) t.dispose();
});

test.run();
