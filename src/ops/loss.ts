// Losses. The regression losses are compositions of primitives (their gradients come from the tape);
// cross-entropy has its own kernels for the max-shifted log-sum-exp.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank, checkSameShape, opError } from './util.js';
import { sub, mul, affine } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { l2Normalize } from './normalize.js';
import { reshape } from './reshape.js';
import { linear } from './gemm.js';
import { concatCols } from './concat.js';

/** mean((a - b)^2) over all elements. */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  checkTensor('mseLoss', 'a', a); checkTensor('mseLoss', 'b', b); checkSameShape('mseLoss', a, b);
  const d = sub(a, b);
  const sq = mul(d, d);
  const l = mean(sq);
  d.dispose(); sq.dispose();
  return l;
}

/** SimReg's regression loss: mean over rows of 2 - 2 cos(p_i, z_i), with p and z L2-normalised first. */
export function cosineRegressionLoss(p: Tensor, z: Tensor): Tensor {
  checkTensor('cosineRegressionLoss', 'p', p); checkTensor('cosineRegressionLoss', 'z', z);
  checkRank('cosineRegressionLoss', 'p', p, 2); checkSameShape('cosineRegressionLoss', p, z);
  const pn = l2Normalize(p), zn = l2Normalize(z);
  const prod = mul(pn, zn);
  const cos = sum(prod, 1);
  const m = mean(cos);
  const l = affine(m, -2, 2);
  for (const t of [pn, zn, prod, cos, m]) t.dispose();
  return l;
}

/** Per-row cross-entropy -log softmax(logits)[label]; labels are an int32 tensor [rows]. */
export function crossEntropyRows(logits: Tensor, labels: Tensor): Tensor {
  checkTensor('crossEntropy', 'logits', logits); checkTensor('crossEntropy', 'labels', labels);
  checkF32('crossEntropy', 'logits', logits); checkRank('crossEntropy', 'logits', logits, 2);
  if (labels.dtype !== 'i32') throw opError('crossEntropy', `labels must be int32, got ${labels.dtype} ${labels.label()}`);
  const [rows, classes] = logits.shape as [number, number];
  if (labels.shape.length !== 1 || labels.shape[0] !== rows) {
    throw opError('crossEntropy', `labels ${fmtShape(labels.shape)} must be [${rows}] to match logits ${logits.label()}`);
  }
  const loss = Tensor.empty([rows]);
  const lse = Tensor.empty([rows]);
  stream.dispatch('ce_fwd', { params: { rows, classes }, bind: { logits, labels, loss, lse }, grid: gridFor('ce_fwd', rows), cost:
    { flops: 4 * rows * classes, bytes: 4 * rows * classes } });
  record('crossEntropy', [logits, labels], loss, [logits, labels, lse], (dy, [sl, slab, slse]) => {
    const dl = Tensor.empty(logits.shape);
    stream.dispatch('ce_bwd', { params: { rows, classes }, bind: { logits: sl!, labels: slab!, lse: slse!, dloss: dy, dlogits: dl }, grid: gridFor('ce_bwd', rows * classes), cost:
      { flops: 3 * rows * classes, bytes: 8 * rows * classes } });
    return [dl, null];
  });
  lse.dispose();
  return loss;
}

/** Mean cross-entropy over rows. Labels: int32 tensor, or an Int32Array checked on the host. */
export function crossEntropy(logits: Tensor, labels: Tensor | Int32Array): Tensor {
  let lab: Tensor;
  if (labels instanceof Int32Array) {
    checkTensor('crossEntropy', 'logits', logits);
    const classes = logits.shape[1] ?? 0;
    const bad = labels.findIndex((v) => v < 0 || v >= classes);
    if (bad >= 0) throw opError('crossEntropy', `label ${labels[bad]} at row ${bad} outside [0, ${classes})`);
    lab = Tensor.fromArray(labels, [labels.length], 'i32');
  } else lab = labels;
  const rows = crossEntropyRows(logits, lab);
  const l = mean(rows);
  rows.dispose();
  if (lab !== labels) lab.dispose();
  return l;
}

/**
 * MoCo's InfoNCE: logits [q.k+, q.queue^T] / T with the positive in column 0, cross-entropy against label 0,
 * mean over rows. q [N, D] and k [N, D] are the (already L2-normalised) query and key embeddings, queue [K, D]
 * holds earlier keys (rows). Gradients flow to q (and to k or the queue only if they require them).
 * `labels` is an int32 tensor of N zeros (kept by the caller so no upload happens per step).
 */
export function infoNCE(q: Tensor, k: Tensor, queue: Tensor, temperature: number, labels: Tensor): Tensor {
  checkTensor('infoNCE', 'q', q); checkTensor('infoNCE', 'k', k); checkTensor('infoNCE', 'queue', queue);
  checkRank('infoNCE', 'q', q, 2); checkSameShape('infoNCE', q, k); checkRank('infoNCE', 'queue', queue, 2);
  if (queue.shape[1] !== q.shape[1]) throw opError('infoNCE', `queue ${queue.label()} must have ${q.shape[1]} columns like q ${q.label()}`);
  if (!(temperature > 0)) throw opError('infoNCE', `temperature must be positive, got ${temperature}`);
  const n = q.shape[0]!;
  const prod = mul(q, k);
  const pos = sum(prod, 1);
  const pos2 = reshape(pos, [n, 1]);
  const neg = linear(q, queue);
  const logits = concatCols(pos2, neg);
  const scaled = affine(logits, 1 / temperature, 0);
  const l = crossEntropy(scaled, labels);
  for (const t of [prod, pos, pos2, neg, logits, scaled]) t.dispose();
  return l;
}
