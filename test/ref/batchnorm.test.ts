import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bnBwdEval, bnBwdTrain, bnFwdEval, bnFwdTrain, bnRunningUpdate } from '../../src/ref/batchnorm.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

const f64 = (a: number[]) => Float64Array.from(a);

test('bnFwdTrain: by hand (n=2, c=2, hw=2)', () => {
  // Layout [n, c, hw]: channel 0 holds 1, 3, 5, 7; channel 1 is constant 2.
  const x = f64([1, 3, 2, 2, 5, 7, 2, 2]);
  const eps = 1e-5;
  const r = bnFwdTrain(x, f64([2, 3]), f64([1, -1]), 2, 2, 2, eps);
  // Channel 0: mean 4, biased var (9+1+1+9)/4 = 5, unbiased 20/3.
  const is0 = 1 / Math.sqrt(5 + eps), is1 = 1 / Math.sqrt(eps);
  assertClose(r.mean, [4, 2], 1e-15, 'mean');
  assertClose(r.invstd, [is0, is1], 1e-15, 'invstd');
  assertClose(r.varUnbiased, [20 / 3, 0], 1e-15, 'varUnbiased');
  const y0 = (v: number) => 2 * (v - 4) * is0 + 1;
  // Channel 1 has zero deviation, so it is exactly beta.
  assertClose(r.y, [y0(1), y0(3), -1, -1, y0(5), y0(7), -1, -1], 1e-14, 'y');
});

test('bnFwdTrain: output has zero mean and unit variance per channel (gamma 1, beta 0)', () => {
  const rng = new Rng(31);
  const n = 3, c = 4, hw = 5;
  const x = rng.normals(n * c * hw, 3);
  for (let i = 0; i < x.length; i++) x[i]! += 7; // offset, so centring matters
  const { y } = bnFwdTrain(x, f64([1, 1, 1, 1]), f64([0, 0, 0, 0]), n, c, hw, 0);
  for (let ch = 0; ch < c; ch++) {
    let s = 0, ss = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) { const v = y[(b * c + ch) * hw + i]!; s += v; ss += v * v; }
    assert.ok(Math.abs(s / (n * hw)) < 1e-14, `channel ${ch} mean ${s / (n * hw)}`);
    assert.ok(Math.abs(ss / (n * hw) - 1) < 1e-13, `channel ${ch} variance ${ss / (n * hw)}`);
  }
});

test('bnRunningUpdate: PyTorch momentum convention, by hand', () => {
  const rm = f64([0, 1]), rv = f64([1, 1]);
  const r = bnRunningUpdate(rm, rv, f64([2, 3]), f64([3, 0]), 0.1);
  assertClose(r.runMean, [0.2, 1.2], 1e-15, 'runMean');
  assertClose(r.runVar, [1.2, 0.9], 1e-15, 'runVar');
  assertClose(rm, [0, 1], 0, 'input untouched');
});

test('bnFwdEval: by hand', () => {
  // (4 - 1) / sqrt(8 + 1) * 2 + 1 = 3 ; (-2 - 1) / 3 * 2 + 1 = -1
  assertClose(bnFwdEval(f64([4, -2]), f64([2]), f64([1]), f64([1]), f64([8]), 2, 1, 1, 1), [3, -1], 1e-15, 'eval');
});

test('bnFwdEval with the batch statistics equals bnFwdTrain', () => {
  const rng = new Rng(32);
  const n = 2, c = 3, hw = 4, eps = 1e-5;
  const x = rng.normals(n * c * hw), g = rng.normals(c), b = rng.normals(c);
  const t = bnFwdTrain(x, g, b, n, c, hw, eps);
  const biasedVar = t.varUnbiased.map((v) => (v * (n * hw - 1)) / (n * hw));
  assertClose(bnFwdEval(x, g, b, t.mean, biasedVar, n, c, hw, eps), t.y, 1e-13, 'eval vs train');
});

test('bnBwdTrain: zero for a constant upstream gradient and gamma-scaled otherwise (by hand)', () => {
  // dy = 1 everywhere: shifting all inputs of a channel changes nothing, so dx = 0, dbeta = count.
  const x = f64([1, 3, 5, 7]);
  const fw = bnFwdTrain(x, f64([2]), f64([0]), 4, 1, 1, 0);
  const g = bnBwdTrain(x, f64([1, 1, 1, 1]), f64([2]), fw.mean, fw.invstd, 4, 1, 1);
  assertClose(g.dx, [0, 0, 0, 0], 1e-15, 'dx');
  assertClose(g.dbeta, [4], 0, 'dbeta');
  assertClose(g.dgamma, [0], 1e-15, 'dgamma');
});

const SHAPES: [string, number, number, number][] = [
  ['2-D n2 c3 hw5', 2, 3, 5],
  ['2-D batch 1, c2 hw7', 1, 2, 7],
  ['1-D n4 c3', 4, 3, 1],
  ['1-D n2 c5', 2, 5, 1],
  ['2-D n3 c1 hw4', 3, 1, 4],
];

test('bnBwdTrain vs central differences (x, gamma, beta)', async () => {
  const rng = new Rng(33);
  const eps = 1e-5;
  for (const [label, n, c, hw] of SHAPES) {
    await checkGrad(`bn train ${label}`,
      ([x, g, b]) => bnFwdTrain(x!, g!, b!, n, c, hw, eps).y,
      ([x, g, b], r) => {
        const fw = bnFwdTrain(x!, g!, b!, n, c, hw, eps);
        const d = bnBwdTrain(x!, r, g!, fw.mean, fw.invstd, n, c, hw);
        return [d.dx, d.dgamma, d.dbeta];
      }, [rng.normals(n * c * hw), rng.normals(c), rng.normals(c)]);
  }
});

test('bnBwdEval vs central differences (x, gamma, beta; running stats fixed)', async () => {
  const rng = new Rng(34);
  const eps = 1e-5;
  for (const [label, n, c, hw] of [...SHAPES, ['batch 1, 1-D', 1, 3, 1] as [string, number, number, number]]) {
    const rm = rng.normals(c), rv = rng.fillUniform(new Float64Array(c), 0.5, 2);
    await checkGrad(`bn eval ${label}`,
      ([x, g, b]) => bnFwdEval(x!, g!, b!, rm, rv, n, c, hw, eps),
      ([x, g], r) => {
        const d = bnBwdEval(r, x!, g!, rm, rv, n, c, hw, eps);
        return [d.dx, d.dgamma, d.dbeta];
      }, [rng.normals(n * c * hw), rng.normals(c), rng.normals(c)]);
  }
});

test('batchnorm: bad shapes throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => bnFwdTrain(a(11), a(3), a(3), 2, 3, 2, 1e-5), 'bnFwdTrain');
  assertThrowsNamed(() => bnFwdTrain(a(12), a(2), a(3), 2, 3, 2, 1e-5), 'bnFwdTrain');
  assertThrowsNamed(() => bnFwdTrain(a(3), a(3), a(3), 1, 3, 1, 1e-5), 'bnFwdTrain'); // one value per channel
  assertThrowsNamed(() => bnRunningUpdate(a(3), a(2), a(3), a(3), 0.1), 'bnRunningUpdate');
  assertThrowsNamed(() => bnFwdEval(a(12), a(3), a(3), a(3), a(4), 2, 3, 2, 1e-5), 'bnFwdEval');
  assertThrowsNamed(() => bnBwdTrain(a(12), a(13), a(3), a(3), a(3), 2, 3, 2), 'bnBwdTrain');
  assertThrowsNamed(() => bnBwdEval(a(12), a(12), a(3), a(2), a(3), 2, 3, 2, 1e-5), 'bnBwdEval');
});

test.run();
