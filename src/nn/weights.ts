// Model weights in and out. In: safetensors or torch.save files (.pth, .pth.tar, .pt), read by the one loading
// path of io/weights_file.ts (find the state dict, find or strip the wrapper prefix, check every key, shape,
// dtype and value before anything is copied). Out: safetensors with torchvision names, which PyTorch's
// load_state_dict accepts with strict=True.
import { openWeightFile, readForModel, remapKeys, type LoadRules, type LoadReport, type RemapOptions, type MatchOptions, type KeyPattern } from '../io/index.js';
import { exportWeights } from '../io/index.js';
import type { Module } from './module.js';

/** Projection heads, classifiers and prototype layers of the usual self-supervised checkpoints (after the prefix). */
export const HEAD_PATTERNS: KeyPattern[] = ['fc', 'classifier', 'head', 'heads', 'projection_head', 'projector', 'predictor', 'prototypes', 'mlp'];

/**
 * Loading presets (documented in the README): each is a set of LoadRules.
 * - `exact`: the file's names are the model's, no prefix, nothing dropped (simreg exports, torchvision files
 *   for a model with the same classifier).
 * - `torchvision`: the prefix is found by matching names; every tensor under it must be the model's.
 * - `backbone`: a backbone out of any self-supervised checkpoint (MoCo v1/v2/v3, SwAV, DINO, BYOL/SimCLR ports,
 *   torchvision classifiers): the prefix is found by matching names, and heads, classifiers and prototypes are
 *   dropped. Use it for a model without a classifier (numClasses 0).
 * - `teacher`: what `simreg distill --teacher` does, loadTeacher in distill/models.ts: `backbone`, plus a MoCo
 *   projection head stored as fc.0 / fc.2 kept as the encoder's head (DisCo's teacher embedding).
 */
export const WEIGHT_PRESETS: Record<'exact' | 'torchvision' | 'backbone' | 'teacher', LoadRules> = {
  exact: { strip: '' },
  torchvision: {},
  backbone: { ignore: HEAD_PATTERNS },
  teacher: { ignore: HEAD_PATTERNS },
};

/** @deprecated the old per-project prefix lists; every one is now `WEIGHT_PRESETS.backbone` (prefixes are found). */
export const CHECKPOINT_PRESETS: Record<string, LoadRules> = { moco: WEIGHT_PRESETS.backbone, simclr: WEIGHT_PRESETS.backbone, byol: WEIGHT_PRESETS.backbone };

export interface LoadWeightsOptions extends RemapOptions, MatchOptions, Omit<LoadRules, 'ignore' | 'rename' | 'allowMissing' | 'strict'> {
  /** The dict inside a torch.save checkpoint to take tensors from ("state_dict", "teacher", ...; '/' for nesting). */
  key?: string;
  /** What the caller calls the file in messages (weights, teacher, checkpoint). */
  role?: string;
}

/**
 * Load weights into `model` from any supported file; the model stays untouched on any error. With
 * `stripPrefixes` the names are remapped first (each name loses the first listed prefix it starts with);
 * otherwise `strip` is used, or the prefix is found by matching the file's names against the model's keys.
 */
export async function loadWeights(model: Module, path: string, opts: LoadWeightsOptions = {}): Promise<LoadReport> {
  const expected = new Map([...model.stateShapes()].map(([k, shape]) => [k, { shape }]));
  const f = await openWeightFile(path, { key: opts.key, role: opts.role });
  try {
    let file = f;
    let strip = opts.strip;
    if (opts.stripPrefixes?.length) {
      const remapped = remapKeys(new Map([...f.tensors].map(([k, t]) => [k, t as never])), { stripPrefixes: opts.stripPrefixes });
      file = { ...f, tensors: new Map([...remapped].map(([k, t]) => [k, t as never])) };
      strip = '';
    }
    const { sd, report } = await readForModel(file, expected, {
      strip, ignore: opts.ignore, rename: opts.rename, allowMissing: opts.allowMissing, strict: opts.strict,
    }, opts.role);
    model.loadStateDict(sd, { strict: !(opts.allowMissing && opts.allowMissing.length), source: path });
    return report;
  } finally {
    await f.close();
  }
}

export async function saveWeights(model: Module, path: string, metadata: Record<string, string> = {}): Promise<void> {
  await exportWeights(path, await model.stateDict(), metadata);
}
