// MobileNet-v2 with torchvision's structure and names (features.N.conv.M..., classifier.1).
import { Tensor } from '../autograd/tensor.js';
import { Module } from './module.js';
import { Conv2d, BatchNorm, Linear } from './layers.js';
import { ConvNormAct, makeDivisible } from './blocks.js';
import { InitRng, normalArray } from './init.js';
import * as ops from '../ops/index.js';

export interface MobileNetV2Options { numClasses?: number; widthMultiplier?: number; inChannels?: number; smallStem?: boolean; dropout?: number; seed?: number }

export class InvertedResidual extends Module {
  readonly conv: SeqNamed;
  readonly useRes: boolean;
  constructor(inp: number, out: number, stride: number, expand: number, rng: InitRng) {
    super();
    const hidden = Math.round(inp * expand);
    this.useRes = stride === 1 && inp === out;
    const conv = new SeqNamed();
    if (expand !== 1) conv.add(new ConvNormAct(inp, hidden, 1, { act: 'relu6' }, rng));
    conv.add(new ConvNormAct(hidden, hidden, 3, { stride, groups: hidden, act: 'relu6' }, rng));
    conv.add(new Conv2d(hidden, out, 1, {}, rng));
    conv.add(new BatchNorm(out));
    this.conv = this.child('conv', conv);
  }
  forward(x: Tensor): Tensor {
    const y = this.conv.forward(x);
    return this.useRes ? ops.add(x, y) : y;
  }
}

/** A plain sequence whose children are named 0, 1, 2, ... (every child registered). */
export class SeqNamed extends Module {
  readonly items: Module[] = [];
  add<M extends Module>(m: M): M { this.child(String(this.items.length), m); this.items.push(m); return m; }
  forward(x: Tensor): Tensor { let h = x; for (const m of this.items) h = m.forward(h); return h; }
}

export class MobileNetV2 extends Module {
  /** torchvision's `features` (child name); `features(x)` is the pooled-feature method. */
  readonly body: SeqNamed;
  readonly classifierFc: Linear | null;
  readonly featureDim: number;
  private readonly dropoutP: number;
  private seed: number;
  constructor(opts: MobileNetV2Options = {}) {
    super();
    const rng = new InitRng(opts.seed ?? 0);
    this.seed = (opts.seed ?? 0) * 7919 + 1;
    const wm = opts.widthMultiplier ?? 1;
    const setting: [number, number, number, number][] = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
    let inp = makeDivisible(32 * wm);
    const last = makeDivisible(1280 * Math.max(1, wm));
    this.body = this.child('features', new SeqNamed());
    this.body.add(new ConvNormAct(opts.inChannels ?? 3, inp, 3, { stride: opts.smallStem ? 1 : 2, act: 'relu6' }, rng));
    for (const [t, c, n, s] of setting) {
      const out = makeDivisible(c * wm);
      for (let i = 0; i < n; i++) {
        // A small-image stem keeps resolution: the first stride-2 stage runs at stride 1 too.
        const stride = i === 0 ? (opts.smallStem && c === 24 ? 1 : s) : 1;
        this.body.add(new InvertedResidual(inp, out, stride, t, rng));
        inp = out;
      }
    }
    this.body.add(new ConvNormAct(inp, last, 1, { act: 'relu6' }, rng));
    this.featureDim = last;
    this.dropoutP = opts.dropout ?? 0.2;
    const classes = opts.numClasses ?? 1000;
    if (classes > 0) {
      const cls = this.child('classifier', new SeqNamed());
      cls.add(new Passthrough());
      this.classifierFc = cls.add(new Linear(last, classes, true, rng));
      // torchvision: normal(0, 0.01) weights, zero bias.
      this.classifierFc.loadStateDict(new Map([['weight', { shape: [classes, last], data: normalArray(classes * last, 0.01, rng) }], ['bias', { shape: [classes], data: new Float32Array(classes) }]]));
    } else this.classifierFc = null;
  }
  /** Pooled backbone feature [N, featureDim]. */
  features(x: Tensor): Tensor { return ops.globalAvgPool(this.body.forward(x)); }
  forward(x: Tensor): Tensor {
    const f = this.features(x);
    if (!this.classifierFc) return f;
    const d = ops.dropout(f, this.dropoutP, { training: this.training, seed: (this.seed = (this.seed * 1103515245 + 12345) >>> 0) });
    return this.classifierFc.forward(d);
  }
}

/** Stand-in for a parameter-free layer in a torchvision Sequential (keeps the child indices). */
export class Passthrough extends Module {
  forward(x: Tensor): Tensor { return x; }
}
