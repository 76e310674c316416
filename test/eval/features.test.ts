// Feature extraction over a data set holds on to nothing but its output: the pool's bytes in use return to
// where they were once the features are disposed (a leak here grew a 12000-image evaluation past 20 GB).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { extractFeatures } from '../../src/eval/features.js';
import { poolStats } from '../../src/gpu/pool.js';
import { createModel } from '../../src/nn/registry.js';
import { ArrayDataset, makePipeline } from '../../src/data/index.js';

test.before(setupGpu);
test.after(teardownGpu);

test('extractFeatures: right shape and labels, no device memory kept beyond the result', async () => {
  const n = 40, side = 12;
  const pixels = new Uint8Array(n * side * side);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 251;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const ds = new ArrayDataset({ name: 'synthetic', pixels, labels, width: side, height: side, channels: 1, numClasses: 3 });
  const model = createModel('resnet18', { smallStem: true, inChannels: 1, widthMultiplier: 0.125, numClasses: 0 });
  const pipe = makePipeline('eval', { size: side, channels: 1 });
  const first = await extractFeatures(model, ds, pipe, { batchSize: 16 });
  first.features.dispose();
  const before = poolStats().bytesInUse;
  const f = await extractFeatures(model, ds, pipe, { batchSize: 16 });
  assert.equal(f.features.shape, [n, 64]);
  assert.equal(Array.from(f.labels), Array.from(labels));
  f.features.dispose();
  assert.is(poolStats().bytesInUse, before, 'extractFeatures left tensors alive');
  assert.ok(model.training, 'the model is back in training mode');
  model.dispose();
});

test.run();
