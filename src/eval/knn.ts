// k-NN evaluation on L2-normalised features (SimReg/DisCo protocol: k = 1 and 20, majority vote; the
// similarity-weighted vote as an option). Similarities are computed on the GPU in tiles (test rows x train
// columns) with one GEMM each, reduced to the top k per row on the GPU; only k candidates per row and chunk
// come back to the host, where chunks are merged and votes counted.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { noGrad } from '../autograd/scope.js';
import { stream, grid1d, gridFor } from '../gpu/stream.js';
import { gemm } from '../ops/gemm.js';
import { l2Normalize } from '../ops/normalize.js';

export interface KnnOptions {
  /** Neighbour counts to evaluate (default [1, 20]); at most 64. */
  ks?: number[];
  numClasses: number;
  /** Weighted vote: each neighbour adds exp(similarity / temperature) (InstDisc's kNN); default majority vote. */
  weighted?: boolean;
  temperature?: number;
  /** Tile sizes (rows of test features per tile, train features per chunk). */
  testTile?: number;
  trainChunk?: number;
}

export interface KnnResult {
  /** Top-1 accuracy (0..1) per k. */
  accuracy: Record<number, number>;
  /** Predicted class per test row, per k. */
  predictions: Record<number, Int32Array>;
}

/**
 * Classify each test feature by its nearest training features (cosine similarity of L2-normalised features).
 * Majority ties go to the class with the larger summed similarity, then the smaller class index.
 */
export async function knnClassify(train: Tensor, trainLabels: Int32Array, test: Tensor, testLabels: Int32Array | null, o: KnnOptions): Promise<KnnResult> {
  const ks = [...(o.ks ?? [1, 20])].sort((a, b) => a - b);
  const K = ks[ks.length - 1]!;
  if (train.shape.length !== 2 || test.shape.length !== 2 || train.shape[1] !== test.shape[1]) {
    throw new Error(`knn: features must be [n, d] with the same d, got train ${fmtShape(train.shape)} and test ${fmtShape(test.shape)}`);
  }
  const [ntr, d] = train.shape as [number, number];
  const nte = test.shape[0]!;
  if (trainLabels.length !== ntr) throw new Error(`knn: ${trainLabels.length} train labels for ${ntr} train features`);
  if (testLabels && testLabels.length !== nte) throw new Error(`knn: ${testLabels.length} test labels for ${nte} test features`);
  if (!ks.every((k) => Number.isInteger(k) && k >= 1 && k <= 64)) throw new Error(`knn: k must be integers in [1, 64], got ${ks.join(', ')}`);
  if (K > ntr) throw new Error(`knn: k = ${K} exceeds the ${ntr} training features`);
  const bad = trainLabels.findIndex((l) => l < 0 || l >= o.numClasses);
  if (bad >= 0) throw new Error(`knn: train label ${trainLabels[bad]} at ${bad} outside [0, ${o.numClasses})`);
  const T = o.testTile ?? 1024, C = o.trainChunk ?? 8192;
  const temp = o.temperature ?? 0.07;

  const trn = noGrad(() => l2Normalize(train));
  const tst = noGrad(() => l2Normalize(test));
  const votes: Record<number, Int32Array> = {};
  for (const k of ks) votes[k] = new Int32Array(nte);
  try {
    for (let t0 = 0; t0 < nte; t0 += T) {
      const rows = Math.min(T, nte - t0);
      // This tile of test rows, copied out so the GEMM sees a packed [rows, d] matrix.
      const tile = new Tensor([rows, d], 'f32', undefined, false);
      stream.copy(tst.buffer, t0 * d * 4, tile.buffer, 0, rows * d * 4);
      const candV: Float32Array[] = [], candI: Int32Array[] = [];
      for (let c0 = 0; c0 < ntr; c0 += C) {
        const cols = Math.min(C, ntr - c0);
        const chunk = new Tensor([cols, d], 'f32', undefined, false);
        stream.copy(trn.buffer, c0 * d * 4, chunk.buffer, 0, cols * d * 4);
        const sim = new Tensor([rows, cols], 'f32', undefined, false);
        gemm({ a: tile, b: chunk, c: sim, m: rows, n: cols, k: d, transB: true });
        const kk = Math.min(K, cols);
        const vals = new Tensor([rows, kk], 'f32', undefined, false), idx = new Tensor([rows, kk], 'i32', undefined, false);
        stream.dispatch('topk_rows', { params: { rows, cols, k: kk, col_offset: c0 }, bind: { s: sim, vals, idx }, grid: gridFor('topk_rows', rows) });
        candV.push(await vals.read());
        candI.push(await idx.readInt());
        for (const x of [chunk, sim, vals, idx]) x.dispose();
      }
      tile.dispose();
      for (let r = 0; r < rows; r++) {
        // Merge the chunks' candidates into the global top K (descending similarity, earlier index first).
        const cand: { v: number; i: number }[] = [];
        candV.forEach((cv, ci) => {
          const kk = cv.length / rows;
          for (let j = 0; j < kk; j++) cand.push({ v: cv[r * kk + j]!, i: candI[ci]![r * kk + j]! });
        });
        if (cand.some((c) => Number.isNaN(c.v))) throw new Error(`knn: NaN similarity for test row ${t0 + r}: the features contain NaN`);
        cand.sort((a, b) => b.v - a.v || a.i - b.i);
        for (const k of ks) votes[k]![t0 + r] = vote(cand.slice(0, k), trainLabels, o.numClasses, o.weighted ?? false, temp);
      }
    }
  } finally {
    trn.dispose();
    tst.dispose();
  }
  const accuracy: Record<number, number> = {};
  for (const k of ks) {
    if (!testLabels) { accuracy[k] = NaN; continue; }
    let ok = 0;
    for (let i = 0; i < nte; i++) if (votes[k]![i] === testLabels[i]) ok++;
    accuracy[k] = ok / nte;
  }
  return { accuracy, predictions: votes };
}

function vote(nb: { v: number; i: number }[], labels: Int32Array, classes: number, weighted: boolean, temp: number): number {
  const score = new Float64Array(classes), simSum = new Float64Array(classes);
  for (const { v, i } of nb) {
    const c = labels[i]!;
    score[c]! += weighted ? Math.exp(v / temp) : 1;
    simSum[c]! += v;
  }
  let best = 0;
  for (let c = 1; c < classes; c++) {
    if (score[c]! > score[best]! || (score[c] === score[best] && simSum[c]! > simSum[best]!)) best = c;
  }
  return best;
}
