// Training checkpoints and weight export, both plain safetensors files.
//
// A checkpoint holds tensors "model.<key>" and "optim.<key>" (float32, bit-exact) and the rest of
// the training state JSON-encoded in __metadata__ under "simreg.*" keys, tagged
// simreg.format = "simreg-checkpoint-1". Exported weights carry bare torchvision names so
// PyTorch's safetensors.torch.load_file + model.load_state_dict take them unchanged.

import { readSafetensors, writeSafetensors, SafetensorsError, type WriteTensor } from './safetensors.js';
import type { StateDict } from './state_dict.js';

export const CHECKPOINT_FORMAT = 'simreg-checkpoint-1';

/** Weights that cannot be written as asked: a NaN or infinity, or a value beyond float16's range (exit 3). */
export class NonFiniteWeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteWeightsError';
  }
}

/** The largest finite float16. */
export const F16_MAX = 65504;

export interface Checkpoint {
  model: StateDict;
  /** Optimizer state by parameter name (e.g. SGD momentum buffers). */
  optimizer?: StateDict;
  step: number;
  epoch: number;
  /** Data-order / augmentation RNG state. */
  rng?: number[] | string;
  schedule?: object;
  config?: object;
  extra?: object;
}

const META = {
  format: 'simreg.format',
  step: 'simreg.step',
  epoch: 'simreg.epoch',
  rng: 'simreg.rng',
  schedule: 'simreg.schedule',
  config: 'simreg.config',
  extra: 'simreg.extra',
  tensors: 'simreg.tensors',
} as const;

const q = (s: string) => JSON.stringify(s);

// Integer dtypes survive as such (num_batches_tracked is int64 in PyTorch); everything else is float32.
const keepDtype = (d: string | undefined) => (d === 'I64' || d === 'I32' ? d : 'F32');

/** JSON that reads back equal: no NaN/Infinity (JSON turns them into null), functions, bigints or holes. */
function checkJson(value: unknown, where: string, file: string): void {
  const bad = (why: string) => { throw new SafetensorsError(file, `checkpoint ${where}: ${why} cannot be stored as JSON`); };
  switch (typeof value) {
    case 'number': if (!Number.isFinite(value)) bad(String(value)); return;
    case 'string': case 'boolean': return;
    case 'bigint': case 'function': case 'symbol': case 'undefined': bad(`a ${typeof value}`); return;
  }
  if (value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i], `${where}[${i}]`, file);
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue; // dropped by JSON, like an absent field
    checkJson(v, `${where}.${k}`, file);
  }
}

/** Save a training checkpoint atomically (see writeSafetensors). */
export async function saveCheckpoint(file: string, ckpt: Checkpoint): Promise<void> {
  for (const k of ['step', 'epoch'] as const) {
    const v = ckpt[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new SafetensorsError(file, `checkpoint ${k} must be a non-negative integer, got ${String(v)}`);
  }
  const tensors: WriteTensor[] = [];
  for (const [k, e] of ckpt.model) tensors.push({ name: `model.${k}`, shape: e.shape, data: e.data, dtype: keepDtype(e.dtype) });
  if (ckpt.optimizer) for (const [k, e] of ckpt.optimizer) tensors.push({ name: `optim.${k}`, shape: e.shape, data: e.data, dtype: keepDtype(e.dtype) });
  const meta: Record<string, string> = {
    [META.format]: CHECKPOINT_FORMAT,
    [META.step]: JSON.stringify(ckpt.step),
    [META.epoch]: JSON.stringify(ckpt.epoch),
    [META.tensors]: JSON.stringify(ckpt.optimizer ? { model: ckpt.model.size, optim: ckpt.optimizer.size } : { model: ckpt.model.size }),
  };
  for (const k of ['rng', 'schedule', 'config', 'extra'] as const) {
    const v = ckpt[k];
    if (v === undefined) continue;
    checkJson(v, k, file);
    meta[META[k]] = JSON.stringify(v);
  }
  await writeSafetensors(file, tensors, meta);
}

function parseMeta(file: string, meta: Record<string, string>, key: string): unknown {
  const text = meta[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, `checkpoint metadata ${q(key)} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Load a checkpoint written by saveCheckpoint; rejects other files with a clear message. */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(file);
  const format = metadata[META.format];
  if (format === undefined) {
    throw new SafetensorsError(file, `not a simreg checkpoint (no ${q(META.format)} in __metadata__); plain weights load with loadForModel`);
  }
  if (format !== CHECKPOINT_FORMAT) throw new SafetensorsError(file, `unsupported checkpoint format ${q(format)} (this version reads ${q(CHECKPOINT_FORMAT)})`);
  const num = (key: string): number => {
    const v = parseMeta(file, metadata, key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new SafetensorsError(file, `checkpoint metadata ${q(key)} must be a non-negative integer, got ${JSON.stringify(metadata[key] ?? null)}`);
    return v;
  };
  const counts = parseMeta(file, metadata, META.tensors) as { model?: unknown; optim?: unknown } | undefined;
  const model: StateDict = new Map();
  const optimizer: StateDict = new Map();
  for (const [name, t] of tensors) {
    const entry = { shape: t.shape, data: t.data, dtype: t.dtype };
    if (name.startsWith('model.')) model.set(name.slice(6), entry);
    else if (name.startsWith('optim.')) optimizer.set(name.slice(6), entry);
    else throw new SafetensorsError(file, `unexpected tensor ${q(name)} in a checkpoint (tensors are named model.* or optim.*)`);
  }
  // The counts catch a checkpoint that lost tensors after it was written (e.g. edited by hand).
  if (counts !== undefined) {
    if (counts.model !== model.size) throw new SafetensorsError(file, `checkpoint should hold ${String(counts.model)} model tensors but has ${model.size}`);
    if ((counts.optim ?? 0) !== optimizer.size) throw new SafetensorsError(file, `checkpoint should hold ${String(counts.optim ?? 0)} optimizer tensors but has ${optimizer.size}`);
  }
  const out: Checkpoint = { model, step: num(META.step), epoch: num(META.epoch) };
  if (counts?.optim !== undefined || optimizer.size > 0) out.optimizer = optimizer;
  const rng = parseMeta(file, metadata, META.rng);
  if (rng !== undefined) {
    if (!(typeof rng === 'string' || (Array.isArray(rng) && rng.every((x) => typeof x === 'number')))) {
      throw new SafetensorsError(file, `checkpoint metadata ${q(META.rng)} must be a string or an array of numbers`);
    }
    out.rng = rng as number[] | string;
  }
  for (const k of ['schedule', 'config', 'extra'] as const) {
    const v = parseMeta(file, metadata, META[k]);
    if (v === undefined) continue;
    if (v === null || typeof v !== 'object') throw new SafetensorsError(file, `checkpoint metadata ${q(META[k])} must be a JSON object or array`);
    out[k] = v;
  }
  return out;
}

export interface ExportOptions {
  /** Stored dtype of floating-point tensors (default F32). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** F16: clamp values beyond float16's range to +-65504 instead of refusing the file. */
  clamp?: boolean;
}

/**
 * Export model weights under their plain (torchvision) names. Keys ending in
 * "num_batches_tracked" and entries whose dtype is I64/I32 are written as integers, as PyTorch has them.
 * Metadata gets "format": "pt" unless given, like PyTorch-side writers.
 */
export async function exportWeights(file: string, model: StateDict, metadata: Record<string, string> = {}, opts: ExportOptions = {}): Promise<void> {
  const tensors: WriteTensor[] = [];
  const dtype = opts.dtype ?? 'F32';
  for (const [k, e] of model) {
    const intDtype = e.dtype === 'I64' || e.dtype === 'I32' ? e.dtype : /(^|\.)num_batches_tracked$/.test(k) ? 'I64' : null;
    let data = e.data;
    if (!intDtype) {
      // Every value is checked before anything is written: a NaN/Inf or an F16 overflow leaves no file behind.
      let bad = 0, first = -1, over = 0, firstOver = -1;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (!Number.isFinite(v)) { if (first < 0) first = i; bad++; } else if (dtype === 'F16' && Math.abs(v) > F16_MAX) { if (firstOver < 0) firstOver = i; over++; }
      }
      if (bad) throw new NonFiniteWeightsError(`${file}: ${k} holds ${bad} non-finite value(s) (the first, ${data[first]}, at index ${first}); nothing was written`);
      if (over && !opts.clamp) {
        throw new NonFiniteWeightsError(`${file}: ${k} holds ${over} value(s) beyond float16's range +-${F16_MAX} (the first, ${data[firstOver]}, at index ${firstOver}), which float16 would store as infinity; ` +
          'nothing was written. Export as float32 (without --half), or pass --clamp to clamp them to +-65504');
      }
      if (over) data = data.map((v) => Math.max(-F16_MAX, Math.min(F16_MAX, v)));
    }
    tensors.push({ name: k, shape: e.shape, data, dtype: intDtype ?? dtype });
  }
  await writeSafetensors(file, tensors, { format: 'pt', ...metadata });
}
