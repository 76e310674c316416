// k-NN on the GPU in tiles against a brute-force float64 k-NN with the same vote and tie rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor } from '../../src/autograd/tensor.js';
import { knnClassify } from '../../src/eval/knn.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { Rng } from '../helpers/rng.js';

test.before(setupGpu);
test.after(teardownGpu);

function bruteForce(tr: Float64Array, trl: Int32Array, te: Float64Array, d: number, k: number, classes: number, weighted: boolean, temp = 0.07): Int32Array {
  const norm = (a: Float64Array, n: number) => {
    const o = new Float64Array(a.length);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j]! ** 2;
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
      for (let j = 0; j < d; j++) o[i * d + j] = a[i * d + j]! * inv;
    }
    return o;
  };
  const ntr = trl.length, nte = te.length / d;
  const a = norm(tr, ntr), b = norm(te, nte);
  const out = new Int32Array(nte);
  for (let q = 0; q < nte; q++) {
    const sims: { v: number; i: number }[] = [];
    for (let i = 0; i < ntr; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += b[q * d + j]! * a[i * d + j]!;
      sims.push({ v: s, i });
    }
    sims.sort((x, y) => y.v - x.v || x.i - y.i);
    const score = new Float64Array(classes), sum = new Float64Array(classes);
    for (const { v, i } of sims.slice(0, k)) { score[trl[i]!]! += weighted ? Math.exp(v / temp) : 1; sum[trl[i]!]! += v; }
    let best = 0;
    for (let c = 1; c < classes; c++) if (score[c]! > score[best]! || (score[c] === score[best] && sum[c]! > sum[best]!)) best = c;
    out[q] = best;
  }
  return out;
}

function data(seed: number, ntr: number, nte: number, d: number, classes: number) {
  const rng = new Rng(seed);
  // Class centres plus noise, so neighbours mostly share labels but not always.
  const centres = rng.fillNormal(new Float64Array(classes * d));
  const make = (n: number) => {
    const x = new Float64Array(n * d), y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = Math.floor(rng.uniform() * classes);
      for (let j = 0; j < d; j++) x[i * d + j] = centres[y[i]! * d + j]! + 1.5 * rng.normal();
    }
    return { x, y };
  };
  return { tr: make(ntr), te: make(nte) };
}

for (const [ntr, nte, d, tiles] of [[300, 50, 16, { testTile: 1024, trainChunk: 8192 }], [257, 61, 33, { testTile: 16, trainChunk: 64 }], [100, 7, 8, { testTile: 3, trainChunk: 30 }]] as const) {
  test(`k-NN (k = 1, 5, 20; majority and weighted) matches brute force: ${ntr} train, ${nte} test, d ${d}, tiles ${JSON.stringify(tiles)}`, async () => {
    const classes = 5;
    const { tr, te } = data(ntr + nte, ntr, nte, d, classes);
    const trT = Tensor.fromArray(Float32Array.from(tr.x), [ntr, d]), teT = Tensor.fromArray(Float32Array.from(te.x), [nte, d]);
    for (const weighted of [false, true]) {
      const res = await knnClassify(trT, tr.y, teT, te.y, { ks: [1, 5, 20], numClasses: classes, weighted, ...tiles });
      for (const k of [1, 5, 20]) {
        const want = bruteForce(tr.x, tr.y, te.x, d, k, classes, weighted);
        assert.equal(Array.from(res.predictions[k]!), Array.from(want), `k=${k} weighted=${weighted}`);
        let ok = 0;
        for (let i = 0; i < nte; i++) if (want[i] === te.y[i]) ok++;
        assert.is(res.accuracy[k], ok / nte);
      }
    }
    trT.dispose(); teT.dispose();
  });
}

test('k-NN bad inputs and NaN features are named', async () => {
  const a = Tensor.fromArray(new Float32Array(12).fill(1), [3, 4]), b = Tensor.fromArray(new Float32Array(10).fill(1), [2, 5]);
  await rejects(() => knnClassify(a, Int32Array.of(0, 1, 0), b, null, { numClasses: 2 }), /same d/);
  const c = Tensor.fromArray(new Float32Array(8).fill(1), [2, 4]);
  await rejects(() => knnClassify(a, Int32Array.of(0, 1), c, null, { numClasses: 2 }), /2 train labels for 3 train features/);
  await rejects(() => knnClassify(a, Int32Array.of(0, 1, 0), c, null, { numClasses: 2, ks: [5] }), /k = 5 exceeds the 3 training features/);
  await rejects(() => knnClassify(a, Int32Array.of(0, 7, 0), c, null, { numClasses: 2, ks: [1] }), /train label 7 at 1/);
  const n = Tensor.fromArray([1, 2, 3, NaN, 1, 0, 0, 0], [2, 4]);
  await rejects(() => knnClassify(a, Int32Array.of(0, 1, 0), n, null, { numClasses: 2, ks: [1] }), /NaN similarity for test row 0/);
  for (const t of [a, b, c, n]) t.dispose();
});

async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try { await fn(); } catch (e) { assert.match((e as Error).message, re); return; }
  assert.unreachable(`expected a rejection matching ${re}`);
}

test.run();
