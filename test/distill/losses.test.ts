// The distillation losses and helpers against their float64 formulas and central differences:
// concatCols, MoCo's InfoNCE, DisCo's consistency term (checked against squared distances of normalised
// rows, an independent formula from the 2 - 2cos the engine uses), and the momentum-encoder update.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/ref/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { setupGpu, teardownGpu, assertClose, toHost } from '../helpers/gpu.js';
import { checkOp } from '../helpers/opcheck.js';
import { Rng } from '../helpers/rng.js';

const rng = new Rng(21);
const randn = (n: number, s = 1) => { const a = new Float64Array(n); rng.fillNormal(a); for (let i = 0; i < n; i++) a[i]! *= s; return a; };

test.before(setupGpu);
test.after(teardownGpu);

for (const [rows, ac, bc] of [[3, 1, 7], [5, 4, 33], [1, 2, 2]] as const) {
  test(`concatCols [${rows},${ac}] ++ [${rows},${bc}]`, async () => {
    await checkOp({ name: `concatCols ${rows}x(${ac}+${bc})`, xs: [randn(rows * ac), randn(rows * bc)], shapes: [[rows, ac], [rows, bc]],
      gpu: ([a, b]) => ops.concatCols(a!, b!), ref: ([a, b]) => R.concatColsFwd(a!, b!, rows, ac, bc), fwd: { atol: 0, rtol: 1e-7 } }); // a copy: only the inputs' float32 rounding differs
  });
}

test('concatCols rejects different row counts', () => {
  const a = Tensor.fromArray(new Float32Array(6), [2, 3]), b = Tensor.fromArray(new Float32Array(6), [3, 2]);
  assert.throws(() => ops.concatCols(a, b), /row counts differ/);
  a.dispose(); b.dispose();
});

for (const [n, d, K, T] of [[4, 8, 16, 0.2], [6, 5, 12, 0.07], [1, 3, 1, 1]] as const) {
  test(`infoNCE n=${n} d=${d} queue=${K} T=${T}`, async () => {
    const zeros = Tensor.fromArray(new Int32Array(n), [n], 'i32');
    await checkOp({
      name: `infoNCE ${n}x${d} K${K} T${T}`, xs: [randn(n * d, 0.5), randn(n * d, 0.5), randn(K * d, 0.5)], shapes: [[n, d], [n, d], [K, d]],
      gpu: ([q, k, queue]) => ops.infoNCE(q!, k!, queue!, T, zeros),
      ref: ([q, k, queue]) => R.infoNCEFwd(q!, k!, queue!, n, d, K, T),
    });
    zeros.dispose();
  });
}

test('infoNCE: a query equal to its key and orthogonal to the queue scores near zero loss at a low temperature', async () => {
  const d = 4, n = 2;
  const q = Tensor.fromArray([1, 0, 0, 0, 0, 1, 0, 0], [n, d]);
  const queue = Tensor.fromArray([0, 0, 1, 0, 0, 0, 0, 1], [2, d]);
  const zeros = Tensor.fromArray(new Int32Array(n), [n], 'i32');
  const l = ops.infoNCE(q, q, queue, 0.05, zeros);
  const v = await l.item();
  assert.ok(v < 1e-6, `loss ${v}`);
  assert.throws(() => ops.infoNCE(q, q, queue, 0, zeros), /temperature/);
  assert.throws(() => ops.infoNCE(q, q, Tensor.fromArray(new Float32Array(6), [2, 3]), 0.2, zeros), /columns/);
  for (const t of [q, queue, zeros, l]) t.dispose();
});

for (const [rows, d] of [[5, 8], [3, 128]] as const) {
  test(`DisCo consistency = 32 x mean squared distance of normalised embeddings, both views [${rows},${d}]`, async () => {
    const w = 32;
    await checkOp({
      name: `disco consistency ${rows}x${d}`, xs: [randn(rows * d), randn(rows * d), randn(rows * d), randn(rows * d)], shapes: [[rows, d], [rows, d], [rows, d], [rows, d]],
      gpu: ([q1, t1, q2, t2]) => ops.affine(ops.add(ops.cosineRegressionLoss(q1!, t1!), ops.cosineRegressionLoss(q2!, t2!)), w, 0),
      ref: ([q1, t1, q2, t2]) => w * (R.normalizedSquaredDistanceFwd(q1!, t1!, rows, d) + R.normalizedSquaredDistanceFwd(q2!, t2!, rows, d)),
      gradInputs: [0, 2], fwd: { atol: 1e-4, rtol: 1e-4 }, grad: { atol: 5e-3, rtol: 5e-3 },
    });
  });
}

test('emaInPlace: y = m y + (1 - m) x', async () => {
  const n = 1031;
  const x = randn(n), y = randn(n);
  const tx = Tensor.fromArray(Float32Array.from(x), [n]), ty = Tensor.fromArray(Float32Array.from(y), [n]);
  ops.emaInPlace(ty, tx, 0.999);
  assertClose('ema', await toHost(ty), y.map((v, i) => 0.999 * v + 0.001 * x[i]!), 1e-6, 1e-5);
  ops.emaInPlace(ty, tx, 0);
  assertClose('ema m=0 copies', await toHost(ty), x, 1e-6, 1e-6);
  assert.throws(() => ops.emaInPlace(ty, tx, 1.5), /momentum/);
  tx.dispose(); ty.dispose();
});

test.run();
