import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { l2NormalizeBwd, l2NormalizeFwd } from '../../src/ref/normalize.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

const f64 = (a: number[]) => Float64Array.from(a);

test('l2NormalizeFwd: by hand, including zero and sub-eps rows', () => {
  // Rows: (3, 4) -> (0.6, 0.8); zero row stays zero; (1e-13, 0) is divided by eps = 1e-12.
  assertClose(l2NormalizeFwd(f64([3, 4, 0, 0, 1e-13, 0]), 3, 2), [0.6, 0.8, 0, 0, 0.1, 0], 1e-15, 'fwd');
  assertClose(l2NormalizeFwd(f64([3, 4]), 1, 2, 10), [0.3, 0.4], 1e-15, 'custom eps');
});

test('l2NormalizeFwd: rows have unit norm and keep direction', () => {
  const rng = new Rng(61);
  const rows = 4, d = 9;
  const x = rng.normals(rows * d, 5);
  const y = l2NormalizeFwd(x, rows, d);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += y[r * d + j]! ** 2;
    assert.ok(Math.abs(s - 1) < 1e-14, `row ${r} norm^2 ${s}`);
    const k = x[r * d]! / y[r * d]!;
    for (let j = 0; j < d; j++) assert.ok(Math.abs(x[r * d + j]! - k * y[r * d + j]!) < 1e-12, `row ${r} direction`);
  }
});

test('l2NormalizeBwd: by hand', () => {
  // x = (3, 4), ||x|| = 5, y = (0.6, 0.8). dy along y gives 0; dy = (0.8, -0.6) (tangent) gives dy / 5.
  assertClose(l2NormalizeBwd(f64([3, 4]), f64([0.6, 0.8]), 1, 2), [0, 0], 1e-16, 'radial');
  assertClose(l2NormalizeBwd(f64([3, 4]), f64([0.8, -0.6]), 1, 2), [0.16, -0.12], 1e-15, 'tangent');
  // Below the clamp the denominator is the constant eps.
  assertClose(l2NormalizeBwd(f64([0.3, 0.4]), f64([1, 2]), 1, 2, 2), [0.5, 1], 0, 'clamped');
});

test('l2Normalize backward vs central differences', async () => {
  const rng = new Rng(62);
  for (const [rows, d] of [[3, 5], [1, 1], [4, 7], [1, 64]] as const) {
    await checkGrad(`l2norm ${rows}x${d}`, ([x]) => l2NormalizeFwd(x!, rows, d),
      ([x], r) => [l2NormalizeBwd(x!, r, rows, d)], [rng.normals(rows * d)]);
  }
  // eps = 1 with rows of norm ~0.3 and ~3: one row on each side of the clamp.
  const x = f64([0.1, -0.2, 0.2, 1, 2, -2]);
  await checkGrad('l2norm across the clamp', ([x]) => l2NormalizeFwd(x!, 2, 3, 1),
    ([x], r) => [l2NormalizeBwd(x!, r, 2, 3, 1)], [x]);
});

test('l2Normalize: bad shapes throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => l2NormalizeFwd(a(5), 2, 3), 'l2NormalizeFwd');
  assertThrowsNamed(() => l2NormalizeBwd(a(6), a(5), 2, 3), 'l2NormalizeBwd');
  assertThrowsNamed(() => l2NormalizeBwd(a(5), a(6), 2, 3), 'l2NormalizeBwd');
});

test.run();
