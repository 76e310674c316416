// State dicts on plain arrays: renaming checkpoint keys to the model's (torchvision) names and
// checking a checkpoint against what the model expects before anything is copied.
//
// Key patterns (ignore, allowMissing): a RegExp is tested against the key; a string matches the
// key itself or any key below it as a module path ("fc" matches "fc.weight" and "fc.0.bias",
// not "fc2.weight").

import { shapeNumel } from './safetensors.js';

export interface StateEntry {
  shape: number[];
  data: Float32Array;
  /** dtype the values were stored as, when they came from a file (data is float32 regardless). */
  dtype?: string;
}

export type StateDict = Map<string, StateEntry>;

/** What the model expects for one key; `dtypes`, when given, lists the stored dtypes accepted. */
export interface ExpectedEntry {
  shape: readonly number[];
  dtypes?: readonly string[];
}

export type KeyPattern = RegExp | string;

export interface RemapOptions {
  /** The first prefix (in this order) that a key starts with is removed: list longer ones first. */
  stripPrefixes?: string[];
  /** Keys (after stripping) to drop, e.g. /^fc\./, /^encoder_k\./, /^queue/. */
  ignore?: KeyPattern[];
  /** Exact renames applied last, on stripped keys: { "old": "new" }. */
  rename?: Record<string, string>;
}

export interface MatchOptions {
  /** Reject keys the model does not have (default true). Missing keys are always an error unless allowed below. */
  strict?: boolean;
  /** Expected keys that may be absent from the checkpoint (the model keeps its own values). */
  allowMissing?: KeyPattern[];
}

export interface MatchResult {
  ok: true;
  /** Expected keys absent from the checkpoint that allowMissing let through. */
  missing: string[];
  /** Checkpoint keys the model does not have (only non-empty when strict is false). */
  unexpected: string[];
}

/** A state dict does not fit the model (or cannot be remapped); the message names the first problem. */
export class StateDictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateDictError';
  }
}

const q = (s: string) => JSON.stringify(s);
const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

export function matchesPattern(key: string, p: KeyPattern): boolean {
  if (typeof p !== 'string') {
    p.lastIndex = 0; // a /g or /y RegExp would otherwise carry state between keys
    return p.test(key);
  }
  return key === p || key.startsWith(p.endsWith('.') ? p : `${p}.`);
}

const matchesAny = (key: string, ps: readonly KeyPattern[] | undefined) => !!ps && ps.some((p) => matchesPattern(key, p));

/** The model-side name of one checkpoint key, or null when the key is ignored. */
export function remapName(key: string, opts: RemapOptions): string | null {
  let k = key;
  for (const p of opts.stripPrefixes ?? []) {
    if (p !== '' && k.startsWith(p)) {
      k = k.slice(p.length);
      break;
    }
  }
  if (matchesAny(k, opts.ignore)) return null;
  // hasOwnProperty: a key like "toString" must not pick up Object.prototype members.
  return opts.rename && Object.prototype.hasOwnProperty.call(opts.rename, k) ? opts.rename[k]! : k;
}

/** Build the checkpoint-key -> model-key table; two keys landing on one name is an error. */
function remapTable(keys: Iterable<string>, opts: RemapOptions): Map<string, string> {
  const out = new Map<string, string>(); // new -> original
  for (const key of keys) {
    const k = remapName(key, opts);
    if (k === null) continue;
    if (k === '') throw new StateDictError(`key ${q(key)} becomes empty after remapping`);
    const other = out.get(k);
    if (other !== undefined) throw new StateDictError(`keys ${q(other)} and ${q(key)} both map to ${q(k)}`);
    out.set(k, key);
  }
  return out;
}

/** Strip prefixes, drop ignored keys and apply renames. Entries are shared, not copied. */
export function remapKeys(sd: StateDict, opts: RemapOptions): StateDict {
  const out: StateDict = new Map();
  for (const [k, orig] of remapTable(sd.keys(), opts)) out.set(k, sd.get(orig)!);
  return out;
}

/** Up to five items (already formatted), then a count of the rest. */
function listSome(items: string[]): string {
  const shown = items.slice(0, 5).join(', ');
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}

interface GivenInfo {
  shape: readonly number[];
  dtype?: string;
  /** Checkpoint key before remapping, for messages. */
  source?: string;
  length?: number;
}

/** BatchNorm's step counter: PyTorch's strict load accepts it missing, and as shape [] or [1] alike. */
export const isCounterKey = (k: string) => /(^|\.)num_batches_tracked$/.test(k);

function matchCore(expected: ReadonlyMap<string, ExpectedEntry>, given: ReadonlyMap<string, GivenInfo>, opts: MatchOptions): MatchResult {
  const strict = opts.strict ?? true;
  const missing: string[] = [];
  const allowedMissing: string[] = [];
  for (const k of expected.keys()) {
    if (given.has(k)) continue;
    if (isCounterKey(k) || matchesAny(k, opts.allowMissing)) allowedMissing.push(k);
    else missing.push(k);
  }
  if (missing.length) throw new StateDictError(`missing ${missing.length} key(s) the model expects: ${listSome(missing.map(q))}`);
  const unexpected = [...given.keys()].filter((k) => !expected.has(k));
  if (strict && unexpected.length) {
    const named = unexpected.map((k) => { const s = given.get(k)!.source; return s && s !== k ? `${q(k)} (from ${q(s)})` : q(k); });
    throw new StateDictError(`${unexpected.length} unexpected key(s) the model does not have: ${listSome(named)}`);
  }
  for (const [k, exp] of expected) {
    const g = given.get(k);
    if (!g) continue;
    const from = g.source && g.source !== k ? ` (checkpoint key ${q(g.source)})` : '';
    const same = g.shape.length === exp.shape.length && g.shape.every((d, i) => d === exp.shape[i]);
    const counterOk = isCounterKey(k) && shapeNumel(g.shape) === 1 && shapeNumel(exp.shape) === 1;
    if (!same && !counterOk) throw new StateDictError(`key ${q(k)}${from}: checkpoint has shape ${fmtShape(g.shape)}, model expects ${fmtShape(exp.shape)}`);
    if (g.length !== undefined && g.length !== shapeNumel(g.shape)) {
      throw new StateDictError(`key ${q(k)}${from}: shape ${fmtShape(g.shape)} has ${shapeNumel(g.shape)} elements but data has ${g.length}`);
    }
    if (exp.dtypes && g.dtype !== undefined && !exp.dtypes.includes(g.dtype)) {
      throw new StateDictError(`key ${q(k)}${from}: checkpoint dtype ${g.dtype}, model accepts ${exp.dtypes.join(' or ')}`);
    }
    if (!isCounterKey(k) && g.dtype !== undefined && !['F32', 'F16', 'BF16', 'F64'].includes(g.dtype)) {
      throw new StateDictError(`key ${q(k)}${from}: dtype ${g.dtype}, a floating-point parameter needs F32, F16, BF16 or F64`);
    }

  }
  return { ok: true, missing: allowedMissing, unexpected: strict ? [] : unexpected };
}

/**
 * Check `given` against the model's expected keys and shapes, before anything is copied. Throws a
 * StateDictError naming the first problem: missing keys (up to 5 listed), then unexpected keys
 * (when strict), then the first shape mismatch in expected order.
 */
export function matchStateDict(expected: ReadonlyMap<string, ExpectedEntry>, given: StateDict, opts: MatchOptions = {}): MatchResult {
  const info = new Map<string, GivenInfo>();
  for (const [k, e] of given) info.set(k, { shape: e.shape, dtype: e.dtype, length: e.data.length });
  return matchCore(expected, info, opts);
}

export type LoadOptions = RemapOptions & MatchOptions;

/**
 * Read a weight file (safetensors or torch.save) for a model: remap its keys, check keys, shapes and dtypes
 * against `expected` before reading, then read only the tensors the model takes. Returns them under the model's
 * names, in `expected`'s order. Every error message starts with the path. (The general entry point, with
 * prefix detection and a report, is readForModel in weights_file.ts; this keeps the RemapOptions form.)
 */
export async function loadForModel(file: string, expected: ReadonlyMap<string, ExpectedEntry>, opts: LoadOptions = {}): Promise<StateDict> {
  const { openWeightFile, readForModel } = await import('./weights_file.js');
  const f = await openWeightFile(file);
  try {
    // RemapOptions: each name loses the first listed prefix it starts with; ignored names are dropped.
    remapTable(f.tensors.keys(), opts); // two names landing on one key: an error before anything is read
    const { sd } = await readForModel(f, expected, { map: (n) => remapName(n, { stripPrefixes: opts.stripPrefixes, ignore: opts.ignore }), rename: opts.rename, strict: opts.strict ?? true, allowMissing: opts.allowMissing });
    return sd;
  } catch (err) {
    if (err instanceof StateDictError && !err.message.startsWith(file)) throw new StateDictError(`${file}: ${err.message}`);
    throw err;
  } finally {
    await f.close();
  }
}
