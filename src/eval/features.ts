// Pooled backbone features of a data set (eval mode, eval pipeline, no gradients), kept on the GPU for
// k-NN and returned to the host for the linear probe.
import { Tensor } from '../autograd/tensor.js';
import { noGrad, tidy } from '../autograd/scope.js';
import { stream } from '../gpu/stream.js';
import { DataLoader, type Dataset, type PipelineSpec } from '../data/index.js';

export interface FeatureExtractor { readonly featureDim: number; features(x: Tensor): Tensor; eval(): unknown; train(on?: boolean): unknown; training: boolean }

export interface Features { features: Tensor; labels: Int32Array }

export async function extractFeatures(model: FeatureExtractor, ds: Dataset, pipeline: PipelineSpec, o: { batchSize?: number; workers?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Features> {
  const wasTraining = model.training;
  model.eval();
  const n = ds.length, d = model.featureDim;
  const out = new Tensor([n, d], 'f32', undefined, false);
  const labels = new Int32Array(n);
  const loader = new DataLoader(ds, { batchSize: o.batchSize ?? 256, pipeline, views: 'single', shuffle: false, workers: o.workers ?? 0 });
  let row = 0;
  try {
    for await (const b of loader.epoch(0)) {
      const f = noGrad(() => tidy(() => model.features(Tensor.fromArray(b.images[0]!, b.shape))));
      stream.copy(f.buffer, 0, out.buffer, row * d * 4, b.size * d * 4);
      f.dispose();
      labels.set(b.labels, row);
      row += b.size;
      b.release();
      await stream.sync();
      o.onProgress?.(row, n);
    }
  } finally {
    await loader.close();
    model.train(wasTraining);
  }
  return { features: out, labels };
}
