import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  cosineRegressionBwd, cosineRegressionFwd, crossEntropyBwd, crossEntropyFwd, mseBwd, mseFwd,
} from '../../src/ref/loss.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertNum, assertThrowsNamed, checkGrad } from './util.js';

const f64 = (a: number[]) => Float64Array.from(a);
const i32 = (a: number[]) => Int32Array.from(a);

test('mse: by hand', () => {
  const a = f64([1, 2, 3]), b = f64([1, 0, 0]);
  assertNum(mseFwd(a, b), 13 / 3, 1e-15, 'fwd');
  const g = mseBwd(a, b);
  assertClose(g.da, [0, 4 / 3, 2], 1e-15, 'da');
  assertClose(g.db, [0, -4 / 3, -2], 1e-15, 'db');
  assert.ok(Number.isNaN(mseFwd(f64([NaN, 1]), f64([0, 1]))), 'NaN propagates');
});

test('cosineRegression: by hand (orthogonal, parallel, opposite)', () => {
  // Rows: cos 0 -> 2; cos 1 -> 0 (scale ignored); cos -1 -> 4. Mean 2.
  const p = f64([1, 0, 1, 1, 1, 0]), z = f64([0, 2, 2, 2, -3, 0]);
  assertNum(cosineRegressionFwd(p, z, 3, 2), 2, 1e-15, 'fwd');
  assertNum(cosineRegressionFwd(f64([1, 1]), f64([1, 0]), 1, 2), 2 - Math.SQRT2, 1e-15, '45 degrees');
  // p = (1, 0), z = (0, 1): dp = -2 z^ projected off p^, over ||p|| = 1.
  const g = cosineRegressionBwd(f64([1, 0]), f64([0, 1]), 1, 2);
  assertClose(g.dp, [0, -2], 1e-15, 'dp');
  assertClose(g.dz, [-2, 0], 1e-15, 'dz');
});

test('cosineRegression: invariant to positive row scaling', () => {
  const rng = new Rng(71);
  const p = rng.normals(12), z = rng.normals(12);
  const p2 = p.map((v, i) => v * (1 + Math.floor(i / 4)));
  assertNum(cosineRegressionFwd(p2, z, 3, 4), cosineRegressionFwd(p, z, 3, 4), 1e-14, 'scaled rows');
});

test('crossEntropy: 2 rows by hand, and stable for large logits', () => {
  // Row 0: logits (0, 0), label 0 -> ln 2. Row 1: logits (0, ln 3), label 1 -> -ln(3/4).
  const logits = f64([0, 0, 0, Math.log(3)]), labels = i32([0, 1]);
  assertNum(crossEntropyFwd(logits, labels, 2, 2), (Math.log(2) + Math.log(4 / 3)) / 2, 1e-15, 'fwd');
  // (softmax - onehot) / rows: ((0.5, 0.5) - (1, 0)) / 2 and ((0.25, 0.75) - (0, 1)) / 2
  assertClose(crossEntropyBwd(logits, labels, 2, 2), [-0.25, 0.25, 0.125, -0.125], 1e-15, 'bwd');
  assertNum(crossEntropyFwd(f64([1000, 0]), i32([1]), 1, 2), 1000, 1e-15, 'large logits');
  assertClose(crossEntropyBwd(f64([1000, 0]), i32([1]), 1, 2), [1, -1], 1e-15, 'large logits bwd');
  assert.ok(Number.isNaN(crossEntropyFwd(f64([NaN, 0]), i32([1]), 1, 2)), 'NaN propagates');
});

test('losses vs central differences', async () => {
  const rng = new Rng(72);
  for (const n of [1, 13]) {
    await checkGrad(`mse n=${n}`, ([a, b]) => [mseFwd(a!, b!)],
      ([a, b], r) => { const g = mseBwd(a!, b!); return [g.da.map((v) => v * r[0]!), g.db.map((v) => v * r[0]!)]; },
      [rng.normals(n), rng.normals(n)]);
  }
  for (const [rows, d] of [[1, 1], [1, 3], [4, 8], [3, 5]] as const) {
    await checkGrad(`cosine ${rows}x${d}`, ([p, z]) => [cosineRegressionFwd(p!, z!, rows, d)],
      ([p, z], r) => {
        const g = cosineRegressionBwd(p!, z!, rows, d);
        return [g.dp.map((v) => v * r[0]!), g.dz.map((v) => v * r[0]!)];
      }, [rng.normals(rows * d), rng.normals(rows * d)]);
  }
  for (const [rows, classes, scale] of [[1, 1, 1], [5, 7, 1], [1, 10, 30], [3, 2, 1]] as const) {
    const labels = Int32Array.from({ length: rows }, () => rng.int(classes));
    await checkGrad(`cross-entropy ${rows}x${classes} scale ${scale}`, ([l]) => [crossEntropyFwd(l!, labels, rows, classes)],
      ([l], r) => [crossEntropyBwd(l!, labels, rows, classes).map((v) => v * r[0]!)],
      [rng.normals(rows * classes, scale)]);
  }
});

test('losses: bad inputs throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => mseFwd(a(3), a(2)), 'mseFwd');
  assertThrowsNamed(() => mseFwd(a(0), a(0)), 'mseFwd');
  assertThrowsNamed(() => mseBwd(a(2), a(3)), 'mseBwd');
  assertThrowsNamed(() => cosineRegressionFwd(a(6), a(5), 2, 3), 'cosineRegressionFwd');
  assertThrowsNamed(() => cosineRegressionBwd(a(5), a(6), 2, 3), 'cosineRegressionBwd');
  assertThrowsNamed(() => crossEntropyFwd(a(6), i32([0]), 2, 3), 'crossEntropyFwd');
  assertThrowsNamed(() => crossEntropyFwd(a(6), i32([0, 3]), 2, 3), 'crossEntropyFwd');
  assertThrowsNamed(() => crossEntropyBwd(a(5), i32([0, 1]), 2, 3), 'crossEntropyBwd');
  assertThrowsNamed(() => crossEntropyBwd(a(6), i32([-1, 1]), 2, 3), 'crossEntropyBwd');
});

test.run();
