// Model descriptions that travel with weight files, and loading teachers.
//
// A weight file written by simreg carries its architecture in __metadata__["simreg.model"] (JSON ModelSpec),
// so `--teacher FILE` needs nothing else. Backbone tensors have torchvision names; a MoCo-style projection
// head, when present, is stored as fc.0 / fc.2 (MoCo-v2's encoder_q.fc layout), which DisCo uses as the
// teacher's final embedding and SimReg ignores. Files from elsewhere (torchvision, MoCo, SwAV, DINO, SimCLR,
// BYOL; safetensors or torch.save) need the architecture from the command line; the state dict and the
// prefix around the backbone are found (or given with --key / --strip).
import { Tensor } from '../autograd/tensor.js';
import { createModel, type Backbone } from '../nn/registry.js';
import { MLPHead, projectionHead } from '../nn/heads.js';
import { Module } from '../nn/module.js';
import { StateDictError, type StateDict } from '../io/state_dict.js';
import { exportWeights } from '../io/checkpoint.js';
import { openWeightFile, readForModel, findPrefix, type LoadReport, type WeightFile } from '../io/weights_file.js';
import { WEIGHT_PRESETS } from '../nn/weights.js';

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
export async function saveEncoder(path: string, enc: Encoder, opts: { withHead: boolean; meta?: Record<string, string>; dtype?: 'F32' | 'F16'; clamp?: boolean }): Promise<void> {
  const sd = await enc.stateDict();
  const out: StateDict = new Map();
  for (const [k, v] of sd) {
    if (k.startsWith('backbone.')) out.set(k.slice(9), v);
    else if (opts.withHead && k.startsWith('head.')) out.set(headToFc(k), v);
  }
  await exportWeights(path, out, { [MODEL_META_KEY]: JSON.stringify(enc.spec), ...(opts.meta ?? {}) }, { dtype: opts.dtype ?? 'F32', clamp: opts.clamp });
}

export interface LoadedTeacher {
  encoder: Encoder; path: string; spec: ModelSpec; hasHead: boolean;
  /** What was found in the file: its layout, the dict and prefix used, and what was left out. */
  report: LoadReport;
  format: WeightFile['format'];
}

export interface TeacherOptions {
  /** The dict inside a torch.save checkpoint (default: found: state_dict, model, teacher, ...). */
  key?: string;
  /** The prefix to strip (default: found by matching names against the architecture's keys). */
  strip?: string;
  /** What the command calls the file in messages: teacher (distill, default) or weights (eval). */
  role?: string;
}

/**
 * Load a frozen teacher from safetensors or a torch.save checkpoint (.pth, .pth.tar, .pt): eval mode, no
 * gradients. The architecture comes from the file's metadata (simreg exports), else from `spec` (required then).
 * The backbone is found inside the checkpoint (WEIGHT_PRESETS.teacher: key and prefix found, heads and classifier
 * dropped); a MoCo projection head stored as fc.0/fc.2 is kept as the encoder's head (DisCo's teacher
 * embedding). Every backbone key, shape, dtype and value is checked; errors name the file and the key.
 */
export async function loadTeacher(path: string, spec?: ModelSpec, opts: TeacherOptions = {}): Promise<LoadedTeacher> {
  const role = opts.role ?? 'teacher';
  const f = await openWeightFile(path, { key: opts.key, role });
  try {
    let s = spec;
    const metaText = f.metadata[MODEL_META_KEY];
    if (!s && metaText) {
      try { s = JSON.parse(metaText) as ModelSpec; } catch { throw new Error(`${role} ${path}: metadata ${MODEL_META_KEY} is not valid JSON`); }
    }
    if (!s) {
      const arch = f.extras.arch ? ` (the checkpoint says arch ${f.extras.arch})` : '';
      throw new Error(`${role} ${path}: the file does not say its architecture${arch}; pass --teacher-arch (e.g. resnet50)`);
    }
    let probe: Encoder;
    try { probe = new Encoder(s, null); } catch (e) { throw new Error(`${role} ${path}: ${(e as Error).message}`); }
    const backboneShapes = new Map([...probe.backbone.stateShapes()].map(([k, shape]) => [k, { shape }]));
    probe.dispose();
    const names = [...f.tensors.keys()];
    const strip = opts.strip ?? findPrefix(names, backboneShapes.keys()).strip;
    const fc0 = f.tensors.get(`${strip}fc.0.weight`), fc2 = f.tensors.get(`${strip}fc.2.weight`);
    const hasHead = !!(fc0 && fc2 && fc0.shape.length === 2 && fc2.shape.length === 2 && f.tensors.has(`${strip}fc.0.bias`) && f.tensors.has(`${strip}fc.2.bias`));
    const expected = new Map(backboneShapes);
    if (hasHead) {
      for (const [k, t] of [['fc.0.weight', fc0!], ['fc.2.weight', fc2!]] as const) expected.set(k, { shape: t.shape });
      expected.set('fc.0.bias', { shape: [fc0!.shape[0]!] });
      expected.set('fc.2.bias', { shape: [fc2!.shape[0]!] });
    }
    let loaded;
    try {
      loaded = await readForModel(f, expected, { ...WEIGHT_PRESETS.teacher, strip }, role);
    } catch (e) {
      const msg = (e as Error).message;
      const head = `${role} ${path}: `;
      if (e instanceof StateDictError && msg.startsWith(head) && !/non-finite|--strip ".*": no name/.test(msg)) {
        throw new StateDictError(`${role} ${path} does not match ${describeSpec(s)}: ${msg.slice(head.length)}`);
      }
      throw e;
    }
    const { sd, report } = loaded;
    const enc = new Encoder(s, hasHead ? { hidden: fc0!.shape[0]!, out: fc2!.shape[0]! } : null);
    const mine: StateDict = new Map();
    for (const [k, v] of sd) mine.set(/^fc\.(0|2)\./.test(k) ? `head.net.${k.slice(3)}` : `backbone.${k}`, v);
    try {
      enc.loadStateDict(mine, { source: path });
    } catch (e) {
      enc.dispose();
      const msg = (e as Error).message.replace(/backbone\./g, '').replace(/head\.net\./g, 'fc.');
      throw new Error(`${role} ${path} does not match ${describeSpec(s)}: ${msg}`);
    }
    enc.eval().requiresGrad(false);
    return { encoder: enc, path, spec: s, hasHead, report, format: f.format };
  } finally {
    await f.close();
  }
}

/** One line saying what a teacher file held and what was taken. */
export function describeLoad(t: LoadedTeacher): string {
  const r = t.report;
  return `${t.path}: ${t.format}, ${r.layout}${r.key ? `, from ${q(r.key)}` : ''}${r.strip ? `, prefix ${q(r.strip)} stripped` : ''}` +
    `${t.hasHead ? ', projection head fc.0/fc.2 kept' : ''}${r.dropped.length ? `, ${r.dropped.length} head/classifier tensor(s) left out` : ''}` +
    `${r.outside ? `, ${r.outside} other tensor(s) in the dict not used` : ''}`;
}
const q = (s: string) => JSON.stringify(s);
