// Linear probe (SimReg's protocol): frozen features, L2-normalised then standardised with the training
// set's per-dimension mean and standard deviation, one linear layer trained with SGD (lr 0.01, momentum 0.9,
// 40 epochs, learning rate x0.1 at epochs 15 and 30; the epoch count scales, the milestones keep their
// fractions), cross-entropy; top-1 on the test features.
import { Tensor } from '../autograd/tensor.js';
import { tidy, noGrad } from '../autograd/scope.js';
import { backward } from '../autograd/tape.js';
import { crossEntropy } from '../ops/index.js';
import { Linear } from '../nn/layers.js';
import { InitRng } from '../nn/init.js';
import { SGD } from '../optim/sgd.js';
import { stepLr } from '../optim/schedule.js';

export interface ProbeOptions {
  numClasses: number;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  weightDecay?: number;
  seed?: number;
}

export interface ProbeResult { top1: number; trainLoss: number }

function l2rows(x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j]! ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j]! * inv;
  }
  return out;
}

export async function linearProbe(train: Float32Array, trainLabels: Int32Array, test: Float32Array, testLabels: Int32Array, d: number, o: ProbeOptions): Promise<ProbeResult> {
  const ntr = trainLabels.length, nte = testLabels.length;
  if (train.length !== ntr * d || test.length !== nte * d) throw new Error(`linearProbe: features do not match ${ntr}/${nte} samples of dimension ${d}`);
  const epochs = o.epochs ?? 40, lr = o.lr ?? 0.01, bs = Math.min(o.batchSize ?? 256, ntr);
  const a = l2rows(train, d), b = l2rows(test, d);
  const mean = new Float64Array(d), sd = new Float64Array(d);
  for (let r = 0; r < ntr; r++) for (let j = 0; j < d; j++) mean[j]! += a[r * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= ntr;
  for (let r = 0; r < ntr; r++) for (let j = 0; j < d; j++) sd[j]! += (a[r * d + j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]! / ntr) + 1e-6;
  for (const x of [a, b]) for (let i = 0; i < x.length; i++) x[i] = (x[i]! - mean[i % d]!) / sd[i % d]!;

  const fc = new Linear(d, o.numClasses, true, new InitRng(o.seed ?? 0));
  const opt = new SGD(fc.parameters(), { lr, momentum: 0.9, weightDecay: o.weightDecay ?? 0 });
  const perEpoch = Math.floor(ntr / bs);
  const milestones = [Math.round((epochs * 15) / 40), Math.round((epochs * 30) / 40)].map((e) => e * perEpoch);
  let s = ((o.seed ?? 0) * 2654435761 + 7) >>> 0;
  const order = Int32Array.from({ length: ntr }, (_, i) => i);
  const xb = new Float32Array(bs * d), yb = new Int32Array(bs);
  let step = 0, lastLoss = NaN;
  try {
    for (let e = 0; e < epochs; e++) {
      for (let i = ntr - 1; i > 0; i--) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const j = s % (i + 1);
        const t = order[i]!; order[i] = order[j]!; order[j] = t;
      }
      let sum: Tensor | null = null;
      for (let bi = 0; bi < perEpoch; bi++) {
        for (let r = 0; r < bs; r++) { const k = order[bi * bs + r]!; xb.set(a.subarray(k * d, (k + 1) * d), r * d); yb[r] = trainLabels[k]!; }
        opt.lr = stepLr(step, lr, milestones);
        const loss = tidy(() => crossEntropy(fc.forward(Tensor.fromArray(xb, [bs, d])), Tensor.fromArray(yb, [bs], 'i32')));
        backward(loss);
        opt.step();
        opt.zeroGrad();
        if (e === epochs - 1) { sum?.dispose(); sum = loss; } else loss.dispose();
        step++;
      }
      if (sum) { lastLoss = await sum.item(); sum.dispose(); }
    }
    // Test accuracy.
    const logits = noGrad(() => tidy(() => fc.forward(Tensor.fromArray(b, [nte, d]))));
    const v = await logits.read();
    logits.dispose();
    let correct = 0;
    for (let r = 0; r < nte; r++) {
      let best = 0;
      for (let c = 1; c < o.numClasses; c++) if (v[r * o.numClasses + c]! > v[r * o.numClasses + best]!) best = c;
      if (best === testLabels[r]) correct++;
    }
    return { top1: correct / nte, trainLoss: lastLoss };
  } finally {
    opt.dispose();
    fc.dispose();
  }
}
