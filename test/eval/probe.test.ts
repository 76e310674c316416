// Linear probe: learns a linearly separable problem, standardises features (a huge constant offset and scale
// on one dimension does not hurt it), and checks its inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { linearProbe } from '../../src/eval/probe.js';
import { Rng } from '../helpers/rng.js';

test.before(setupGpu);
test.after(teardownGpu);

function blobs(n: number, d: number, classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const centres = new Float64Array(classes * d);
  rng.fillNormal(centres);
  const x = new Float32Array(n * d), y = new Int32Array(n);
  const noise = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    rng.fillNormal(noise);
    for (let j = 0; j < d; j++) x[i * d + j] = 3 * centres[c * d + j]! + noise[j]!;
    x[i * d] = x[i * d]! * 1000 + 5000; // a badly scaled dimension: standardisation must cope
  }
  return { x, y };
}

test('linear probe separates Gaussian blobs (> 95% top-1 on held-out samples)', async () => {
  const d = 16, k = 5;
  // One draw (one set of class centres): the first 2000 samples train, the last 500 test.
  const all = blobs(2500, d, k, 1);
  const r = await linearProbe(all.x.subarray(0, 2000 * d), all.y.subarray(0, 2000), all.x.subarray(2000 * d), all.y.subarray(2000), d, { numClasses: k, epochs: 20, batchSize: 100 });
  assert.ok(r.top1 > 0.95, `top-1 ${r.top1}`);
  assert.ok(Number.isFinite(r.trainLoss) && r.trainLoss < Math.log(k) * 0.8, `train loss ${r.trainLoss} not below chance (ln ${k})`);
});

test('linear probe rejects features that do not match the labels', async () => {
  let err: Error | null = null;
  try { await linearProbe(new Float32Array(10), new Int32Array(3), new Float32Array(4), new Int32Array(2), 2, { numClasses: 2 }); } catch (e) { err = e as Error; }
  assert.match(err?.message ?? '', /do not match 3\/2 samples of dimension 2/);
});

test.run();
