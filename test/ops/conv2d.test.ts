// conv2d: every variant the launcher can pick (1x1 GEMM, implicit GEMM, direct for strides/groups/depthwise)
// against the float64 twin on odd shapes and batch 1, outputs NaN-poisoned; gradients vs finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { conv2dRaw, convGeometry } from '../../src/ops/conv2d.js';
import { knob, setKnob } from '../../src/gpu/tuning.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(5);
const randn = (n: number) => rng.fillNormal(new Float64Array(n));

test.before(setupGpu);
test.after(teardownGpu);

interface C { n: number; c: number; h: number; w: number; k: number; kh: number; kw?: number; s: number; p: number; g?: number }
const cases: C[] = [
  { n: 1, c: 1, h: 1, w: 1, k: 1, kh: 1, s: 1, p: 0 },
  { n: 2, c: 3, h: 7, w: 5, k: 4, kh: 1, s: 1, p: 0 },          // 1x1 -> GEMM
  { n: 1, c: 33, h: 9, w: 9, k: 17, kh: 1, s: 1, p: 0 },
  { n: 1, c: 3, h: 7, w: 7, k: 5, kh: 3, s: 1, p: 1 },          // implicit GEMM
  { n: 2, c: 16, h: 8, w: 8, k: 16, kh: 3, s: 1, p: 1 },
  { n: 3, c: 5, h: 11, w: 13, k: 33, kh: 3, s: 2, p: 1 },       // stride 2 (igemm fwd/weight, direct data)
  { n: 1, c: 3, h: 15, w: 15, k: 8, kh: 7, s: 2, p: 3 },        // ResNet stem
  { n: 2, c: 4, h: 6, w: 6, k: 6, kh: 3, s: 1, p: 0 },
  { n: 2, c: 8, h: 5, w: 5, k: 8, kh: 1, s: 2, p: 0 },          // 1x1 stride 2 downsample (GEMM + scatter)
  { n: 2, c: 4, h: 6, w: 8, k: 6, kh: 1, s: 2, p: 0 },          // even size: the last row/column of dx stays 0
  { n: 2, c: 4, h: 6, w: 7, k: 6, kh: 3, s: 1, p: 1, g: 2 },    // groups (direct)
  { n: 2, c: 6, h: 9, w: 9, k: 6, kh: 3, s: 2, p: 1, g: 6 },    // depthwise (direct)
  { n: 1, c: 5, h: 7, w: 7, k: 10, kh: 5, s: 1, p: 2, g: 5 },   // depthwise multiplier 2
  { n: 1, c: 2, h: 5, w: 4, k: 3, kh: 2, kw: 3, s: 1, p: 0 },   // non-square kernel
  // Strided input gradients: phase decomposition (s2 p0 / 2x2 / phases without taps) and its dilation fallback (s3).
  { n: 2, c: 3, h: 9, w: 8, k: 5, kh: 3, s: 2, p: 0 },
  { n: 2, c: 4, h: 8, w: 8, k: 4, kh: 2, s: 2, p: 0 },
  { n: 1, c: 3, h: 7, w: 9, k: 4, kh: 1, kw: 3, s: 2, p: 0 },
  { n: 2, c: 3, h: 10, w: 11, k: 4, kh: 3, s: 3, p: 1 },
];

const label = (q: C) => `n${q.n} c${q.c} ${q.h}x${q.w} k${q.k} ${q.kh}x${q.kw ?? q.kh} s${q.s} p${q.p} g${q.g ?? 1}`;

for (const q of cases) {
  const kw = q.kw ?? q.kh, groups = q.g ?? 1;
  const s: R.ConvShape = { n: q.n, c: q.c, h: q.h, w: q.w, k: q.k, kh: q.kh, kw, sh: q.s, sw: q.s, ph: q.p, pw: q.p, groups };
  const xs = [q.n, q.c, q.h, q.w], ws = [q.k, q.c / groups, q.kh, kw];
  const nx = q.n * q.c * q.h * q.w, nw = q.k * (q.c / groups) * q.h * 0 + q.k * (q.c / groups) * q.kh * kw;
  test(`conv2d kernels vs twin: ${label(q)}`, async () => {
    const x = randn(nx), w = randn(nw), dy = randn(q.n * q.k * R.convOut(s).ho * R.convOut(s).wo);
    const xt = Tensor.fromArray(Float32Array.from(x), xs), wt = Tensor.fromArray(Float32Array.from(w), ws);
    const g = convGeometry(xt, wt, { stride: q.s, padding: q.p, groups });
    const dyt = Tensor.fromArray(Float32Array.from(dy), [q.n, q.k, g.ho, g.wo]);
    const kred = (q.c / groups) * q.kh * kw;
    const y = Tensor.empty([q.n, q.k, g.ho, g.wo]);
    conv2dRaw.forward(xt, wt, null, y, g);
    assertClose(`fwd ${label(q)}`, await toHost(y), R.conv2dFwd(x, w, null, s), 3e-6 * kred + 1e-6, 1e-4);
    const dx = Tensor.empty(xs);
    conv2dRaw.backwardData(dyt, wt, dx, g);
    assertClose(`bwd data ${label(q)}`, await toHost(dx), R.conv2dBwdData(dy, w, s), 3e-6 * q.k * q.kh * kw + 1e-6, 1e-4);
    const dw = Tensor.empty(ws);
    const wantDw = R.conv2dBwdWeight(x, dy, s);
    // The weight gradient whole and split over images (partial slices + conv2d_bwd_weight_reduce).
    const saved = knob('conv2d_bwd_weight.nsplit', 1);
    for (const nsplit of [1, 2, 3]) {
      setKnob('conv2d_bwd_weight.nsplit', nsplit);
      conv2dRaw.backwardWeight(xt, dyt, dw, g);
      assertClose(`bwd weight ${label(q)} nsplit ${nsplit}`, await toHost(dw), wantDw, 3e-6 * q.n * g.ho * g.wo + 1e-6, 1e-4);
    }
    setKnob('conv2d_bwd_weight.nsplit', saved);
    for (const t of [xt, wt, dyt, y, dx, dw]) t.dispose();
  });
}

for (const q of [cases[1]!, cases[4]!, cases[5]!, cases[6]!, cases[9]!, cases[10]!]) {
  const kw = q.kw ?? q.kh, groups = q.g ?? 1;
  const s: R.ConvShape = { n: q.n, c: q.c, h: q.h, w: q.w, k: q.k, kh: q.kh, kw, sh: q.s, sw: q.s, ph: q.p, pw: q.p, groups };
  test(`conv2d gradients (with bias): ${label(q)}`, async () => {
    const nx = q.n * q.c * q.h * q.w, nw = q.k * (q.c / groups) * q.kh * kw;
    await checkOp({
      name: `conv2d ${label(q)}`, xs: [randn(nx), randn(nw), randn(q.k)], shapes: [[q.n, q.c, q.h, q.w], [q.k, q.c / groups, q.kh, kw], [q.k]],
      gpu: ([x, w, b]) => ops.conv2d(x!, w!, b!, { stride: q.s, padding: q.p, groups }),
      ref: ([x, w, b]) => R.conv2dFwd(x!, w!, b!, s),
      fwd: { atol: 3e-6 * (q.c / groups) * q.kh * kw + 1e-6, rtol: 1e-4 },
      grad: { maxCoords: 16, atol: 1e-3, rtol: 3e-3 },
    });
  });
}

test('conv2d bad inputs name the op and shapes', () => {
  const x = Tensor.empty([1, 3, 8, 8]), w = Tensor.empty([4, 2, 3, 3]);
  assert.throws(() => ops.conv2d(x, w), /conv2d: weight .*\[4, 2, 3, 3\] expects 2 input channels \(groups 1\), input .*\[1, 3, 8, 8\] has 3/);
  assert.throws(() => ops.conv2d(x, w, null, { groups: 2 }), /conv2d: groups 2 must divide input channels 3/);
  const w2 = Tensor.empty([4, 3, 9, 9]);
  assert.throws(() => ops.conv2d(x, w2), /conv2d: input .* is smaller than the kernel 9x9/);
  assert.throws(() => ops.conv2d(x, w2, null, { stride: 0 }), /conv2d: stride and groups must be positive/);
  for (const t of [x, w, w2]) t.dispose();
});

test.run();
