// Model descriptions that travel with weight files, and loading teachers.
//
// A weight file written by simreg carries its architecture in __metadata__["simreg.model"] (JSON ModelSpec),
// so `--teacher FILE` needs nothing else. Backbone tensors have torchvision names; a MoCo-style projection
// head, when present, is stored as fc.0 / fc.2 (MoCo-v2's encoder_q.fc layout), which DisCo uses as the
// teacher's final embedding and SimReg ignores. Files from elsewhere (torchvision, MoCo, SimCLR, BYOL) need
// the architecture from the command line; their prefixes are stripped.
import { Tensor } from '../autograd/tensor.js';
import { createModel, type Backbone } from '../nn/registry.js';
import { MLPHead, projectionHead } from '../nn/heads.js';
import { Module } from '../nn/module.js';
import { readSafetensorsHeader, readSafetensors } from '../io/safetensors.js';
import { remapKeys, type StateDict } from '../io/state_dict.js';
import { exportWeights } from '../io/checkpoint.js';

export interface ModelSpec {
  arch: string;
  /** 3x3 stride-1 stem without max-pool (CIFAR-style small images). */
  smallStem?: boolean;
  inChannels?: number;
  widthMultiplier?: number;
}

export const MODEL_META_KEY = 'simreg.model';

export function describeSpec(s: ModelSpec): string {
  return `${s.arch}${s.widthMultiplier && s.widthMultiplier !== 1 ? ` x${s.widthMultiplier}` : ''}${s.smallStem ? ' small-stem' : ''}, ${s.inChannels ?? 3} input channel${(s.inChannels ?? 3) > 1 ? 's' : ''}`;
}

export function buildBackbone(spec: ModelSpec, seed = 0): Backbone {
  return createModel(spec.arch, {
    smallStem: spec.smallStem ?? false, inChannels: spec.inChannels ?? 3,
    widthMultiplier: spec.widthMultiplier && spec.widthMultiplier !== 1 ? spec.widthMultiplier : undefined,
    numClasses: 0, seed,
  });
}

/** Backbone plus optional projection head: the unit MoCo, DisCo and teachers use. */
export class Encoder extends Module {
  readonly backbone: Backbone;
  readonly head: MLPHead | null;
  constructor(readonly spec: ModelSpec, head: { hidden: number; out: number } | null, seed = 0) {
    super();
    this.backbone = this.child('backbone', buildBackbone(spec, seed));
    this.head = head ? this.child('head', projectionHead(this.backbone.featureDim, head.hidden, head.out, seed + 1)) : null;
  }
  get featureDim(): number { return this.backbone.featureDim; }
  /** Pooled backbone feature. */
  features(x: Tensor): Tensor { return this.backbone.features(x); }
  /** Final embedding (through the head when there is one). */
  forward(x: Tensor): Tensor {
    const f = this.backbone.features(x);
    if (!this.head) return f;
    const e = this.head.forward(f);
    f.dispose();
    return e;
  }
}

/** The head's tensors under MoCo's names: head.net.0 -> fc.0, head.net.2 -> fc.2. */
function headToFc(k: string): string { return k.replace(/^head\.net\./, 'fc.'); }

/** Write an encoder as a weight file: backbone with torchvision names, the head (if kept) as fc.*. */
export async function saveEncoder(path: string, enc: Encoder, opts: { withHead: boolean; meta?: Record<string, string>; dtype?: 'F32' | 'F16' }): Promise<void> {
  const sd = await enc.stateDict();
  const out: StateDict = new Map();
  for (const [k, v] of sd) {
    if (k.startsWith('backbone.')) out.set(k.slice(9), v);
    else if (opts.withHead && k.startsWith('head.')) out.set(headToFc(k), v);
  }
  await exportWeights(path, out, { [MODEL_META_KEY]: JSON.stringify(enc.spec), ...(opts.meta ?? {}) }, { dtype: opts.dtype ?? 'F32' });
}

const STRIP = ['module.encoder_q.', 'encoder_q.', 'module.base_encoder.', 'base_encoder.', 'module.backbone.', 'backbone.', 'module.'];
const DROP = [/^module\.encoder_k\./, /^encoder_k\./, /queue/, /^momentum_encoder\./, /^module\.momentum_encoder\./, /^predictor\./];

export interface LoadedTeacher { encoder: Encoder; path: string; spec: ModelSpec; hasHead: boolean }

/**
 * Load a frozen teacher: eval mode, no gradients. The architecture comes from the file's metadata, else from
 * `spec` (required then). A projection head stored as fc.0/fc.2 is loaded when present; a classifier fc is
 * ignored. Every backbone key and shape is checked; errors name the file and the key.
 */
export async function loadTeacher(path: string, spec?: ModelSpec): Promise<LoadedTeacher> {
  let header;
  try { header = await readSafetensorsHeader(path); } catch (e) { throw new Error(`teacher ${path}: ${(e as Error).message}`); }
  let s = spec;
  const metaText = header.metadata[MODEL_META_KEY];
  if (!s && metaText) {
    try { s = JSON.parse(metaText) as ModelSpec; } catch { throw new Error(`teacher ${path}: metadata ${MODEL_META_KEY} is not valid JSON`); }
  }
  if (!s) throw new Error(`teacher ${path}: the file does not say its architecture (no ${MODEL_META_KEY} metadata); pass --teacher-arch (e.g. resnet50)`);
  const { tensors } = await readSafetensors(path);
  const sd: StateDict = remapKeys(new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data, dtype: t.dtype }])), { stripPrefixes: STRIP, ignore: DROP });
  const fc0 = sd.get('fc.0.weight'), fc2 = sd.get('fc.2.weight');
  const hasHead = !!(fc0 && fc2 && fc0.shape.length === 2 && fc2.shape.length === 2);
  let enc: Encoder;
  try {
    enc = new Encoder(s, hasHead ? { hidden: fc0!.shape[0]!, out: fc2!.shape[0]! } : null);
  } catch (e) { throw new Error(`teacher ${path}: ${(e as Error).message}`); }
  const mine: Map<string, { shape: number[]; data: Float32Array }> = new Map();
  for (const [k, v] of sd) {
    if (/^fc\./.test(k)) { if (hasHead && /^fc\.(0|2)\./.test(k)) mine.set(`head.net.${k.slice(3)}`, v); continue; }
    mine.set(`backbone.${k}`, v);
  }
  try {
    enc.loadStateDict(mine, { source: path });
  } catch (e) {
    enc.dispose();
    const msg = (e as Error).message.replace(/backbone\./g, '').replace(/head\.net\./g, 'fc.');
    throw new Error(`teacher ${path} does not match ${describeSpec(s)}: ${msg}`);
  }
  enc.eval().requiresGrad(false);
  return { encoder: enc, path, spec: s, hasHead };
}
