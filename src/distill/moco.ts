// MoCo-v2 (self-supervised pre-training; `simreg pretrain`) and DisCo (MoCo-v2 for the student plus
// consistency with a frozen teacher's final embedding; `simreg distill --method disco`), one class.
//
// Query encoder = backbone + projection head Linear(d, hidden)-ReLU-Linear(hidden, 128); the key encoder is its
// momentum copy (m = 0.999), its keys fill a queue (65536 x 128 in the paper) and InfoNCE at temperature 0.2
// contrasts each query with its key against the queue. DisCo adds, on both views, the squared distance between
// the student's and the teacher's L2-normalised final embeddings, weighted 32 per per-sample mean term, and
// widens the student head's hidden layer to 2048 (the "distilling bottleneck").
//
// Shuffling BN (MoCo's multi-GPU trick that stops queries and keys sharing batch statistics) has no second
// device here. The single-device replacement: the key batch is permuted by a seeded RNG (seed, step) and the
// key encoder runs on `keyGroups` separate sub-batches of the permuted order, so each key's BatchNorm
// statistics come from a random subset of the batch unlike the query's whole-batch statistics; the keys are
// then put back in sample order.
import { Tensor } from '../autograd/tensor.js';
import { noGrad, tidy } from '../autograd/scope.js';
import { stream } from '../gpu/stream.js';
import { l2Normalize, infoNCE, cosineRegressionLoss, affine, add, emaInPlace, gatherRows } from '../ops/index.js';
import { Rng, hashKey } from '../data/index.js';
import type { Batch } from '../data/index.js';
import type { Module } from '../nn/module.js';
import { Encoder, type ModelSpec } from './models.js';
import type { Method } from '../train/trainer.js';

export interface MocoOptions {
  spec: ModelSpec;
  /** Projection head hidden width: MoCo-v2 uses the feature dimension; DisCo widens it to 2048. */
  hidden: number;
  /** Embedding dimension (128). */
  dim: number;
  /** Queue length (65536 in the paper); a multiple of the batch size. */
  queue: number;
  /** Key-encoder momentum (0.999). */
  momentum: number;
  /** InfoNCE temperature (0.2). */
  temperature: number;
  /** Sub-batches of the key encoder's BatchNorm (the Shuffling-BN replacement, see above). */
  keyGroups: number;
  /** Images per step on this device (the global batch over `replicas`). */
  batchSize: number;
  /** Data-parallel replicas: the queue advances by the keys of all of them (the global batch) every step. */
  replicas?: number;
  seed: number;
  /** DisCo: a frozen teacher with a projection head, and the consistency weight (32). */
  teacher?: Encoder;
  consistencyWeight?: number;
}

export class MocoMethod implements Method {
  readonly name: string;
  readonly query: Encoder;
  readonly key: Encoder;
  readonly queue: Tensor;
  private ptr = 0;
  private readonly zeros: Tensor;
  readonly modules: [string, Module][];
  /** (key parameter, query parameter) pairs for the momentum update, matched by name once. */
  private readonly pairs: [Tensor, Tensor][];
  /** This step's keys, enqueued after the optimiser step. */
  private lastKeys: Tensor | null = null;
  /** Host scratch for one key group's permuted images (the upload copies it, so it is reused every step). */

  constructor(readonly o: MocoOptions) {
    const global = o.batchSize * (o.replicas ?? 1);
    if (!(o.queue > 0 && o.queue % global === 0)) throw new Error(`MoCo: the queue length (${o.queue}) must be a positive multiple of the batch size (${global})`);
    if (!(o.momentum >= 0 && o.momentum < 1)) throw new Error(`MoCo: momentum must be in [0, 1), got ${o.momentum}`);
    if (!(o.temperature > 0)) throw new Error(`MoCo: temperature must be positive, got ${o.temperature}`);
    if (!(Number.isInteger(o.keyGroups) && o.keyGroups >= 1 && o.batchSize % o.keyGroups === 0 && o.batchSize / o.keyGroups >= 2)) {
      throw new Error(`MoCo: --key-groups ${o.keyGroups} must divide the batch size ${o.batchSize} into sub-batches of at least 2`);
    }
    if (o.teacher && !o.teacher.head) throw new Error('DisCo: the teacher has no projection head (fc.0/fc.2); DisCo needs the teacher\'s final embedding (e.g. a MoCo checkpoint or `simreg pretrain` output)');
    if (o.teacher && o.teacher.head!.outDim !== o.dim) throw new Error(`DisCo: the teacher's embedding has ${o.teacher.head!.outDim} dimensions; the student's head must match (--dim ${o.teacher.head!.outDim})`);
    this.name = o.teacher ? 'disco' : 'moco-v2';
    this.query = new Encoder(o.spec, { hidden: o.hidden, out: o.dim }, o.seed);
    this.key = new Encoder(o.spec, { hidden: o.hidden, out: o.dim }, o.seed);
    // The key encoder starts as a copy of the query encoder and never gets gradients.
    const kp = new Map(this.key.namedParameters());
    this.pairs = this.query.namedParameters().map(([n, p]) => [kp.get(n)!, p]);
    for (const [k, q] of this.pairs) stream.copy(q.buffer, 0, k.buffer, 0, q.size * 4);
    this.key.requiresGrad(false);
    // Queue of unit-length random keys (MoCo initialises it with normalised Gaussian noise).
    const rng = new Rng(hashKey(o.seed, 0x5eed));
    const q = new Float32Array(o.queue * o.dim);
    for (let r = 0; r < o.queue; r++) {
      let s = 0;
      for (let j = 0; j < o.dim; j++) {
        const v = Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
        q[r * o.dim + j] = v; s += v * v;
      }
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < o.dim; j++) q[r * o.dim + j]! *= inv;
    }
    this.queue = Tensor.fromArray(q, [o.queue, o.dim]).keep();
    this.zeros = Tensor.fromArray(new Int32Array(o.batchSize), [o.batchSize], 'i32').keep();
    this.modules = [['query', this.query], ['key', this.key]];
  }

  trainable(): [string, Tensor][] { return this.query.namedParameters(); }
  extraTensors(): [string, Tensor][] { return [['queue', this.queue]]; }
  hostState(): Record<string, number> { return { queuePtr: this.ptr }; }
  loadHostState(s: Record<string, number>): void { this.ptr = s.queuePtr ?? 0; }

  /**
   * Keys for a batch of views (already on the device): permuted, encoded in groups, normalised, put back in
   * sample order. The permutation's gathers run as kernels (gather_rows), not one copy per sample.
   */
  private keys(x: Tensor, step: number): Tensor {
    const n = x.shape[0]!;
    const g = this.o.keyGroups;
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    const rng = new Rng(hashKey(this.o.seed, 0xb4, step));
    for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const t = perm[i]!; perm[i] = perm[j]!; perm[j] = t; }
    const inverse = new Int32Array(n);
    perm.forEach((p, i) => { inverse[p] = i; });
    const m = n / g;
    return noGrad(() => tidy(() => {
      // Keys of the shuffled batch, group after group, then back to sample order.
      const shuffled = gatherRows(x, perm);
      const parts: Tensor[] = [];
      for (let gi = 0; gi < g; gi++) {
        const xg = g === 1 ? shuffled : gatherRows(shuffled, Int32Array.from({ length: m }, (_, r) => gi * m + r));
        parts.push(l2Normalize(this.key.forward(xg)));
      }
      let all = parts[0]!;
      if (parts.length > 1) {
        // The groups' keys one after another: one device copy per group (at most 8).
        all = Tensor.empty([n, this.o.dim]);
        parts.forEach((pk, gi) => stream.copy(pk.buffer, 0, all.buffer, gi * m * this.o.dim * 4, m * this.o.dim * 4));
      }
      return gatherRows(all, inverse).keep();
    }));
  }

  loss(batch: Batch, step: number): { loss: Tensor; parts?: Record<string, Tensor> } {
    if (batch.size !== this.o.batchSize) throw new Error(`MoCo: batch of ${batch.size} samples, expected ${this.o.batchSize} (use dropLast)`);
    const [x1, x2] = batch.images as [Float32Array, Float32Array];
    if (!x2 || x1 === x2) throw new Error('MoCo: needs two independent views per sample (views: two)');
    const v1 = Tensor.fromArray(x1, batch.shape), v2 = Tensor.fromArray(x2, batch.shape);
    const q = l2Normalize(this.query.forward(v1));
    const k = this.keys(v2, step);
    this.lastKeys?.dispose();
    this.lastKeys = k.keep();
    const nce = infoNCE(q, k, this.queue, this.o.temperature, this.zeros);
    if (!this.o.teacher) return { loss: nce };
    // DisCo: consistency of the student's final embedding with the teacher's, on both views.
    const t = this.o.teacher;
    const [t1, t2] = noGrad(() => [l2Normalize(t.forward(v1)), l2Normalize(t.forward(v2))]);
    const q2 = l2Normalize(this.query.forward(v2));
    // For unit vectors |a - b|^2 = 2 - 2 cos(a, b): the per-sample mean squared distance is the regression loss.
    const c1 = cosineRegressionLoss(q, t1!), c2 = cosineRegressionLoss(q2, t2!);
    const w = this.o.consistencyWeight ?? 32;
    const cons = affine(add(c1, c2), w, 0);
    return { loss: add(nce, cons), parts: { infonce: nce, consistency: cons } };
  }

  gatherRows(): Tensor[] { return [this.lastKeys!]; }

  /** The keys of every replica's slice (the global batch, replica order) replace this replica's own. */
  useGathered(rows: Tensor[]): void {
    const k = rows[0]!;
    if (k.shape[0] !== this.o.batchSize * (this.o.replicas ?? 1) || k.shape[1] !== this.o.dim) throw new Error(`MoCo: gathered keys of shape [${k.shape.join(', ')}], expected [${this.o.batchSize * (this.o.replicas ?? 1)}, ${this.o.dim}]`);
    this.lastKeys?.dispose();
    this.lastKeys = k.keep();
  }

  afterStep(_batch: Batch, _step: number): void {
    for (const [k, q] of this.pairs) emaInPlace(k, q, this.o.momentum);
    // Enqueue this step's keys (computed before the update, as in MoCo), overwriting the oldest.
    const k = this.lastKeys!;
    stream.copy(k.buffer, 0, this.queue.buffer, this.ptr * this.o.dim * 4, k.size * 4); // one copy per step
    this.ptr = (this.ptr + k.shape[0]!) % this.o.queue;
    k.dispose();
    this.lastKeys = null;
  }

  dispose(): void {
    this.query.dispose(); this.key.dispose(); this.queue.dispose(); this.zeros.dispose(); this.lastKeys?.dispose();
  }
}
