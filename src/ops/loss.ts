// Losses. The regression losses are compositions of primitives (their gradients come from the tape);
// cross-entropy has its own kernels for the max-shifted log-sum-exp.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank, checkSameShape, elemGrid, opError } from './util.js';
import { sub, mul, affine } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { l2Normalize } from './normalize.js';

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
  stream.dispatch('ce_fwd', {}, { rows, classes }, [logits.binding, labels.binding, loss.binding, lse.binding], elemGrid(rows, 64),
    { flops: 4 * rows * classes, bytes: 4 * rows * classes });
  record('crossEntropy', [logits, labels], loss, [logits, labels, lse], (dy, [sl, slab, slse]) => {
    const dl = Tensor.empty(logits.shape);
    stream.dispatch('ce_bwd', {}, { rows, classes }, [sl!.binding, slab!.binding, slse!.binding, dy.binding, dl.binding], elemGrid(rows * classes),
      { flops: 3 * rows * classes, bytes: 8 * rows * classes });
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
