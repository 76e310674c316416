// torchvision's Conv2dNormActivation (conv -> BN -> activation, children "0", "1") and SqueezeExcitation.
import { Tensor } from '../autograd/tensor.js';
import { Module } from './module.js';
import { Conv2d, BatchNorm } from './layers.js';
import { InitRng } from './init.js';
import * as ops from '../ops/index.js';

export type Act = 'relu' | 'relu6' | 'silu' | null;

export function activate(x: Tensor, act: Act): Tensor {
  return act === 'relu' ? ops.relu(x) : act === 'relu6' ? ops.relu6(x) : act === 'silu' ? ops.silu(x) : x;
}

export class ConvNormAct extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  constructor(inp: number, out: number, kernel: number, o: { stride?: number; groups?: number; act: Act; eps?: number }, rng: InitRng) {
    super();
    this.conv = this.child('0', new Conv2d(inp, out, kernel, { stride: o.stride ?? 1, padding: (kernel - 1) >> 1, groups: o.groups ?? 1 }, rng));
    this.bn = this.child('1', new BatchNorm(out, o.eps ?? 1e-5));
    this.act = o.act;
  }
  readonly act: Act;
  forward(x: Tensor): Tensor {
    const y = this.bn.forward(this.conv.forward(x), this.act === 'relu');
    return this.act === 'relu' ? y : activate(y, this.act);
  }
}

/** SE: scale = sigmoid(fc2(silu(fc1(avgpool(x))))), y = x * scale; fc1/fc2 are 1x1 convs with bias. */
export class SqueezeExcitation extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  constructor(channels: number, squeeze: number, rng: InitRng) {
    super();
    this.fc1 = this.child('fc1', new Conv2d(channels, squeeze, 1, { bias: true }, rng));
    this.fc2 = this.child('fc2', new Conv2d(squeeze, channels, 1, { bias: true }, rng));
  }
  forward(x: Tensor): Tensor {
    const [n, c] = x.shape as [number, number];
    const s = ops.reshape(ops.globalAvgPool(x), [n, c, 1, 1]);
    const g = ops.sigmoid(this.fc2.forward(ops.silu(this.fc1.forward(s))));
    return ops.channelScale(x, g);
  }
}

/** torchvision's _make_divisible: round to a multiple of `divisor`, never below 90% of v. */
export function makeDivisible(v: number, divisor = 8, minValue?: number): number {
  const mv = minValue ?? divisor;
  let nv = Math.max(mv, Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor));
  if (nv < 0.9 * v) nv += divisor;
  return nv;
}
