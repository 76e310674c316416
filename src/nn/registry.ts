// Architectures by name: the command line, checkpoints and teachers refer to models this way.
import { ResNet, type ResNetOptions } from './resnet.js';
import { MobileNetV2 } from './mobilenet.js';
import { EfficientNetB0 } from './efficientnet.js';
import type { Module } from './module.js';
import type { Tensor } from '../autograd/tensor.js';

export interface Backbone extends Module {
  readonly featureDim: number;
  /** Pooled feature [N, featureDim] (before any classifier). */
  features(x: Tensor): Tensor;
}

export interface ModelOptions extends ResNetOptions { dropout?: number }

export const ARCHITECTURES = ['resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'efficientnet_b0'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export function createModel(arch: string, opts: ModelOptions = {}): Backbone {
  switch (arch) {
    case 'resnet18': case 'resnet34': case 'resnet50': return new ResNet(arch, opts);
    case 'mobilenet_v2': return new MobileNetV2(opts);
    case 'efficientnet_b0': {
      if (opts.widthMultiplier && opts.widthMultiplier !== 1) throw new Error('efficientnet_b0: width multiplier other than 1 is not supported (B0 is fixed)');
      return new EfficientNetB0(opts);
    }
    default: throw new Error(`unknown architecture '${arch}' (known: ${ARCHITECTURES.join(', ')})`);
  }
}
