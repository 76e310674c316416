// Tests of the shared gradcheck helper itself: it must pass right gradients and catch wrong ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertGradOk, gradcheck, nudgeAwayFromKinks } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

const square = ([x]: Float64Array[]) => x!.map((v) => v * v);

test('gradcheck: passes a correct VJP and reports the directional check', async () => {
  const x = new Rng(1).normals(10);
  const res = await gradcheck(square, ([x], r) => [x!.map((v, i) => 2 * v * r[i]!)], [x]);
  assert.ok(res.ok, JSON.stringify(res));
  assert.is(res.checked, 10);
  assert.ok(res.maxAbs < 1e-8, `maxAbs ${res.maxAbs}`);
  assert.ok(Math.abs(res.directional.fd - res.directional.an) < 1e-8);
  assert.ok(res.directional.an !== 0);
  assertGradOk(res, 'square');
});

test('gradcheck: catches a wrong coordinate and names it', async () => {
  const x = new Rng(2).normals(10);
  const res = await gradcheck(square, ([x], r) => {
    const g = x!.map((v, i) => 2 * v * r[i]!);
    g[7]! += 1e-3;
    return [g];
  }, [x]);
  assert.not.ok(res.ok);
  assert.is(res.worst.input, 0);
  assert.is(res.worst.index, 7);
  assert.throws(() => assertGradOk(res, 'broken'), /broken: .*input 0 index 7/);
});

test('gradcheck: a relative error of 1e-3 on every coordinate fails', async () => {
  const x = new Rng(3).normals(5);
  const res = await gradcheck(square, ([x], r) => [x!.map((v, i) => 2.002 * v * r[i]!)], [x]);
  assert.not.ok(res.ok);
  assert.ok(res.maxRel > 5e-4 && res.maxRel < 2e-3, `maxRel ${res.maxRel}`);
});

test('gradcheck: the directional check alone catches a wrong coordinate', async () => {
  const n = 20;
  const x = new Rng(4).normals(n);
  const bad = (xs: Float64Array[], r: Float64Array) => {
    const g = xs[0]!.map((v, i) => 2 * v * r[i]!);
    g[13]! += 0.1;
    return [g];
  };
  // maxCoords 0: no per-coordinate checks, so only the directional one can see the error.
  const res = await gradcheck(square, bad, [x], { maxCoords: 0 });
  assert.is(res.checked, 0);
  assert.not.ok(res.ok);
  assert.is(res.worst.input, -1);
  const good = await gradcheck(square, ([x], r) => [x!.map((v, i) => 2 * v * r[i]!)], [x], { maxCoords: 0 });
  assert.ok(good.ok);
});

test('gradcheck: async f and grad, several inputs, inputs option, arrays restored', async () => {
  const rng = new Rng(5);
  const a = rng.normals(4), b = rng.normals(4), fixed = rng.normals(4);
  const copies = [a, b, fixed].map((v) => Float64Array.from(v));
  const f = async ([a, b, c]: Float64Array[]) => a!.map((v, i) => v * b![i]! + c![i]!);
  const g = async ([a, b]: Float64Array[], r: Float64Array) => [b!.map((v, i) => v * r[i]!), a!.map((v, i) => v * r[i]!), new Float64Array(0)];
  const res = await gradcheck(f, g, [a, b, fixed], { inputs: [0, 1] });
  assert.ok(res.ok, JSON.stringify(res.worst));
  assert.is(res.checked, 8);
  assert.equal([a, b, fixed], copies);
});

test('gradcheck: a NaN gradient fails', async () => {
  const res = await gradcheck(square, ([x]) => [x!.map(() => NaN)], [Float64Array.from([1, 2])]);
  assert.not.ok(res.ok);
});

test('nudgeAwayFromKinks: moves only values near the kinks, keeping their side', () => {
  const x = Float64Array.from([0, -1e-5, 2e-5, 0.5, 5.99999, 6.00001, -3]);
  nudgeAwayFromKinks(x, 1e-3, [0, 6]);
  assert.equal(Array.from(x), [1e-3, -1e-3, 1e-3, 0.5, 6 - 1e-3, 6 + 1e-3, -3]);
});

test.run();
