// Layers with PyTorch's parameter names and default initialisation.
import { Tensor } from '../autograd/tensor.js';
import { Module } from './module.js';
import { InitRng, normalArray, uniformArray } from './init.js';
import * as ops from '../ops/index.js';

export interface Conv2dConfig { stride?: number; padding?: number; groups?: number; bias?: boolean; init?: 'kaiming_fan_out' | 'default' }

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, readonly cfg: Conv2dConfig, rng: InitRng) {
    super();
    const groups = cfg.groups ?? 1;
    const shape = [outChannels, inChannels / groups, kernel, kernel];
    const n = shape.reduce((a, b) => a * b, 1);
    if ((cfg.init ?? 'kaiming_fan_out') === 'kaiming_fan_out') {
      // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / fan_out), where PyTorch's
      // fan_out is weight.size(0) * k * k = out * k * k (not divided by groups).
      this.weight = this.param('weight', normalArray(n, Math.sqrt(2 / (outChannels * kernel * kernel)), rng), shape);
    } else {
      const fanIn = (inChannels / groups) * kernel * kernel;
      this.weight = this.param('weight', uniformArray(n, 1 / Math.sqrt(fanIn), rng), shape);
    }
    this.bias = cfg.bias ? this.param('bias', uniformArray(outChannels, 1 / Math.sqrt((inChannels / groups) * kernel * kernel), rng), [outChannels]) : null;
  }
  forward(x: Tensor): Tensor {
    return ops.conv2d(x, this.weight, this.bias, { stride: this.cfg.stride ?? 1, padding: this.cfg.padding ?? 0, groups: this.cfg.groups ?? 1 });
  }
}

/** BatchNorm over (N,C,H,W) or (N,C). `fuseRelu` applies ReLU in the same pass (used by blocks, not by the state dict). */
export class BatchNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  numBatchesTracked = 0;
  constructor(readonly channels: number, readonly eps = 1e-5, readonly momentum = 0.1) {
    super();
    this.weight = this.param('weight', new Float32Array(channels).fill(1), [channels]);
    this.bias = this.param('bias', new Float32Array(channels), [channels]);
    this.runningMean = this.buffer('running_mean', new Float32Array(channels), [channels]);
    this.runningVar = this.buffer('running_var', new Float32Array(channels).fill(1), [channels]);
    this.scalars.set('num_batches_tracked', { get: () => this.numBatchesTracked, set: (v) => { this.numBatchesTracked = v; } });
  }
  forward(x: Tensor, relu = false): Tensor {
    if (this.training) this.numBatchesTracked++;
    return ops.batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, { training: this.training, eps: this.eps, momentum: this.momentum, relu });
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias: boolean, rng: InitRng) {
    super();
    // PyTorch: kaiming_uniform_(a=sqrt(5)) -> U(-1/sqrt(in), 1/sqrt(in)); bias the same bound.
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', uniformArray(outFeatures * inFeatures, bound, rng), [outFeatures, inFeatures]);
    this.bias = bias ? this.param('bias', uniformArray(outFeatures, bound, rng), [outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return ops.relu(x); }
}

/** Children named "0", "1", ... like torch.nn.Sequential; a BatchNorm directly followed by ReLU runs fused. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => { if (!(m instanceof ReLU)) this.child(String(i), m); });
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i]!;
      if (m instanceof BatchNorm && this.layers[i + 1] instanceof ReLU) { h = m.forward(h, true); i++; continue; }
      h = m.forward(h);
    }
    return h;
  }
}
