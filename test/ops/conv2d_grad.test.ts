// conv2d as an op: autograd gradients (input, weight, bias) vs finite differences of the float64 twin through the
// variants the families choose, and bad inputs named. The variants one by one: test/kernels/conv2d.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(6);
const randn = (n: number) => rng.fillNormal(new Float64Array(n));

test.before(setupGpu);
test.after(teardownGpu);

interface C { n: number; c: number; h: number; w: number; k: number; kh: number; kw?: number; s: number; p: number; g?: number }
const cases: C[] = [
  { n: 2, c: 3, h: 7, w: 5, k: 4, kh: 1, s: 1, p: 0 },
  { n: 2, c: 16, h: 8, w: 8, k: 16, kh: 3, s: 1, p: 1 },
  { n: 3, c: 5, h: 11, w: 13, k: 33, kh: 3, s: 2, p: 1 },
  { n: 1, c: 3, h: 15, w: 15, k: 8, kh: 7, s: 2, p: 3 },
  { n: 2, c: 4, h: 6, w: 8, k: 6, kh: 1, s: 2, p: 0 },
  { n: 2, c: 4, h: 6, w: 7, k: 6, kh: 3, s: 1, p: 1, g: 2 },
];
const label = (q: C) => `n${q.n} c${q.c} ${q.h}x${q.w} k${q.k} ${q.kh}x${q.kw ?? q.kh} s${q.s} p${q.p} g${q.g ?? 1}`;

for (const q of cases) {
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
