// EfficientNet-B0 with torchvision's structure and names (features.S.B.block.M..., classifier.1):
// MBConv blocks (expand 1x1, depthwise kxk, squeeze-and-excitation, project 1x1) with SiLU.
import { Tensor } from '../autograd/tensor.js';
import { Module } from './module.js';
import { Linear } from './layers.js';
import { ConvNormAct, SqueezeExcitation, makeDivisible } from './blocks.js';
import { SeqNamed, Passthrough } from './mobilenet.js';
import { InitRng, uniformArray } from './init.js';
import * as ops from '../ops/index.js';

export interface EfficientNetOptions { numClasses?: number; inChannels?: number; smallStem?: boolean; dropout?: number; seed?: number }

export class MBConv extends Module {
  readonly block: SeqNamed;
  readonly useRes: boolean;
  constructor(inp: number, out: number, kernel: number, stride: number, expand: number, rng: InitRng) {
    super();
    this.useRes = stride === 1 && inp === out;
    const hidden = makeDivisible(inp * expand);
    this.block = this.child('block', new SeqNamed());
    if (hidden !== inp) this.block.add(new ConvNormAct(inp, hidden, 1, { act: 'silu' }, rng));
    this.block.add(new ConvNormAct(hidden, hidden, kernel, { stride, groups: hidden, act: 'silu' }, rng));
    this.block.add(new SqueezeExcitation(hidden, Math.max(1, Math.floor(inp / 4)), rng));
    this.block.add(new ConvNormAct(hidden, out, 1, { act: null }, rng));
  }
  // torchvision's stochastic depth is a training-time regulariser without parameters; it is not applied
  // here (documented deviation): eval outputs and weights are unaffected.
  forward(x: Tensor): Tensor {
    const y = this.block.forward(x);
    return this.useRes ? ops.add(x, y) : y;
  }
}

export class EfficientNetB0 extends Module {
  readonly body: SeqNamed;
  readonly classifierFc: Linear | null;
  readonly featureDim = 1280;
  private readonly dropoutP: number;
  private seed: number;
  constructor(opts: EfficientNetOptions = {}) {
    super();
    const rng = new InitRng(opts.seed ?? 0);
    this.seed = (opts.seed ?? 0) * 6151 + 3;
    // expand, kernel, stride, in, out, layers (torchvision's efficientnet_b0 configuration).
    const conf: [number, number, number, number, number, number][] = [
      [1, 3, 1, 32, 16, 1], [6, 3, 2, 16, 24, 2], [6, 5, 2, 24, 40, 2], [6, 3, 2, 40, 80, 3],
      [6, 5, 1, 80, 112, 3], [6, 5, 2, 112, 192, 4], [6, 3, 1, 192, 320, 1]];
    this.body = this.child('features', new SeqNamed());
    this.body.add(new ConvNormAct(opts.inChannels ?? 3, 32, 3, { stride: opts.smallStem ? 1 : 2, act: 'silu' }, rng));
    for (const [e, k, s, inp, out, n] of conf) {
      const stage = new SeqNamed();
      for (let i = 0; i < n; i++) {
        const stride = i === 0 ? (opts.smallStem && out === 24 ? 1 : s) : 1;
        stage.add(new MBConv(i === 0 ? inp : out, out, k, stride, e, rng));
      }
      this.body.add(stage);
    }
    this.body.add(new ConvNormAct(320, 1280, 1, { act: 'silu' }, rng));
    this.dropoutP = opts.dropout ?? 0.2;
    const classes = opts.numClasses ?? 1000;
    if (classes > 0) {
      const cls = this.child('classifier', new SeqNamed());
      cls.add(new Passthrough());
      this.classifierFc = cls.add(new Linear(1280, classes, true, rng));
      // torchvision: uniform(-1/sqrt(classes), 1/sqrt(classes)) weights, zero bias.
      this.classifierFc.loadStateDict(new Map([['weight', { shape: [classes, 1280], data: uniformArray(classes * 1280, 1 / Math.sqrt(classes), rng) }],
        ['bias', { shape: [classes], data: new Float32Array(classes) }]]));
    } else this.classifierFc = null;
  }
  features(x: Tensor): Tensor { return ops.globalAvgPool(this.body.forward(x)); }
  forward(x: Tensor): Tensor {
    const f = this.features(x);
    if (!this.classifierFc) return f;
    const d = ops.dropout(f, this.dropoutP, { training: this.training, seed: (this.seed = (this.seed * 1103515245 + 12345) >>> 0) });
    return this.classifierFc.forward(d);
  }
}
