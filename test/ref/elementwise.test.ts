import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  add, channelScaleBwd, channelScaleFwd, dropoutBwd, dropoutFwd, mulBwd, mulFwd, relu6Bwd, relu6Fwd,
  reluBwd, reluFwd, scaleBwd, scaleFwd, sigmoidBwd, sigmoidFwd, siluBwd, siluFwd,
} from '../../src/ref/elementwise.js';
import { nudgeAwayFromKinks } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

const f64 = (a: number[]) => Float64Array.from(a);

test('relu / relu6: by hand, including the kinks and NaN', () => {
  assertClose(reluFwd(f64([-1, 0, 2.5])), [0, 0, 2.5], 0, 'relu');
  assertClose(reluBwd(f64([-1, 0, 2.5]), f64([5, 5, 5])), [0, 0, 5], 0, 'reluBwd');
  assertClose(relu6Fwd(f64([-1, 3, 7, 6, 0])), [0, 3, 6, 6, 0], 0, 'relu6');
  assertClose(relu6Bwd(f64([-1, 3, 7, 6, 0]), f64([2, 2, 2, 2, 2])), [0, 2, 0, 0, 0], 0, 'relu6Bwd');
  assert.ok(Number.isNaN(reluFwd(f64([NaN]))[0]!), 'relu propagates NaN');
  assert.ok(Number.isNaN(relu6Fwd(f64([NaN]))[0]!), 'relu6 propagates NaN');
});

test('sigmoid / silu: by hand and at extremes', () => {
  // sigmoid(ln 3) = 3 / 4; sigmoid'(ln 3) = 3/16
  const l3 = Math.log(3);
  assertClose(sigmoidFwd(f64([0, l3, -l3])), [0.5, 0.75, 0.25], 1e-15, 'sigmoid');
  assertClose(sigmoidBwd(f64([0, l3]), f64([1, 2])), [0.25, 2 * 3 / 16], 1e-15, 'sigmoidBwd');
  assertClose(sigmoidFwd(f64([-1000, 1000])), [0, 1], 0, 'sigmoid saturates without NaN');
  assertClose(siluFwd(f64([0, l3, -1000])), [0, 0.75 * l3, 0], 1e-15, 'silu');
  // silu'(x) = s (1 + x (1 - s)); at ln 3: 0.75 (1 + ln3 / 4)
  assertClose(siluBwd(f64([0, l3]), f64([1, 1])), [0.5, 0.75 * (1 + l3 / 4)], 1e-15, 'siluBwd');
});

test('add / scale / mul: by hand', () => {
  assertClose(add(f64([1, 2]), f64([10, -20])), [11, -18], 0, 'add');
  assertClose(scaleFwd(f64([1, -2]), 1.5), [1.5, -3], 0, 'scale');
  assertClose(scaleBwd(f64([1, -2]), -2), [-2, 4], 0, 'scaleBwd');
  assertClose(mulFwd(f64([2, 3]), f64([4, -5])), [8, -15], 0, 'mul');
  const g = mulBwd(f64([2, 3]), f64([4, -5]), f64([1, 10]));
  assertClose(g.da, [4, -50], 0, 'da');
  assertClose(g.db, [2, 30], 0, 'db');
});

test('channelScale: by hand', () => {
  // n=1, c=2, hw=2; s = [10, -1]
  const x = f64([1, 2, 3, 4]), s = f64([10, -1]);
  assertClose(channelScaleFwd(x, s, 1, 2, 2), [10, 20, -3, -4], 0, 'fwd');
  const g = channelScaleBwd(x, s, f64([1, 1, 2, 0]), 1, 2, 2);
  assertClose(g.dx, [10, 10, -2, -0], 0, 'dx');
  assertClose(g.ds, [3, 6], 0, 'ds');
});

test('dropout: by hand, p = 0 and p = 1', () => {
  const x = f64([1, 2, 3, 4]), mask = f64([1, 0, 1, 0]);
  assertClose(dropoutFwd(x, mask, 0.5), [2, 0, 6, 0], 0, 'p=0.5');
  assertClose(dropoutBwd(f64([1, 1, 1, 1]), mask, 0.75), [4, 0, 4, 0], 0, 'bwd p=0.75');
  assertClose(dropoutFwd(x, f64([1, 1, 1, 1]), 0), x, 0, 'p=0 is identity');
  assertClose(dropoutFwd(x, f64([0, 0, 0, 0]), 1), [0, 0, 0, 0], 0, 'p=1 is zeros');
});

test('element-wise backwards vs central differences', async () => {
  const rng = new Rng(41);
  for (const n of [1, 7, 40]) {
    // Inputs kept 1e-3 from the kinks, far beyond the 1e-6 step.
    const xr = nudgeAwayFromKinks(rng.normals(n, 2), 1e-3);
    await checkGrad(`relu n=${n}`, ([x]) => reluFwd(x!), ([x], r) => [reluBwd(x!, r)], [xr]);
    const x6 = nudgeAwayFromKinks(rng.fillUniform(new Float64Array(n), -3, 9), 1e-3, [0, 6]);
    await checkGrad(`relu6 n=${n}`, ([x]) => relu6Fwd(x!), ([x], r) => [relu6Bwd(x!, r)], [x6]);
    await checkGrad(`sigmoid n=${n}`, ([x]) => sigmoidFwd(x!), ([x], r) => [sigmoidBwd(x!, r)], [rng.normals(n, 3)]);
    await checkGrad(`silu n=${n}`, ([x]) => siluFwd(x!), ([x], r) => [siluBwd(x!, r)], [rng.normals(n, 3)]);
    await checkGrad(`add n=${n}`, ([a, b]) => add(a!, b!), (_, r) => [r, r], [rng.normals(n), rng.normals(n)]);
    await checkGrad(`scale n=${n}`, ([x]) => scaleFwd(x!, -0.7), (_, r) => [scaleBwd(r, -0.7)], [rng.normals(n)]);
    await checkGrad(`mul n=${n}`, ([a, b]) => mulFwd(a!, b!),
      ([a, b], r) => { const g = mulBwd(a!, b!, r); return [g.da, g.db]; }, [rng.normals(n), rng.normals(n)]);
    const mask = new Float64Array(n).map(() => (rng.uniform() < 0.3 ? 0 : 1));
    await checkGrad(`dropout n=${n}`, ([x]) => dropoutFwd(x!, mask, 0.3), (_, r) => [dropoutBwd(r, mask, 0.3)], [rng.normals(n)]);
  }
});

test('channelScale backward vs central differences', async () => {
  const rng = new Rng(42);
  for (const [n, c, hw] of [[2, 3, 5], [1, 1, 1], [1, 4, 9], [3, 2, 1]] as const) {
    await checkGrad(`channelScale ${n}x${c}x${hw}`,
      ([x, s]) => channelScaleFwd(x!, s!, n, c, hw),
      ([x, s], r) => { const g = channelScaleBwd(x!, s!, r, n, c, hw); return [g.dx, g.ds]; },
      [rng.normals(n * c * hw), rng.normals(n * c)]);
  }
});

test('element-wise: bad inputs throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => reluBwd(a(3), a(4)), 'reluBwd');
  assertThrowsNamed(() => relu6Bwd(a(3), a(2)), 'relu6Bwd');
  assertThrowsNamed(() => sigmoidBwd(a(3), a(2)), 'sigmoidBwd');
  assertThrowsNamed(() => siluBwd(a(1), a(2)), 'siluBwd');
  assertThrowsNamed(() => add(a(3), a(2)), 'add');
  assertThrowsNamed(() => mulFwd(a(3), a(2)), 'mulFwd');
  assertThrowsNamed(() => mulBwd(a(3), a(3), a(2)), 'mulBwd');
  assertThrowsNamed(() => channelScaleFwd(a(12), a(5), 2, 3, 2), 'channelScaleFwd');
  assertThrowsNamed(() => channelScaleBwd(a(12), a(6), a(11), 2, 3, 2), 'channelScaleBwd');
  assertThrowsNamed(() => dropoutFwd(a(3), a(4), 0.5), 'dropoutFwd');
  assertThrowsNamed(() => dropoutFwd(a(2), f64([1, 0.5]), 0.5), 'dropoutFwd');
  assertThrowsNamed(() => dropoutFwd(a(2), f64([1, 0]), 1.5), 'dropoutFwd');
  assertThrowsNamed(() => dropoutBwd(a(2), f64([1, 0]), -0.1), 'dropoutBwd');
});

test.run();
