// MLP heads: a configurable stack of Linear / BatchNorm1d / ReLU, named like torch.nn.Sequential.
// SimReg's prediction heads (linear, 2-layer, 4-layer) and DisCo's widened projection head are presets.
import { Tensor } from '../autograd/tensor.js';
import { Module } from './module.js';
import { Linear, BatchNorm, ReLU, Sequential } from './layers.js';
import { InitRng } from './init.js';

export interface HeadLayer { out: number; bn?: boolean; relu?: boolean; bias?: boolean }

export class MLPHead extends Module {
  readonly net: Sequential;
  readonly inDim: number;
  readonly outDim: number;
  constructor(inDim: number, layers: HeadLayer[], seed = 0) {
    super();
    if (!layers.length) throw new Error('MLPHead: needs at least one layer');
    const rng = new InitRng(seed);
    const mods: Module[] = [];
    let d = inDim;
    for (const l of layers) {
      if (!(Number.isInteger(l.out) && l.out > 0)) throw new Error(`MLPHead: layer width must be a positive integer, got ${l.out}`);
      mods.push(new Linear(d, l.out, l.bias ?? true, rng));
      if (l.bn) mods.push(new BatchNorm(l.out));
      if (l.relu) mods.push(new ReLU());
      d = l.out;
    }
    this.net = this.child('net', new Sequential(mods));
    this.inDim = inDim;
    this.outDim = d;
  }
  forward(x: Tensor): Tensor { return this.net.forward(x); }
}

export type SimRegHeadKind = 'linear' | 'mlp2' | 'mlp4';

/** SimReg (DESIGN 9): 4-layer Linear(d,2d)-BN-ReLU-Linear(2d,d)-Linear(d,2d)-BN-ReLU-Linear(2d,T); 2-layer; linear. */
export function simregHead(d: number, target: number, kind: SimRegHeadKind = 'mlp4', seed = 0): MLPHead {
  switch (kind) {
    case 'linear': return new MLPHead(d, [{ out: target }], seed);
    case 'mlp2': return new MLPHead(d, [{ out: 2 * d, bn: true, relu: true }, { out: target }], seed);
    case 'mlp4': return new MLPHead(d, [{ out: 2 * d, bn: true, relu: true }, { out: d }, { out: 2 * d, bn: true, relu: true }, { out: target }], seed);
    default: throw new Error(`unknown SimReg head '${String(kind)}' (linear, mlp2, mlp4)`);
  }
}

/** MoCo-v2 / DisCo projection head: Linear(d,hidden)-ReLU-Linear(hidden,out); DisCo widens hidden to 2048. */
export function projectionHead(d: number, hidden = 2048, out = 128, seed = 0): MLPHead {
  return new MLPHead(d, [{ out: hidden, relu: true }, { out }], seed);
}
