// The float64 composition of a model: walks our module tree and applies the src/ref twins, reading each
// parameter from a host map (so finite differences can perturb it). BatchNorm follows the module's mode.
import * as R from '../../src/ref/index.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { Module } from '../../src/nn/module.js';
import { Conv2d, BatchNorm, Linear, ReLU, Sequential } from '../../src/nn/layers.js';
import { ResNet, BasicBlock, Bottleneck } from '../../src/nn/resnet.js';
import { ConvNormAct, SqueezeExcitation } from '../../src/nn/blocks.js';
import { MobileNetV2, InvertedResidual, SeqNamed, Passthrough } from '../../src/nn/mobilenet.js';
import { EfficientNetB0, MBConv } from '../../src/nn/efficientnet.js';
import { MLPHead } from '../../src/nn/heads.js';

export interface A { d: Float64Array; s: number[] }
export type Params = Map<Tensor, Float64Array>;

export async function hostParams(m: Module): Promise<Params> {
  const out: Params = new Map();
  for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) out.set(t, Float64Array.from(await t.read()));
  return out;
}

const P = (p: Params, t: Tensor) => { const v = p.get(t); if (!v) throw new Error(`ref_model: no host value for ${t.label()}`); return v; };

function conv(m: Conv2d, x: A, p: Params): A {
  const [n, c, h, w] = x.s as [number, number, number, number];
  const cfg = m.cfg;
  const s: R.ConvShape = { n, c, h, w, k: m.outChannels, kh: m.kernel, kw: m.kernel, sh: cfg.stride ?? 1, sw: cfg.stride ?? 1, ph: cfg.padding ?? 0, pw: cfg.padding ?? 0, groups: cfg.groups ?? 1 };
  const { ho, wo } = R.convOut(s);
  return { d: R.conv2dFwd(x.d, P(p, m.weight), m.bias ? P(p, m.bias) : null, s), s: [n, m.outChannels, ho, wo] };
}

function bn(m: BatchNorm, x: A, p: Params): A {
  const [n, c] = x.s as [number, number];
  const hw = x.s.length === 4 ? x.s[2]! * x.s[3]! : 1;
  const y = m.training ? R.bnFwdTrain(x.d, P(p, m.weight), P(p, m.bias), n, c, hw, m.eps).y
    : R.bnFwdEval(x.d, P(p, m.weight), P(p, m.bias), P(p, m.runningMean), P(p, m.runningVar), n, c, hw, m.eps);
  return { d: y, s: x.s };
}

const relu = (x: A): A => ({ d: R.reluFwd(x.d), s: x.s });
const add = (a: A, b: A): A => ({ d: R.add(a.d, b.d), s: a.s });
const gap = (x: A): A => ({ d: R.globalAvgPoolFwd(x.d, x.s[0]!, x.s[1]!, x.s[2]! * x.s[3]!), s: [x.s[0]!, x.s[1]!] });

function act(x: A, a: ConvNormAct['act']): A {
  if (a === 'relu') return relu(x);
  if (a === 'relu6') return { d: R.relu6Fwd(x.d), s: x.s };
  if (a === 'silu') return { d: R.siluFwd(x.d), s: x.s };
  return x;
}

export function refForward(m: Module, x: A, p: Params): A {
  if (m instanceof Conv2d) return conv(m, x, p);
  if (m instanceof BatchNorm) return bn(m, x, p);
  if (m instanceof ReLU) return relu(x);
  if (m instanceof Passthrough) return x;
  if (m instanceof Linear) {
    const [rows, inF] = x.s as [number, number];
    return { d: R.linearFwd(x.d, P(p, m.weight), m.bias ? P(p, m.bias) : null, rows, inF, m.outFeatures), s: [rows, m.outFeatures] };
  }
  if (m instanceof Sequential) { let h = x; for (const l of m.layers) h = refForward(l, h, p); return h; }
  if (m instanceof SeqNamed) { let h = x; for (const l of m.items) h = refForward(l, h, p); return h; }
  if (m instanceof MLPHead) return refForward(m.net, x, p);
  if (m instanceof ConvNormAct) return act(bn(m.bn, conv(m.conv, x, p), p), m.act);
  if (m instanceof BasicBlock) {
    const h = bn(m.bn2, conv(m.conv2, relu(bn(m.bn1, conv(m.conv1, x, p), p)), p), p);
    return relu(add(h, m.downsample ? refForward(m.downsample, x, p) : x));
  }
  if (m instanceof Bottleneck) {
    let h = relu(bn(m.bn1, conv(m.conv1, x, p), p));
    h = relu(bn(m.bn2, conv(m.conv2, h, p), p));
    h = bn(m.bn3, conv(m.conv3, h, p), p);
    return relu(add(h, m.downsample ? refForward(m.downsample, x, p) : x));
  }
  if (m instanceof ResNet) {
    let h = relu(bn(m.bn1, conv(m.conv1, x, p), p));
    if (!m.smallStem) {
      const [n, c, hh, ww] = h.s as [number, number, number, number];
      const ps = { n, c, h: hh, w: ww, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 };
      const o = R.poolOut(ps);
      h = { d: R.maxPool2dFwd(h.d, ps).y, s: [n, c, o.ho, o.wo] };
    }
    for (const st of m.stages) h = refForward(st, h, p);
    const f = gap(h);
    return m.fc ? refForward(m.fc, f, p) : f;
  }
  if (m instanceof InvertedResidual) { const y = refForward(m.conv, x, p); return m.useRes ? add(x, y) : y; }
  if (m instanceof MBConv) { const y = refForward(m.block, x, p); return m.useRes ? add(x, y) : y; }
  if (m instanceof SqueezeExcitation) {
    const [n, c, h, w] = x.s as [number, number, number, number];
    const s = { d: gap(x).d, s: [n, c, 1, 1] };
    const z = refForward(m.fc1, s, p);
    const g = R.sigmoidFwd(refForward(m.fc2, { d: R.siluFwd(z.d), s: z.s }, p).d);
    return { d: R.channelScaleFwd(x.d, g, n, c, h * w), s: x.s };
  }
  if (m instanceof MobileNetV2 || m instanceof EfficientNetB0) {
    const f = gap(refForward(m.body, x, p));
    // Dropout is the identity in the test (p = 0 or eval).
    return m.classifierFc ? refForward(m.classifierFc, f, p) : f;
  }
  throw new Error(`ref_model: no float64 composition for ${m.constructor.name}`);
}
