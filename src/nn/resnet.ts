// ResNet-18/34/50 with torchvision's structure, parameter names and initialisation, plus the options a
// small-image student needs: 3x3 stride-1 stem without max-pool, input channels, width multiplier,
// and no classifier (returns the pooled feature, the target SimReg regresses).
import { Tensor } from '../autograd/tensor.js';
import { Module } from './module.js';
import { Conv2d, BatchNorm, Linear, Sequential } from './layers.js';
import { InitRng } from './init.js';
import * as ops from '../ops/index.js';

export interface ResNetOptions {
  /** 3x3 stride-1 first conv and no max-pool (CIFAR/Fashion-MNIST sized inputs). */
  smallStem?: boolean;
  inChannels?: number;
  /** Multiplies every stage width (64, 128, 256, 512). */
  widthMultiplier?: number;
  /** Classes of the fc layer; 0 drops it and forward returns the pooled feature. Default 1000. */
  numClasses?: number;
  seed?: number;
  /** torchvision's zero_init_residual: last BN of each block starts at gamma = 0. */
  zeroInitResidual?: boolean;
}

export class BasicBlock extends Module {
  static expansion = 1;
  readonly conv1: Conv2d; readonly bn1: BatchNorm; readonly conv2: Conv2d; readonly bn2: BatchNorm;
  readonly downsample: Sequential | null;
  constructor(inp: number, planes: number, stride: number, rng: InitRng, zeroInit: boolean) {
    super();
    this.conv1 = this.child('conv1', new Conv2d(inp, planes, 3, { stride, padding: 1 }, rng));
    this.bn1 = this.child('bn1', new BatchNorm(planes));
    this.conv2 = this.child('conv2', new Conv2d(planes, planes, 3, { padding: 1 }, rng));
    this.bn2 = this.child('bn2', new BatchNorm(planes));
    if (zeroInit) ops.fillInPlace(this.bn2.weight, 0);
    this.downsample = stride !== 1 || inp !== planes
      ? this.child('downsample', new Sequential([new Conv2d(inp, planes, 1, { stride }, rng), new BatchNorm(planes)])) : null;
  }
  forward(x: Tensor): Tensor {
    const h = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x), true)));
    return ops.relu(ops.add(h, this.downsample ? this.downsample.forward(x) : x));
  }
}

export class Bottleneck extends Module {
  static expansion = 4;
  readonly conv1: Conv2d; readonly bn1: BatchNorm; readonly conv2: Conv2d; readonly bn2: BatchNorm;
  readonly conv3: Conv2d; readonly bn3: BatchNorm; readonly downsample: Sequential | null;
  constructor(inp: number, planes: number, stride: number, rng: InitRng, zeroInit: boolean) {
    super();
    const width = planes;
    this.conv1 = this.child('conv1', new Conv2d(inp, width, 1, {}, rng));
    this.bn1 = this.child('bn1', new BatchNorm(width));
    // torchvision v1.5: the stride sits on the 3x3 conv.
    this.conv2 = this.child('conv2', new Conv2d(width, width, 3, { stride, padding: 1 }, rng));
    this.bn2 = this.child('bn2', new BatchNorm(width));
    this.conv3 = this.child('conv3', new Conv2d(width, planes * 4, 1, {}, rng));
    this.bn3 = this.child('bn3', new BatchNorm(planes * 4));
    if (zeroInit) ops.fillInPlace(this.bn3.weight, 0);
    this.downsample = stride !== 1 || inp !== planes * 4
      ? this.child('downsample', new Sequential([new Conv2d(inp, planes * 4, 1, { stride }, rng), new BatchNorm(planes * 4)])) : null;
  }
  forward(x: Tensor): Tensor {
    let h = this.bn1.forward(this.conv1.forward(x), true);
    h = this.bn2.forward(this.conv2.forward(h), true);
    h = this.bn3.forward(this.conv3.forward(h));
    return ops.relu(ops.add(h, this.downsample ? this.downsample.forward(x) : x));
  }
}

const LAYERS: Record<string, { block: 'basic' | 'bottleneck'; counts: number[] }> = {
  resnet18: { block: 'basic', counts: [2, 2, 2, 2] },
  resnet34: { block: 'basic', counts: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', counts: [3, 4, 6, 3] },
};

export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly stages: Sequential[] = [];
  readonly fc: Linear | null;
  /** Dimension of the pooled feature (512 x expansion x width). */
  readonly featureDim: number;
  readonly smallStem: boolean;
  readonly arch: string;

  constructor(arch: 'resnet18' | 'resnet34' | 'resnet50', opts: ResNetOptions = {}) {
    super();
    const spec = LAYERS[arch];
    if (!spec) throw new Error(`unknown ResNet architecture ${arch} (resnet18, resnet34, resnet50)`);
    this.arch = arch;
    const rng = new InitRng(opts.seed ?? 0);
    const wm = opts.widthMultiplier ?? 1;
    if (!(wm > 0)) throw new Error(`ResNet: width multiplier must be positive, got ${wm}`);
    const widths = [64, 128, 256, 512].map((w) => Math.max(1, Math.round(w * wm)));
    const inC = opts.inChannels ?? 3;
    this.smallStem = opts.smallStem ?? false;
    const stem = widths[0]!;
    this.conv1 = this.child('conv1', this.smallStem
      ? new Conv2d(inC, stem, 3, { stride: 1, padding: 1 }, rng)
      : new Conv2d(inC, stem, 7, { stride: 2, padding: 3 }, rng));
    this.bn1 = this.child('bn1', new BatchNorm(stem));
    const Block = spec.block === 'basic' ? BasicBlock : Bottleneck;
    let inp = stem;
    spec.counts.forEach((count, si) => {
      const planes = widths[si]!;
      const blocks: Module[] = [];
      for (let b = 0; b < count; b++) {
        blocks.push(new Block(inp, planes, b === 0 && si > 0 ? 2 : 1, rng, opts.zeroInitResidual ?? false));
        inp = planes * Block.expansion;
      }
      this.stages.push(this.child(`layer${si + 1}`, new Sequential(blocks)));
    });
    this.featureDim = inp;
    const classes = opts.numClasses ?? 1000;
    this.fc = classes > 0 ? this.child('fc', new Linear(inp, classes, true, rng)) : null;
  }

  /** Pooled backbone feature [N, featureDim]. */
  features(x: Tensor): Tensor {
    let h = this.bn1.forward(this.conv1.forward(x), true);
    if (!this.smallStem) h = ops.maxPool2d(h, { kernel: 3, stride: 2, padding: 1 });
    for (const s of this.stages) h = s.forward(h);
    return ops.globalAvgPool(h);
  }

  forward(x: Tensor): Tensor {
    const f = this.features(x);
    return this.fc ? this.fc.forward(f) : f;
  }
}

export const resnet18 = (o?: ResNetOptions) => new ResNet('resnet18', o);
export const resnet34 = (o?: ResNetOptions) => new ResNet('resnet34', o);
export const resnet50 = (o?: ResNetOptions) => new ResNet('resnet50', o);
