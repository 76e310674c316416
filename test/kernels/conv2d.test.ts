// conv2d variants: every variant of the forward, input-gradient and weight-gradient families, forced in turn,
// against the float64 twin on every case it fits (odd shapes, batch 1, strides, groups, depthwise), outputs
// NaN-poisoned; each case asserts the variant that ran and every variant must fit at least one case.
// Gradients through the op (with bias) against finite differences: test/ops/conv2d_grad.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { conv2dRaw, convGeometry, convFwdFamily, convDataFamily, convWeightFamily, type ConvGeom } from '../../src/ops/conv2d.js';
import { lastVariant, supports, adapterCaps, type Family } from '../../src/gpu/variants.js';
import { knob, setKnob, setPrefer, tuning } from '../../src/gpu/tuning.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(5);
const randn = (n: number) => rng.fillNormal(new Float64Array(n));

test.before(setupGpu);
test.after(teardownGpu);

interface C { n: number; c: number; h: number; w: number; k: number; kh: number; kw?: number; s: number; p: number; g?: number }
const cases: C[] = [
  { n: 1, c: 1, h: 1, w: 1, k: 1, kh: 1, s: 1, p: 0 },
  { n: 2, c: 3, h: 7, w: 5, k: 4, kh: 1, s: 1, p: 0 },          // 1x1
  { n: 1, c: 33, h: 9, w: 9, k: 17, kh: 1, s: 1, p: 0 },
  { n: 1, c: 3, h: 7, w: 7, k: 5, kh: 3, s: 1, p: 1 },          // 3x3, batch 1
  { n: 2, c: 16, h: 8, w: 8, k: 16, kh: 3, s: 1, p: 1 },
  { n: 3, c: 5, h: 11, w: 13, k: 33, kh: 3, s: 2, p: 1 },       // stride 2
  { n: 1, c: 3, h: 15, w: 15, k: 8, kh: 7, s: 2, p: 3 },        // ResNet stem
  { n: 2, c: 4, h: 6, w: 6, k: 6, kh: 3, s: 1, p: 0 },
  { n: 2, c: 8, h: 5, w: 5, k: 8, kh: 1, s: 2, p: 0 },          // 1x1 stride 2 downsample
  { n: 2, c: 4, h: 6, w: 8, k: 6, kh: 1, s: 2, p: 0 },          // even size: the last row/column of dx stays 0
  { n: 2, c: 4, h: 6, w: 7, k: 6, kh: 3, s: 1, p: 1, g: 2 },    // groups
  { n: 2, c: 6, h: 9, w: 9, k: 6, kh: 3, s: 2, p: 1, g: 6 },    // depthwise
  { n: 1, c: 5, h: 7, w: 7, k: 10, kh: 5, s: 1, p: 2, g: 5 },   // depthwise multiplier 2
  { n: 1, c: 2, h: 5, w: 4, k: 3, kh: 2, kw: 3, s: 1, p: 0 },   // non-square kernel
  // Strided input gradients: phases (s2 p0 / 2x2 / phases without taps) and the dilation fallback (s3).
  { n: 2, c: 3, h: 9, w: 8, k: 5, kh: 3, s: 2, p: 0 },
  { n: 2, c: 4, h: 8, w: 8, k: 4, kh: 2, s: 2, p: 0 },
  { n: 1, c: 3, h: 7, w: 9, k: 4, kh: 1, kw: 3, s: 2, p: 0 },
  { n: 2, c: 3, h: 10, w: 11, k: 4, kh: 3, s: 3, p: 1 },
  { n: 3, c: 17, h: 4, w: 4, k: 31, kh: 3, s: 1, p: 1 },        // small map: several images per workgroup
  { n: 2, c: 3, h: 9, w: 9, k: 4, kh: 9, s: 1, p: 4 },          // kernel wider than 8: direct only
  // Rows a multiple of 4 wide (the vec4-window variants): output columns past the input row (1x1 padded), a
  // 5-wide kernel reaching into the vec4 right of the strip, several strips per row, one image.
  { n: 2, c: 3, h: 5, w: 4, k: 5, kh: 1, s: 1, p: 1 },
  { n: 1, c: 3, h: 6, w: 12, k: 20, kh: 5, s: 1, p: 2 },
  { n: 2, c: 9, h: 3, w: 16, k: 7, kh: 3, kw: 1, s: 1, p: 1 },
  { n: 2, c: 5, h: 3, w: 8, k: 6, kh: 1, s: 1, p: 0 },          // 1x1 unpadded: only the middle vec4
];

const label = (q: C) => `n${q.n} c${q.c} ${q.h}x${q.w} k${q.k} ${q.kh}x${q.kw ?? q.kh} s${q.s} p${q.p} g${q.g ?? 1}`;

interface Prepared { q: C; s: R.ConvShape; g: ConvGeom; x: Float64Array; w: Float64Array; b: Float64Array; dy: Float64Array; xt: Tensor; wt: Tensor; bt: Tensor; dyt: Tensor }
function prepare(q: C): Prepared {
  const kw = q.kw ?? q.kh, groups = q.g ?? 1;
  const s: R.ConvShape = { n: q.n, c: q.c, h: q.h, w: q.w, k: q.k, kh: q.kh, kw, sh: q.s, sw: q.s, ph: q.p, pw: q.p, groups };
  const x = randn(q.n * q.c * q.h * q.w), w = randn(q.k * (q.c / groups) * q.kh * kw), b = randn(q.k);
  const xt = Tensor.fromArray(Float32Array.from(x), [q.n, q.c, q.h, q.w]), wt = Tensor.fromArray(Float32Array.from(w), [q.k, q.c / groups, q.kh, kw]);
  const g = convGeometry(xt, wt, { stride: q.s, padding: q.p, groups });
  const dy = randn(q.n * q.k * g.ho * g.wo);
  return { q, s, g, x, w, b, dy, xt, wt, bt: Tensor.fromArray(Float32Array.from(b), [q.k]), dyt: Tensor.fromArray(Float32Array.from(dy), [q.n, q.k, g.ho, g.wo]) };
}
const release = (p: Prepared) => { for (const t of [p.xt, p.wt, p.bt, p.dyt]) t.dispose(); };

/** Run `check` for every case the variant fits, forced; returns how many cases fitted. */
async function eachFit<G>(fam: Family<G, unknown>, name: string, geom: (p: Prepared) => G, check: (p: Prepared) => Promise<void>): Promise<number> {
  const v = fam.variant(name);
  const s = supports(v as never, adapterCaps());
  assert.ok(s === true, `${fam.name}/${name} cannot run on this adapter: ${s}`);
  fam.force(name);
  let fitted = 0;
  try {
    for (const q of cases) {
      const p = prepare(q);
      try {
        if (v.fits(geom(p)) !== true) continue;
        await check(p);
        assert.is(lastVariant(fam.name), name, `${label(q)} ran ${lastVariant(fam.name)}`);
        fitted++;
      } finally {
        release(p);
      }
    }
  } finally {
    fam.force(null);
  }
  assert.ok(fitted > 0, `no case fits ${fam.name}/${name}`);
  return fitted;
}

// Tolerances: float32 sums of K products of unit normals: 3e-6 * K covers sqrt(K) * 2^-24 * sum|terms| comfortably.
// Winograd F(2x2,3x3) rounds differently (each product is of transformed values, sums of up to 4 inputs and of
// halves of filter sums, and the output transform adds 9 products' worth): its error grows like the direct sum's
// times a small constant, inside the same bound. The test below compares it with the direct kernel at K = 1152:
// there Winograd is the more accurate one (its GEMMs sum 128 terms, then 16 transformed products).
for (const v of convFwdFamily.variants) {
  test(`conv2d.fwd/${v.name} vs twin on every case it fits (with and without bias)`, async () => {
    let n = 0;
    for (const withBias of [false, true]) {
      n += await eachFit(convFwdFamily as Family<unknown, unknown>, v.name, (p) => ({ ...p.g, bias: withBias }), async (p) => {
        const y = Tensor.empty([p.q.n, p.q.k, p.g.ho, p.g.wo]);
        conv2dRaw.forward(p.xt, p.wt, withBias ? p.bt : null, y, p.g);
        const kred = (p.q.c / (p.q.g ?? 1)) * p.q.kh * (p.q.kw ?? p.q.kh);
        assertClose(`fwd/${v.name} ${label(p.q)} bias=${withBias}`, await toHost(y), R.conv2dFwd(p.x, p.w, withBias ? p.b : null, p.s), 3e-6 * kred + 1e-6, 1e-4);
        y.dispose();
      }).catch((e) => { if (withBias && /no case fits/.test(String(e))) return 0; throw e; });
    }
    console.log(`# conv2d.fwd/${v.name}: ${n} cases`);
  });
}

for (const v of convDataFamily.variants) {
  test(`conv2d.bwd_data/${v.name} vs twin on every case it fits`, async () => {
    const n = await eachFit(convDataFamily as Family<unknown, unknown>, v.name, (p) => p.g, async (p) => {
      const dx = Tensor.empty([p.q.n, p.q.c, p.q.h, p.q.w]);
      conv2dRaw.backwardData(p.dyt, p.wt, dx, p.g);
      const tolK = 3e-6 * p.q.k * p.q.kh * (p.q.kw ?? p.q.kh) + 1e-6;
      assertClose(`bwd data/${v.name} ${label(p.q)}`, await toHost(dx), R.conv2dBwdData(p.dy, p.w, p.s), tolK, 1e-4);
      dx.dispose();
    });
    console.log(`# conv2d.bwd_data/${v.name}: ${n} cases`);
  });
}

for (const v of convWeightFamily.variants) {
  test(`conv2d.bwd_weight/${v.name} vs twin on every case it fits`, async () => {
    const n = await eachFit(convWeightFamily as Family<unknown, unknown>, v.name, (p) => p.g, async (p) => {
      const dw = Tensor.empty([p.q.k, p.q.c / (p.q.g ?? 1), p.q.kh, p.q.kw ?? p.q.kh]);
      conv2dRaw.backwardWeight(p.xt, p.dyt, dw, p.g);
      assertClose(`bwd weight/${v.name} ${label(p.q)}`, await toHost(dw), R.conv2dBwdWeight(p.x, p.dy, p.s), 3e-6 * p.q.n * p.g.ho * p.g.wo + 1e-6, 1e-4);
      dw.dispose();
    });
    console.log(`# conv2d.bwd_weight/${v.name}: ${n} cases`);
  });
}

test('conv2d _v4 variants: the same sums in the same order as igemm, so bit-identical outputs (runs do not change with the table)', async () => {
  let compared = 0;
  const run = async (fam: Family<any, unknown>, name: string, go: () => Tensor): Promise<Float32Array> => {
    fam.force(name);
    try {
      const t = go();
      assert.is(lastVariant(fam.name), name);
      const h = await t.read();
      t.dispose();
      return h;
    } finally { fam.force(null); }
  };
  for (const q of cases) {
    const p = prepare(q);
    try {
      const passes: [Family<any, unknown>, unknown, () => Tensor][] = [
        [convFwdFamily, { ...p.g, bias: true }, () => { const y = Tensor.empty([q.n, q.k, p.g.ho, p.g.wo]); conv2dRaw.forward(p.xt, p.wt, p.bt, y, p.g); return y; }],
        [convDataFamily, p.g, () => { const dx = Tensor.empty([q.n, q.c, q.h, q.w]); conv2dRaw.backwardData(p.dyt, p.wt, dx, p.g); return dx; }],
        [convWeightFamily, p.g, () => { const dw = Tensor.empty([q.k, q.c / (q.g ?? 1), q.kh, q.kw ?? q.kh]); conv2dRaw.backwardWeight(p.xt, p.dyt, dw, p.g); return dw; }],
      ];
      for (const [fam, geom, go] of passes) {
        if (fam.variant('igemm_v4').fits(geom) !== true || fam.variant('igemm').fits(geom) !== true) continue;
        const a = await run(fam, 'igemm', go), b = await run(fam, 'igemm_v4', go);
        assert.equal(Array.from(new Uint32Array(b.buffer)), Array.from(new Uint32Array(a.buffer)), `${fam.name} ${label(q)}`);
        compared++;
      }
    } finally { release(p); }
  }
  assert.ok(compared >= 6, `only ${compared} comparisons`);
  console.log(`# _v4 against igemm: ${compared} bit-identical results`);
});

test('conv2d winograd: image chunks and channel blocks (a small chunk knob) agree with the twin, forward and input gradient', async () => {
  const saved = knob('conv2d.winograd.chunk_floats', 2 ** 20);
  // 16 * 24 * 16 tiles per image = 6144 floats of transformed input per image: chunks of 2 images and blocks of
  // 10 output channels (16 * 24 * 10 = 3840 floats) with a cap of 4000 floats.
  setKnob('conv2d.winograd.chunk_floats', 4000);
  convFwdFamily.force('winograd');
  convDataFamily.force('winograd');
  try {
    for (const q of [{ n: 5, c: 24, h: 7, w: 8, k: 24, kh: 3, s: 1, p: 1 }, { n: 3, c: 24, h: 6, w: 6, k: 13, kh: 3, s: 1, p: 0 }]) {
      const p = prepare(q);
      const y = Tensor.empty([q.n, q.k, p.g.ho, p.g.wo]), dx = Tensor.empty([q.n, q.c, q.h, q.w]);
      conv2dRaw.forward(p.xt, p.wt, p.bt, y, p.g);
      assert.is(lastVariant('conv2d.fwd'), 'winograd');
      assertClose(`fwd/winograd chunked ${label(q)}`, await toHost(y), R.conv2dFwd(p.x, p.w, p.b, p.s), 3e-6 * q.c * 9 + 1e-6, 1e-4);
      conv2dRaw.backwardData(p.dyt, p.wt, dx, p.g);
      assert.is(lastVariant('conv2d.bwd_data'), 'winograd');
      assertClose(`bwd data/winograd chunked ${label(q)}`, await toHost(dx), R.conv2dBwdData(p.dy, p.w, p.s), 3e-6 * q.k * 9 + 1e-6, 1e-4);
      y.dispose(); dx.dispose(); release(p);
    }
  } finally {
    setKnob('conv2d.winograd.chunk_floats', saved);
    convFwdFamily.force(null);
    convDataFamily.force(null);
  }
});

test('conv2d winograd: its rounding error at 128 channels stays within 4x that of the direct kernel', async () => {
  const q = { n: 2, c: 128, h: 8, w: 8, k: 128, kh: 3, s: 1, p: 1 };
  const p = prepare(q);
  const want = R.conv2dFwd(p.x, p.w, null, p.s), wantDx = R.conv2dBwdData(p.dy, p.w, p.s);
  const err: Record<string, [number, number]> = {};
  try {
    for (const v of ['direct', 'winograd']) {
      convFwdFamily.force(v);
      convDataFamily.force(v);
      const y = Tensor.empty([q.n, q.k, 8, 8]), dx = Tensor.empty([q.n, q.c, 8, 8]);
      conv2dRaw.forward(p.xt, p.wt, null, y, p.g);
      conv2dRaw.backwardData(p.dyt, p.wt, dx, p.g);
      const tol = 3e-6 * q.c * 9 + 1e-6;
      err[v] = [assertClose(`fwd/${v}`, await toHost(y), want, tol, 1e-4).maxAbs, assertClose(`bwd data/${v}`, await toHost(dx), wantDx, tol, 1e-4).maxAbs];
      y.dispose(); dx.dispose();
    }
  } finally {
    convFwdFamily.force(null);
    convDataFamily.force(null);
    release(p);
  }
  console.log(`# max abs error at K = 1152: direct fwd ${err.direct![0].toExponential(2)} data ${err.direct![1].toExponential(2)}; winograd fwd ${err.winograd![0].toExponential(2)} data ${err.winograd![1].toExponential(2)}`);
  assert.ok(err.winograd![0] <= 4 * err.direct![0] && err.winograd![1] <= 4 * err.direct![1], JSON.stringify(err));
});

test('conv2d: a tuning table\'s shape rule puts its variant first only where its bounds hold', () => {
  const saved = tuning().prefer?.['conv2d.fwd'] ?? [];
  setPrefer('conv2d.fwd', [{ variant: 'winograd', when: { c: { min: 24 }, k: { min: 24, max: 64 } } }]);
  try {
    const big = prepare({ n: 2, c: 24, h: 6, w: 6, k: 24, kh: 3, s: 1, p: 1 });
    const small = prepare({ n: 2, c: 8, h: 6, w: 6, k: 24, kh: 3, s: 1, p: 1 });
    const wide = prepare({ n: 1, c: 24, h: 4, w: 4, k: 72, kh: 3, s: 1, p: 1 });
    assert.is(convFwdFamily.choose({ ...big.g, bias: false }).name, 'winograd');
    assert.is.not(convFwdFamily.choose({ ...small.g, bias: false }).name, 'winograd', 'c below the rule\'s min');
    assert.is.not(convFwdFamily.choose({ ...wide.g, bias: false }).name, 'winograd', 'k above the rule\'s max');
    assert.is(convFwdFamily.order({ ...big.g, bias: false })[0]!.name, 'winograd');
    assert.is.not(convFwdFamily.order()[0]!.name, 'winograd', 'without a geometry no rule applies');
    release(big); release(small); release(wide);
  } finally { setPrefer('conv2d.fwd', saved); }
});

test('conv2d: the chosen variants are the first runnable ones that fit, and forcing a misfit names the reason', () => {
  const caps = adapterCaps();
  for (const fam of [convDataFamily, convWeightFamily] as Family<ConvGeom, unknown>[]) {
    for (const q of cases) {
      const p = prepare(q);
      const want = fam.order(p.g).find((v) => supports(v as never, caps) === true && v.fits(p.g) === true)!;
      assert.is(fam.choose(p.g).name, want.name, `${fam.name} ${label(q)}`);
      release(p);
    }
  }
  const p = prepare(cases.find((q) => q.kh === 9)!); // 9x9 kernel
  convFwdFamily.force('igemm');
  try {
    assert.throws(() => convFwdFamily.choose({ ...p.g, bias: false }), /conv2d.fwd\/igemm was forced but does not fit .*kernel width 9 > 8/);
  } finally {
    convFwdFamily.force(null);
    release(p);
  }
});

test.run();
