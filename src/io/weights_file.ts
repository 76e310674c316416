// One way in for weights, whatever file they come in: safetensors, or torch.save files in either format (.pth,
// .pth.tar, .pt, .bin). A weight file is opened into named tensors that are read only when asked for; the
// state dict inside a training checkpoint is found by its usual keys (state_dict, model, teacher, ...) or by
// `key`, and the wrapper prefix around the backbone (module., module.encoder_q., backbone., ...) is found by
// matching the names against what the model expects, or given as `strip`. Loading then checks every key,
// shape and dtype, and every value's finiteness, before anything is copied; errors name the file, the key and
// what the command calls the file (teacher, weights, checkpoint), and suggest the option that would fix them.
import { promises as fsp } from 'node:fs';
import { openSafetensors, SafetensorsError, shapeNumel } from './safetensors.js';
import { openTorchFile, TorchTensor, TorchFileError, FLOAT_DTYPES } from './torch_file.js';
import { PickleError, PyObject } from './pickle.js';
import { matchesPattern, StateDictError, type KeyPattern, type StateDict, type ExpectedEntry } from './state_dict.js';

export interface WeightTensor { name: string; dtype: string; shape: number[]; read(): Promise<Float32Array> }

export interface WeightFile {
  path: string;
  format: 'safetensors' | 'torch zip' | 'torch legacy';
  metadata: Record<string, string>;
  /** Where in the file the tensors were taken from ('' = the top level), '/'-separated. */
  key: string;
  /** Every place in the file that holds tensors, with how many (for messages and `simreg inspect`). */
  places: { key: string; count: number }[];
  /** Top-level entries that are not tensors (epoch, arch, args ...), summarised. */
  extras: Record<string, string>;
  tensors: Map<string, WeightTensor>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** The dict to take tensors from, '/'-separated for nested ones (e.g. "state_dict", "teacher"). */
  key?: string;
  /** What the command calls this file, for messages: teacher, weights, checkpoint, input. */
  role?: string;
}

/** An error about a weight file, worded for the command that read it. */
export class WeightFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightFileError';
  }
}

const q = (s: string) => JSON.stringify(s);
const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The file's own path-prefixed message, reworded as "<role> <path>: ...". */
function worded(role: string | undefined, path: string, e: unknown): WeightFileError {
  let msg = (e as Error).message;
  if (msg.startsWith(`${path}: `)) msg = msg.slice(path.length + 2);
  else if (msg.startsWith(`${path} (`)) msg = msg.slice(path.length + 1);
  return new WeightFileError(`${role ? `${role} ` : ''}${path}: ${msg}`);
}

// Where state dicts live in the checkpoints of the usual projects, most likely first.
const STATE_KEYS = ['state_dict', 'model', 'teacher', 'model_state_dict', 'model_state', 'student', 'net', 'network', 'state', 'module', 'encoder', 'backbone', 'params', 'weights'];

/** Open a weight file of any supported format; tensors are read on demand. */
export async function openWeightFile(path: string, opts: OpenOptions = {}): Promise<WeightFile> {
  const role = opts.role;
  let st;
  try { st = await fsp.stat(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WeightFileError(`${role ? `${role} ` : ''}${path}: ${code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
  if (!st.isFile()) throw new WeightFileError(`${role ? `${role} ` : ''}${path}: not a regular file (${st.isDirectory() ? 'a directory' : 'a device, FIFO or socket'})`);
  const head = new Uint8Array(8);
  const fh = await fsp.open(path, 'r');
  try { await fh.read(head, 0, 8, 0); } finally { await fh.close(); }
  const isZip = head[0] === 0x50 && head[1] === 0x4b;
  const isPickle = head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5;
  try {
    if (isZip || isPickle) return await openTorch(path, opts);
    return await openSafetensorsFile(path, opts);
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    if (e instanceof SafetensorsError && !isZip && !isPickle && /absurd|runs past|not valid UTF-8|fewer than/.test(e.message)) {
      throw new WeightFileError(`${role ? `${role} ` : ''}${path}: neither safetensors nor a torch.save file (.pth/.pt zip or legacy pickle); ${e.message.slice(path.length + 2)}`);
    }
    throw worded(role, path, e);
  }
}

async function openSafetensorsFile(path: string, opts: OpenOptions): Promise<WeightFile> {
  if (opts.key) throw new WeightFileError(`${opts.role ? `${opts.role} ` : ''}${path}: --key applies to torch.save checkpoints; a safetensors file is one flat dict`);
  const r = await openSafetensors(path);
  const h = r.header;
  const tensors = new Map<string, WeightTensor>();
  for (const e of h.entries) tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, read: () => r.read(e.name) });
  return { path, format: 'safetensors', metadata: h.metadata, key: '', places: [{ key: '', count: tensors.size }], extras: {}, tensors, close: () => r.close() };
}

function summarise(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return v.length > 40 ? `${q(v.slice(0, 40))}...` : q(v);
  if (v instanceof TorchTensor) return `tensor ${v.dtype} ${fmtShape(v.shape)}`;
  if (v instanceof PyObject) return `${v.cls}(${[...v.attrs.keys()].slice(0, 6).join(', ')}${v.attrs.size > 6 ? ', ...' : ''})`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (Array.isArray(v)) return `sequence of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v;
}

/** Tensors under a dict, flattened to dotted names (nested dicts of tensors, e.g. {'center': t} inside a loss). */
function flatten(m: Map<unknown, unknown>, prefix: string, out: Map<string, TorchTensor>, depth: number): void {
  for (const [k, v] of m) {
    const name = `${prefix}${String(k)}`;
    if (v instanceof TorchTensor) out.set(name, v);
    else if (v instanceof Map && depth < 4) flatten(v, `${name}.`, out, depth + 1);
  }
}

/** Every dict (up to 3 levels down) that directly holds tensors, with its tensor count. */
function tensorPlaces(v: unknown, key: string, out: { key: string; count: number; map: Map<unknown, unknown> }[], depth: number): void {
  if (!(v instanceof Map) || depth > 3) return;
  let direct = 0;
  for (const x of v.values()) if (x instanceof TorchTensor) direct++;
  if (direct) out.push({ key, count: direct, map: v });
  for (const [k, x] of v) if (x instanceof Map) tensorPlaces(x, key ? `${key}/${String(k)}` : String(k), out, depth + 1);
}

async function openTorch(path: string, opts: OpenOptions): Promise<WeightFile> {
  const tf = await openTorchFile(path);
  try {
    const root = tf.root;
    const placesAll: { key: string; count: number; map: Map<unknown, unknown> }[] = [];
    tensorPlaces(root, '', placesAll, 0);
    const places = placesAll.map(({ key, count }) => ({ key, count }));
    const extras: Record<string, string> = {};
    if (root instanceof Map) for (const [k, v] of root) if (!(v instanceof TorchTensor)) extras[String(k)] = summarise(v);
    let chosen: { key: string; map: Map<unknown, unknown> } | undefined;
    if (opts.key !== undefined && opts.key !== '') {
      let cur: unknown = root;
      const parts = opts.key.split('/');
      for (let i = 0; i < parts.length; i++) {
        if (!(cur instanceof Map)) throw new WeightFileError(`${opts.role ? `${opts.role} ` : ''}${path}: --key ${opts.key}: ${parts.slice(0, i).join('/') || 'the top level'} is a ${summarise(cur)}, not a dict`);
        const next = cur.get(parts[i]);
        if (next === undefined) {
          const here = [...cur.keys()].map(String);
          throw new WeightFileError(`${opts.role ? `${opts.role} ` : ''}${path}: --key ${opts.key}: no key ${q(parts[i]!)} at ${parts.slice(0, i).join('/') || 'the top level'} (keys there: ${here.slice(0, 12).join(', ')}${here.length > 12 ? ', ...' : ''})`);
        }
        cur = next;
      }
      if (!(cur instanceof Map)) throw new WeightFileError(`${opts.role ? `${opts.role} ` : ''}${path}: --key ${opts.key} is a ${summarise(cur)}, not a dict of tensors`);
      chosen = { key: opts.key, map: cur };
    } else if (root instanceof Map) {
      const top = placesAll.find((p) => p.key === '');
      // A plain state dict (torchvision, torch.save(model.state_dict())): tensors at the top level.
      if (top && top.count >= Math.max(1, root.size / 2)) chosen = { key: '', map: root };
      for (const k of STATE_KEYS) {
        if (chosen) break;
        const v = root.get(k);
        if (v instanceof Map && placesAll.some((p) => p.key === k || p.key.startsWith(`${k}/`))) chosen = { key: k, map: v };
      }
      if (!chosen) {
        const best = [...placesAll].sort((a, b) => b.count - a.count)[0];
        if (best) chosen = { key: best.key, map: best.map };
      }
    }
    if (!chosen) {
      throw new WeightFileError(`${opts.role ? `${opts.role} ` : ''}${path}: holds no tensors (the object is a ${summarise(root)})`);
    }
    const flat = new Map<string, TorchTensor>();
    flatten(chosen.map, '', flat, 0);
    if (!flat.size) throw new WeightFileError(`${opts.role ? `${opts.role} ` : ''}${path}: ${chosen.key || 'the top level'} holds no tensors; places with tensors: ${places.map((p) => `${p.key || '(top level)'} (${p.count})`).join(', ') || 'none'}`);
    const tensors = new Map<string, WeightTensor>();
    for (const [name, t] of flat) tensors.set(name, { name, dtype: t.dtype, shape: t.shape, read: () => tf.read(t) });
    return { path, format: tf.format === 'zip' ? 'torch zip' : 'torch legacy', metadata: {}, key: chosen.key, places, extras, tensors, close: () => tf.close() };
  } catch (e) {
    await tf.close();
    throw e;
  }
}

// ---- layouts -------------------------------------------------------------------------------------------------

/** Known wrappers around a backbone, and what they say about where the file came from. */
const KNOWN_PREFIXES: [string, string][] = [
  ['module.encoder_q.', 'MoCo v1/v2 (query encoder)'], ['encoder_q.', 'MoCo v1/v2 (query encoder)'],
  ['module.base_encoder.', 'MoCo v3 (base encoder)'], ['base_encoder.', 'MoCo v3 (base encoder)'],
  ['module.online_network.encoder.', 'BYOL (online network encoder)'], ['online_network.encoder.', 'BYOL (online network encoder)'],
  ['module.backbone.', 'backbone in a DataParallel wrapper (DINO student, SimCLR/BYOL ports)'], ['backbone.', 'backbone (DINO teacher, SimCLR/BYOL ports)'],
  ['module.encoder.', 'encoder in a DataParallel wrapper (SimCLR ports)'], ['encoder.', 'encoder (SimCLR ports)'],
  ['module.model.', 'model in a DataParallel wrapper'], ['model.', 'model wrapper'],
  ['module.', 'DataParallel wrapper (SwAV, DeepCluster, supervised training scripts)'],
];

export interface Layout {
  /** The prefix stripped from the names ('' for none). */
  strip: string;
  /** What the file looks like, in words. */
  name: string;
  /** Expected keys found under that prefix. */
  matched: number;
}

/** Describe a file's layout from its key, its names and the prefix in use. */
export function describeLayout(f: Pick<WeightFile, 'key' | 'metadata' | 'tensors'>, strip: string): string {
  if (f.metadata['simreg.model']) return `simreg export (${f.metadata['simreg.model']})`;
  const names = [...f.tensors.keys()];
  if (f.key === 'teacher' && strip.endsWith('backbone.')) return 'DINO (teacher backbone)';
  if (f.key === 'student' && strip.endsWith('backbone.')) return 'DINO (student backbone)';
  if (strip === 'module.' && names.some((n) => /prototypes\.weight$/.test(n))) return 'SwAV (DataParallel wrapper, projection head and prototypes beside the backbone)';
  const known = KNOWN_PREFIXES.find(([p]) => p === strip);
  if (known) return known[1];
  if (strip === '') {
    const fc = f.tensors.get('fc.weight') ?? f.tensors.get('classifier.1.weight');
    return fc ? `torchvision (backbone + ${fc.shape[0]}-class classifier)` : 'plain state dict';
  }
  return `backbone under ${q(strip)}`;
}

/**
 * The prefix whose removal makes the most names match `expected`: each name that ends in an expected key at a
 * module boundary votes for what stands before it; the most votes win (ties: the shorter prefix).
 */
export function findPrefix(names: Iterable<string>, expected: Iterable<string>): { strip: string; matched: number } {
  const exp = [...expected];
  const votes = new Map<string, Set<string>>();
  for (const n of names) {
    for (const e of exp) {
      if (n === e || (n.endsWith(e) && n[n.length - e.length - 1] === '.')) {
        const p = n.slice(0, n.length - e.length);
        let s = votes.get(p);
        if (!s) votes.set(p, (s = new Set()));
        s.add(e);
      }
    }
  }
  let best = { strip: '', matched: 0 };
  for (const [p, s] of votes) if (s.size > best.matched || (s.size === best.matched && p.length < best.strip.length)) best = { strip: p, matched: s.size };
  return best;
}

/** Without a model to match: the first known wrapper prefix most names start with, else none. */
export function guessPrefix(names: Iterable<string>): string {
  const list = [...names];
  for (const [p] of KNOWN_PREFIXES) {
    const n = list.filter((x) => x.startsWith(p)).length;
    if (n >= Math.max(1, list.length / 3)) return p;
  }
  return '';
}

// ---- loading for a model -------------------------------------------------------------------------------------

export interface LoadRules {
  /** The prefix to strip; default: found by matching the names against the model's keys. */
  strip?: string;
  /** Names (after stripping) the model does not take and that are dropped without complaint (heads, classifiers). */
  ignore?: KeyPattern[];
  /** Renames applied after stripping: { "file name": "model name" }. */
  rename?: Record<string, string>;
  /** Expected keys the file may lack (the model keeps its own values). num_batches_tracked always may, as in PyTorch. */
  allowMissing?: KeyPattern[];
  /** Refuse names under the prefix that the model does not have and that `ignore` does not cover (default true). */
  strict?: boolean;
  /** A name-by-name mapping used instead of strip/rename (null drops the name): RemapOptions' stripPrefixes. */
  map?: (name: string) => string | null;
}

export interface LoadReport {
  layout: string;
  strip: string;
  key: string;
  /** Expected keys absent from the file (allowed). */
  missing: string[];
  /** Names under the prefix that were dropped (ignored or, when not strict, unexpected). */
  dropped: string[];
  /** Names outside the prefix (another encoder, optimizer state ...), not read. */
  outside: number;
}

/** Levenshtein distance, bounded (for suggesting the closest expected keys). */
function distance(a: string, b: string): number {
  const m = a.length, n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[n]!;
}

export function closest(key: string, pool: Iterable<string>, k = 3): string[] {
  return [...pool].map((p) => [p, distance(key, p)] as const).sort((x, y) => x[1] - y[1]).slice(0, k).map(([p]) => p);
}

const isCounter = (k: string) => /(^|\.)num_batches_tracked$/.test(k);

/**
 * Read the tensors `expected` names from `f`: find or apply the prefix, check every key, shape and dtype (float
 * parameters need float data) before reading, then read them and check every value is finite. Returns them
 * under the model's names, in `expected`'s order, and what was done. Nothing is returned on any error.
 */
export async function readForModel(f: WeightFile, expected: ReadonlyMap<string, ExpectedEntry>, rules: LoadRules = {}, role?: string): Promise<{ sd: StateDict; report: LoadReport }> {
  const who = `${role ? `${role} ` : ''}${f.path}`;
  const fail = (msg: string): never => { throw new StateDictError(`${who}: ${msg}`); };
  const names = [...f.tensors.keys()];
  let strip: string;
  if (rules.map) {
    strip = '';
  } else if (rules.strip !== undefined) {
    strip = rules.strip;
    if (strip && !names.some((n) => n.startsWith(strip))) {
      fail(`--strip ${q(strip)}: no name starts with it (names look like ${names.slice(0, 3).map(q).join(', ')})`);
    }
  } else {
    strip = findPrefix(names, expected.keys()).strip;
  }
  const layout = describeLayout(f, strip);
  // Names under the prefix, renamed to the model's.
  const table = new Map<string, string>(); // model key -> file name
  const dropped: string[] = [];
  let outside = 0;
  const unexpected: string[] = [];
  for (const n of names) {
    if (!n.startsWith(strip)) { outside++; continue; }
    let k = n.slice(strip.length);
    if (rules.map) {
      const mapped = rules.map(n);
      if (mapped === null) { dropped.push(n); continue; }
      if (mapped === '') fail(`key ${q(n)} becomes empty after remapping`);
      k = mapped;
    }
    if (rules.rename && Object.prototype.hasOwnProperty.call(rules.rename, k)) k = rules.rename[k]!;
    if (!expected.has(k)) {
      if ((rules.ignore ?? []).some((p) => matchesPattern(k, p)) || rules.strict === false) dropped.push(n);
      else unexpected.push(n);
      continue;
    }
    if (table.has(k)) fail(`keys ${q(table.get(k)!)} and ${q(n)} both map to ${q(k)}`);
    table.set(k, n);
  }
  const missing: string[] = [];
  const allowed: string[] = [];
  for (const k of expected.keys()) {
    if (table.has(k)) continue;
    if (isCounter(k) || (rules.allowMissing ?? []).some((p) => matchesPattern(k, p))) allowed.push(k);
    else missing.push(k);
  }
  const hint = () => {
    const flags: string[] = [];
    if (f.places.length > 1) flags.push(`--key (tensors are found under ${f.places.map((p) => `${p.key || '(top level)'} (${p.count})`).join(', ')}; this used ${f.key || 'the top level'})`);
    flags.push(`--strip (this used ${strip ? q(strip) : 'no prefix'}; \`simreg inspect ${f.path}\` lists every name)`);
    return ` Try ${flags.join(', or ')}.`;
  };
  if (missing.length) {
    const first = missing[0]!;
    const near = closest(`${strip}${first}`, names, 3);
    fail(`missing ${missing.length} key(s) the model expects: ${missing.slice(0, 5).map(q).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}` +
      ` (file layout: ${layout}; closest names in the file to ${q(first)}: ${near.map(q).join(', ')}). Is the architecture right?${hint()}`);
  }
  if (unexpected.length) {
    const first = rules.map ? rules.map(unexpected[0]!)! : unexpected[0]!.slice(strip.length);
    const shown = (n: string) => (rules.map ? rules.map(n)! : n.slice(strip.length));
    const named = unexpected.map((n) => (shown(n) !== n ? `${q(shown(n))} (from ${q(n)})` : q(n)));
    fail(`${unexpected.length} unexpected key(s) the model does not have: ${named.slice(0, 5).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''}` +
      ` (file layout: ${layout}; closest model keys to ${q(first)}: ${closest(first, expected.keys(), 3).map(q).join(', ')}). Is the architecture right?${hint()}`);
  }
  for (const [k, e] of expected) {
    const n = table.get(k);
    if (n === undefined) continue;
    const t = f.tensors.get(n)!;
    const from = n !== k ? ` (checkpoint key ${q(n)})` : '';
    const scalarOk = isCounter(k) && shapeNumel(t.shape) === 1 && shapeNumel(e.shape) === 1;
    const same = t.shape.length === e.shape.length && t.shape.every((d, i) => d === e.shape[i]);
    if (!same && !scalarOk) fail(`key ${q(k)}${from}: checkpoint has shape ${fmtShape(t.shape)}, model expects ${fmtShape(e.shape)}`);
    if (e.dtypes && !e.dtypes.includes(t.dtype)) fail(`key ${q(k)}${from}: checkpoint dtype ${t.dtype}, model accepts ${e.dtypes.join(' or ')}`);
    if (!isCounter(k) && !FLOAT_DTYPES.includes(t.dtype)) fail(`key ${q(k)}${from}: dtype ${t.dtype}, a floating-point parameter needs F32, F16, BF16 or F64`);
  }
  const sd: StateDict = new Map();
  for (const [k, e] of expected) {
    const n = table.get(k);
    if (n === undefined) continue;
    const t = f.tensors.get(n)!;
    let data: Float32Array;
    try { data = await t.read(); } catch (err) { throw worded(role, f.path, err); }
    if (!isCounter(k)) {
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          let bad = 0;
          for (const v of data) if (!Number.isFinite(v)) bad++;
          fail(`key ${q(k)}${n !== k ? ` (checkpoint key ${q(n)})` : ''} holds ${bad} non-finite value(s) (the first, ${data[i]}, at index ${i}): the weights are damaged`);
        }
      }
    }
    sd.set(k, { shape: isCounter(k) ? [...e.shape] : t.shape, data, dtype: t.dtype });
  }
  return { sd, report: { layout, strip, key: f.key, missing: allowed, dropped, outside } };
}

export { PickleError, TorchFileError };
