import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  globalAvgPoolBwd, globalAvgPoolFwd, maxPool2dBwd, maxPool2dFwd, poolOut, type PoolShape,
} from '../../src/ref/pool.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

const f64 = (a: number[]) => Float64Array.from(a);

function ps(p: Partial<PoolShape>): PoolShape {
  return { n: 1, c: 1, h: 4, w: 4, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, ...p };
}

/** Distinct values 0.01 apart in random order: no ties, so the max is stable under a 1e-6 step. */
function distinct(rng: Rng, len: number): Float64Array {
  const x = new Float64Array(len);
  for (let i = 0; i < len; i++) x[i] = (i - len / 2) * 0.01;
  return rng.shuffle(x);
}

test('globalAvgPool: by hand', () => {
  assertClose(globalAvgPoolFwd(f64([1, 2, 3, 4, 5, 9]), 1, 2, 3), [2, 6], 0, 'fwd');
  assertClose(globalAvgPoolBwd(f64([3, -6]), 1, 2, 3), [1, 1, 1, -2, -2, -2], 0, 'bwd');
});

test('maxPool2d: 2x2 stride 2 on 0..15, by hand', () => {
  const x = new Float64Array(16).map((_, i) => i);
  const r = maxPool2dFwd(x, ps({ kh: 2, kw: 2, ph: 0, pw: 0 }));
  assertClose(r.y, [5, 7, 13, 15], 0, 'y');
  assert.equal(Array.from(r.argmax), [5, 7, 13, 15]);
});

test('maxPool2d: 3x3 s2 p1 excludes padding (all-negative input), by hand', () => {
  // x = -1..-16; a zero pad counted in the max would give 0.
  const x = new Float64Array(16).map((_, i) => -(i + 1));
  const s = ps({});
  assert.equal(poolOut(s), { ho: 2, wo: 2 });
  const r = maxPool2dFwd(x, s);
  assertClose(r.y, [-1, -2, -5, -6], 0, 'y');
  assert.equal(Array.from(r.argmax), [0, 1, 4, 5]);
});

test('maxPool2d: ties go to the first index in window scan order', () => {
  const x = new Float64Array(16).fill(1);
  x[10] = 2; x[11] = 2; // second window (rows 1..3, cols 1..3) holds both at (2,2) and (2,3)
  const r = maxPool2dFwd(x, ps({}));
  assert.equal(Array.from(r.argmax), [0, 1, 4, 10]);
});

test('maxPool2d: NaN propagates', () => {
  const x = new Float64Array(16).fill(1);
  x[5] = NaN;
  const r = maxPool2dFwd(x, ps({}));
  // (1,1) lies in all four windows.
  assert.ok(r.y.every((v) => Number.isNaN(v)), `y = ${Array.from(r.y)}`);
});

test('maxPool2dBwd: overlapping windows accumulate, by hand', () => {
  // 3x3 input with the max in the centre; 2x2 stride 1 windows all pick it.
  const x = f64([0, 1, 0, 1, 9, 1, 0, 1, 0]);
  const s = ps({ h: 3, w: 3, kh: 2, kw: 2, sh: 1, sw: 1, ph: 0, pw: 0 });
  const { argmax } = maxPool2dFwd(x, s);
  assertClose(maxPool2dBwd(f64([1, 2, 3, 4]), argmax, s), [0, 0, 0, 0, 10, 0, 0, 0, 0], 0, 'dx');
});

test('globalAvgPool backward vs central differences', async () => {
  const rng = new Rng(51);
  for (const [n, c, hw] of [[2, 3, 5], [1, 1, 1], [1, 4, 49]] as const) {
    await checkGrad(`gap ${n}x${c}x${hw}`, ([x]) => globalAvgPoolFwd(x!, n, c, hw),
      (_, r) => [globalAvgPoolBwd(r, n, c, hw)], [rng.normals(n * c * hw)]);
  }
});

test('maxPool2d backward vs central differences', async () => {
  const rng = new Rng(52);
  const cases: [string, PoolShape][] = [
    ['3x3 s2 p1', ps({ n: 2, c: 3, h: 7, w: 6 })],
    ['3x3 s2 p1 batch 1', ps({ n: 1, c: 1, h: 5, w: 5 })],
    ['2x2 s2 p0', ps({ n: 1, c: 2, h: 4, w: 6, kh: 2, kw: 2, ph: 0, pw: 0 })],
    ['3x3 s1 p1 (heavy overlap)', ps({ n: 1, c: 2, h: 4, w: 5, sh: 1, sw: 1 })],
    ['3x2 s(1,2) p(1,0)', ps({ n: 2, c: 1, h: 5, w: 7, kh: 3, kw: 2, sh: 1, sw: 2, ph: 1, pw: 0 })],
  ];
  for (const [label, s] of cases) {
    await checkGrad(`maxpool ${label}`, ([x]) => maxPool2dFwd(x!, s).y,
      ([x], r) => [maxPool2dBwd(r, maxPool2dFwd(x!, s).argmax, s)], [distinct(rng, s.n * s.c * s.h * s.w)]);
  }
});

test('pool: bad shapes throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  const s = ps({});
  assertThrowsNamed(() => globalAvgPoolFwd(a(5), 1, 2, 3), 'globalAvgPoolFwd');
  assertThrowsNamed(() => globalAvgPoolBwd(a(3), 1, 2, 3), 'globalAvgPoolBwd');
  assertThrowsNamed(() => maxPool2dFwd(a(15), s), 'maxPool2dFwd');
  assertThrowsNamed(() => maxPool2dFwd(a(16), { ...s, ph: 2 }), 'maxPool2dFwd');
  assertThrowsNamed(() => maxPool2dBwd(a(5), new Int32Array(4), s), 'maxPool2dBwd');
  assertThrowsNamed(() => maxPool2dBwd(a(4), new Int32Array(3), s), 'maxPool2dBwd');
  assertThrowsNamed(() => maxPool2dBwd(a(4), Int32Array.from([0, 1, 2, 16]), s), 'maxPool2dBwd');
});

test.run();
