// matmul and linear: autograd gradients vs finite differences of the float64 twin (the GEMM variants themselves
// are checked in test/kernels/gemm.test.ts), and bad shapes named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(12);
const randn = (n: number) => rng.fillNormal(new Float64Array(n));
const tol = (k: number) => ({ atol: 2e-6 * k + 1e-6, rtol: 1e-4 });

test.before(setupGpu);
test.after(teardownGpu);

for (const [m, k, n] of [[1, 1, 1], [3, 7, 5], [8, 32, 16], [33, 65, 7]] as const) {
  test(`matmul and linear gradients [${m},${k}]x[${k},${n}]`, async () => {
    await checkOp({ name: `matmul [${m},${k}]x[${k},${n}]`, xs: [randn(m * k), randn(k * n)], shapes: [[m, k], [k, n]],
      gpu: ([a, b]) => ops.matmul(a!, b!), ref: ([a, b]) => R.matmul(a!, b!, m, k, n), fwd: tol(k) });
    await checkOp({ name: `linear x[${m},${k}] W[${n},${k}] +b`, xs: [randn(m * k), randn(n * k), randn(n)], shapes: [[m, k], [n, k], [n]],
      gpu: ([x, w, b]) => ops.linear(x!, w!, b!), ref: ([x, w, b]) => R.linearFwd(x!, w!, b!, m, k, n), fwd: tol(k) });
  });
}

test('matmul/linear bad shapes name the op', () => {
  const a = Tensor.empty([2, 3]), b = Tensor.empty([4, 5]);
  assert.throws(() => ops.matmul(a, b), /matmul: inner dimensions differ: \[2, 3\] x \[4, 5\]/);
  assert.throws(() => ops.linear(a, b), /linear: input .*\[2, 3\] has 3 features but weight .*\[4, 5\] expects 5/);
  a.dispose(); b.dispose();
});

test.run();
