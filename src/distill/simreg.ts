// SimReg: a student backbone plus one prediction head per teacher regresses each frozen teacher's
// L2-normalised pooled feature; loss = mean over teachers of mean over the batch of 2 - 2 cos. The heads
// are discarded at export. By default teacher and student see the same weakly augmented image.
//
// Cached-teacher mode (the official code's option for a teacher that sees un-augmented images): each
// teacher's features of the whole training set are computed once, kept on disk as safetensors shards next
// to the run, reused by later runs whose teacher file and data set match, and gathered per batch by sample index.
import { Tensor } from '../autograd/tensor.js';
import { noGrad, tidy } from '../autograd/scope.js';
import { cosineRegressionLoss, add, scale } from '../ops/index.js';
import type { Batch } from '../data/index.js';
import { Module } from '../nn/module.js';
import { simregHead, type MLPHead, type SimRegHeadKind } from '../nn/heads.js';
import type { Backbone } from '../nn/registry.js';
import type { Method } from '../train/trainer.js';
import { buildBackbone, type Encoder, type ModelSpec } from './models.js';

export interface SimRegOptions {
  student: ModelSpec;
  teachers: Encoder[];
  head: SimRegHeadKind;
  seed: number;
  /** Per-teacher host features [datasetLength * dim] (cached mode); the teacher is not run per batch then. */
  cached?: (Float32Array | null)[];
}

/** Student backbone + heads, as one module so checkpoints name them student.* and heads.<i>.*. */
export class SimRegStudent extends Module {
  readonly backbone: Backbone;
  readonly heads: MLPHead[];
  constructor(spec: ModelSpec, targetDims: number[], head: SimRegHeadKind, seed: number) {
    super();
    this.backbone = this.child('backbone', buildBackbone(spec, seed));
    this.heads = targetDims.map((d, i) => this.child(`head${i}`, simregHead(this.backbone.featureDim, d, head, seed + 100 + i)));
  }
  forward(x: Tensor): Tensor { return this.backbone.features(x); }
}

export class SimRegMethod implements Method {
  readonly name = 'simreg';
  readonly student: SimRegStudent;
  readonly modules: [string, Module][];

  constructor(readonly o: SimRegOptions) {
    if (!o.teachers.length) throw new Error('SimReg: at least one teacher is needed');
    this.student = new SimRegStudent(o.student, o.teachers.map((t) => t.featureDim), o.head, o.seed);
    this.modules = [['student', this.student]];
    for (const t of o.teachers) t.eval().requiresGrad(false);
  }

  trainable(): [string, Tensor][] { return this.student.namedParameters(); }
  extraTensors(): [string, Tensor][] { return []; }
  hostState(): Record<string, number> { return {}; }
  loadHostState(): void { /* nothing */ }

  loss(batch: Batch): { loss: Tensor; parts?: Record<string, Tensor> } {
    const xs = Tensor.fromArray(batch.images[batch.images.length - 1]!, batch.shape);
    // 'shared' gives the same array twice (teacher and student see one view); 'two' gives the teacher view 0.
    const xt = batch.images.length > 1 && batch.images[0] !== batch.images[1] ? Tensor.fromArray(batch.images[0]!, batch.shape) : xs;
    const f = this.student.backbone.features(xs);
    const losses: Tensor[] = [];
    const parts: Record<string, Tensor> = {};
    this.o.teachers.forEach((t, i) => {
      const cache = this.o.cached?.[i];
      let target: Tensor;
      if (cache) {
        const d = t.featureDim;
        const rows = new Float32Array(batch.size * d);
        for (let r = 0; r < batch.size; r++) rows.set(cache.subarray(batch.indices[r]! * d, (batch.indices[r]! + 1) * d), r * d);
        target = Tensor.fromArray(rows, [batch.size, d]);
      } else {
        target = noGrad(() => t.features(xt));
      }
      const l = cosineRegressionLoss(this.student.heads[i]!.forward(f), target);
      losses.push(l);
      if (this.o.teachers.length > 1) parts[`teacher${i}`] = l;
    });
    let total = losses[0]!;
    for (let i = 1; i < losses.length; i++) total = add(total, losses[i]!);
    if (losses.length > 1) total = scale(total, 1 / losses.length);
    return { loss: total, parts };
  }

  afterStep(): void { /* teachers are frozen; nothing to update */ }

  dispose(): void { this.student.dispose(); }
}

/** Teacher features of every sample of a data set (eval mode, no augmentation), on the host. */
export async function teacherFeatures(t: Encoder, images: AsyncIterable<{ x: Float32Array; shape: [number, number, number, number]; indices: Int32Array }>, length: number): Promise<Float32Array> {
  const d = t.featureDim;
  const out = new Float32Array(length * d);
  for await (const b of images) {
    const f = noGrad(() => tidy(() => t.features(Tensor.fromArray(b.x, b.shape))));
    const v = await f.read();
    f.dispose();
    for (let r = 0; r < b.indices.length; r++) out.set(v.subarray(r * d, (r + 1) * d), b.indices[r]! * d);
  }
  return out;
}
