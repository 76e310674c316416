import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { meanAxes, meanAxesBwd, sumAxes, sumAxesBwd } from '../../src/ref/reduce.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

const M23 = Float64Array.from([1, 2, 3, 4, 5, 6]); // [[1, 2, 3], [4, 5, 6]]

test('sumAxes / meanAxes: 2x3 by hand', () => {
  assert.equal(sumAxes(M23, [2, 3], [0]), { y: Float64Array.from([5, 7, 9]), shape: [3] });
  assert.equal(sumAxes(M23, [2, 3], [1]), { y: Float64Array.from([6, 15]), shape: [2] });
  assert.equal(sumAxes(M23, [2, 3], [-1], true), { y: Float64Array.from([6, 15]), shape: [2, 1] });
  assert.equal(sumAxes(M23, [2, 3], [0, 1]), { y: Float64Array.from([21]), shape: [] });
  assert.equal(sumAxes(M23, [2, 3], [1, 0], true), { y: Float64Array.from([21]), shape: [1, 1] });
  assert.equal(sumAxes(M23, [2, 3], []), { y: M23, shape: [2, 3] });
  assert.equal(meanAxes(M23, [2, 3], [1]), { y: Float64Array.from([2, 5]), shape: [2] });
  assert.equal(meanAxes(M23, [2, 3], [0], true), { y: Float64Array.from([2.5, 3.5, 4.5]), shape: [1, 3] });
});

test('sumAxes: 3-D over axes {0, 2} matches explicit loops', () => {
  const rng = new Rng(81);
  const [a, b, c] = [2, 3, 4];
  const x = rng.normals(a * b * c);
  const want = new Float64Array(b);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) want[j]! += x[(i * b + j) * c + k]!;
  const r = sumAxes(x, [a, b, c], [0, 2]);
  assert.equal(r.shape, [3]);
  assertClose(r.y, want, 1e-14, 'sum {0,2}');
  // 4-D with a middle axis kept: [2, 3, 2, 2] over {1, 3} -> [2, 2].
  const x4 = rng.normals(24);
  const w4 = new Float64Array(4);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) for (let l = 0; l < 2; l++) {
    w4[i * 2 + k]! += x4[((i * 3 + j) * 2 + k) * 2 + l]!;
  }
  assertClose(sumAxes(x4, [2, 3, 2, 2], [1, 3]).y, w4, 1e-14, 'sum {1,3}');
});

test('sumAxesBwd / meanAxesBwd: by hand', () => {
  assertClose(sumAxesBwd(Float64Array.from([1, 2]), [2, 3], [1]), [1, 1, 1, 2, 2, 2], 0, 'sum bwd');
  assertClose(meanAxesBwd(Float64Array.from([3, 6, 9]), [2, 3], [0]), [1.5, 3, 4.5, 1.5, 3, 4.5], 0, 'mean bwd');
  assertClose(meanAxesBwd(Float64Array.from([6]), [2, 3], [0, 1]), [1, 1, 1, 1, 1, 1], 0, 'mean bwd all');
});

test('reductions: NaN propagates', () => {
  const x = Float64Array.from([1, NaN, 3, 4]);
  const r = sumAxes(x, [2, 2], [1]);
  assert.ok(Number.isNaN(r.y[0]!) && r.y[1] === 7, `got ${Array.from(r.y)}`);
});

test('reduction backwards vs central differences over axis sets', async () => {
  const rng = new Rng(82);
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [0]], [[2, 3, 4], [1]], [[2, 3, 4], [2]], [[2, 3, 4], [0, 2]],
    [[2, 3, 4], [1, 2]], [[2, 3, 4], [0, 1, 2]], [[2, 3, 4], []],
    [[1, 5, 1, 3], [0, 3]], [[1, 5, 1, 3], [-1]], [[7], [0]], [[3, 1, 5], [-2, 0]],
  ];
  for (const [shape, axes] of cases) {
    const len = shape.reduce((p, d) => p * d, 1);
    for (const keep of [false, true]) {
      await checkGrad(`sum ${shape} over [${axes}] keep=${keep}`, ([x]) => sumAxes(x!, shape, axes, keep).y,
        (_, r) => [sumAxesBwd(r, shape, axes)], [rng.normals(len)]);
    }
    await checkGrad(`mean ${shape} over [${axes}]`, ([x]) => meanAxes(x!, shape, axes).y,
      (_, r) => [meanAxesBwd(r, shape, axes)], [rng.normals(len)]);
  }
});

test('reductions: bad inputs throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => sumAxes(a(5), [2, 3], [0]), 'sumAxes');
  assertThrowsNamed(() => sumAxes(a(6), [2, 3], [2]), 'sumAxes');
  assertThrowsNamed(() => sumAxes(a(6), [2, 3], [0, -2]), 'sumAxes');
  assertThrowsNamed(() => meanAxes(a(6), [2, 3.5], [0]), 'meanAxes');
  assertThrowsNamed(() => sumAxesBwd(a(2), [2, 3], [0]), 'sumAxesBwd');
  assertThrowsNamed(() => meanAxesBwd(a(3), [2, 3], [1]), 'meanAxesBwd');
  assertThrowsNamed(() => meanAxesBwd(a(2), [2, 3], [-3]), 'meanAxesBwd');
});

test.run();
