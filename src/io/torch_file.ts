// torch.save files, read without Python: the zip format (PyTorch >= 1.6: <archive>/data.pkl, whose persistent
// ids name storages stored as <archive>/data/<key>, plus <archive>/version and an optional <archive>/byteorder)
// and the legacy format (a magic-number pickle, a protocol pickle, a system-info pickle, the object pickle, the
// storage-key list pickle, then each storage as an 8-byte element count and its raw bytes).
//
// The pickles go through the restricted unpickler (pickle.ts) with the allow-list below: tensor and parameter
// rebuild functions, storage types, OrderedDict, torch.Size, argparse.Namespace (kept as a plain record), and the
// data-only helpers of state dicts (sets, bytes, numpy scalars, devices, dtypes). Any other global is refused by
// name before anything is built. Tensors come back as references (storage, offset, shape, stride): nothing is
// read until a tensor is asked for, one storage at a time, so a checkpoint's unused parts (optimizer state, a
// key encoder) cost no memory and a file of several GB never sits in memory twice.
import { promises as fsp } from 'node:fs';
import yauzl from 'yauzl';
import { unpickle, PickleError, PyObject, describe, type PyCallable } from './pickle.js';
import { bf16ArrayToF32, f16ArrayToF32 } from './half.js';

/** An error about one torch.save file; the message starts with the path. */
export class TorchFileError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'TorchFileError';
  }
}

/** Storage classes by torch name: safetensors-style dtype and bytes per element. */
const STORAGE_TYPES: Record<string, { dtype: string; size: number }> = {
  FloatStorage: { dtype: 'F32', size: 4 }, DoubleStorage: { dtype: 'F64', size: 8 }, HalfStorage: { dtype: 'F16', size: 2 },
  BFloat16Storage: { dtype: 'BF16', size: 2 }, LongStorage: { dtype: 'I64', size: 8 }, IntStorage: { dtype: 'I32', size: 4 },
  ShortStorage: { dtype: 'I16', size: 2 }, CharStorage: { dtype: 'I8', size: 1 }, ByteStorage: { dtype: 'U8', size: 1 },
  BoolStorage: { dtype: 'BOOL', size: 1 },
};
/** torch dtypes named in pickles (torch.float32 ...) and in untyped-storage metadata. */
const TORCH_DTYPES: Record<string, string> = {
  float32: 'F32', float: 'F32', float64: 'F64', double: 'F64', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const DTYPE_SIZE: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
export const FLOAT_DTYPES: readonly string[] = ['F32', 'F64', 'F16', 'BF16'];

class StorageType implements PyCallable {
  constructor(readonly pyName: string, readonly dtype: string, readonly size: number) {}
}

/** One storage of the file (or, in legacy files, a view into one). */
export interface StorageRef { key: string; dtype: string; numel: number; /** Element offset into the root storage (legacy views). */ offset: number }

/** A tensor as the pickle describes it; its values are read on demand. */
export class TorchTensor {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
  get dtype(): string { return this.storage.dtype; }
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
}

/** The values a checkpoint holds, as the allow-list builds them. */
export type PyValue = unknown;

const ALLOWED_SUMMARY = 'tensor and parameter rebuild functions, storage types, collections.OrderedDict, torch.Size, ' +
  'argparse.Namespace, builtins.set/frozenset/bytearray, _codecs.encode, numpy scalars and dtypes, torch.device and torch dtypes';

function fn(pyName: string, call: (args: unknown[]) => unknown, create?: (args: unknown[]) => unknown): PyCallable {
  return { pyName, call, create };
}

function ints(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) throw new Error(`${what} is not a tuple of non-negative integers`);
  return v as number[];
}

function rebuildTensor(args: unknown[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!storage || typeof storage !== 'object' || !('key' in storage)) throw new Error(`expects a storage, got a ${describe(storage)}`);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new Error(`storage offset ${String(offset)} is not a non-negative integer`);
  const shape = ints(size, 'size'), st = ints(stride, 'stride');
  if (st.length !== shape.length) throw new Error(`size ${JSON.stringify(shape)} and stride ${JSON.stringify(st)} differ in length`);
  return new TorchTensor(storage as StorageRef, offset, shape, st);
}

/** The meaning of every global a state-dict checkpoint may name; everything else is refused. */
function resolveGlobal(module: string, name: string): unknown {
  const full = `${module}.${name}`;
  if (module === 'torch' && name in STORAGE_TYPES) { const s = STORAGE_TYPES[name]!; return new StorageType(full, s.dtype, s.size); }
  if (module === 'torch' && name in TORCH_DTYPES) return TORCH_DTYPES[name];
  switch (full) {
    case 'torch._utils._rebuild_tensor_v2': case 'torch._utils._rebuild_tensor': return fn(full, rebuildTensor);
    case 'torch._utils._rebuild_parameter': case 'torch._utils._rebuild_parameter_with_state': return fn(full, (a) => a[0]);
    case 'torch._tensor._rebuild_from_type_v2': return fn(full, (a) => {
      const [f, , args] = a;
      if (!f || typeof f !== 'object' || !('call' in f) || !Array.isArray(args)) throw new Error('expects (function, type, args, state)');
      return (f as PyCallable).call!(args);
    });
    case 'torch.Tensor': case 'torch.nn.parameter.Parameter': return fn(full, (a) => a[0]);
    case 'torch.storage.UntypedStorage': case 'torch.storage._UntypedStorage': return new StorageType(full, 'U8', 1);
    case 'collections.OrderedDict': return fn(full, (a) => {
      const m = new Map();
      if (a.length && Array.isArray(a[0])) for (const pair of a[0] as unknown[]) { if (Array.isArray(pair) && pair.length === 2) m.set(pair[0], pair[1]); }
      return m;
    });
    case 'torch.Size': return fn(full, (a) => ints(a[0] ?? [], 'torch.Size'));
    case 'argparse.Namespace': return fn(full, () => new PyObject(full), () => new PyObject(full));
    case 'builtins.set': case 'builtins.frozenset': case '__builtin__.set': case '__builtin__.frozenset':
      return fn(full, (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []));
    case 'builtins.bytearray': case '__builtin__.bytearray': return fn(full, (a) => (a[0] instanceof Uint8Array ? a[0] : new Uint8Array(0)));
    case '_codecs.encode': return fn(full, (a) => {
      // Protocol 2 writes bytes as _codecs.encode(text, 'latin1'): data only.
      if (typeof a[0] !== 'string' || (a[1] !== 'latin1' && a[1] !== 'latin-1')) throw new Error('only latin1 text is decoded');
      return Uint8Array.from(a[0] as string, (c) => c.charCodeAt(0) & 0xff);
    });
    case 'torch.device': return fn(full, (a) => a.map(String).join(':'));
    case 'numpy.dtype': case 'numpy.core.multiarray.dtype': return fn(full, (a) => new NumpyDtype(String(a[0])), (a) => new NumpyDtype(String(a[0])));
    case 'numpy.core.multiarray.scalar': case 'numpy._core.multiarray.scalar': return fn(full, (a) => numpyScalar(a[0], a[1]));
    default: break;
  }
  if (/^torch\.nn\.modules\.|^torchvision\.models\./.test(full)) {
    throw new PickleError(`refuses ${full}: the file pickles a whole model object, not a state dict; in PyTorch, load it once and torch.save(model.state_dict(), path) to get a file of tensors`);
  }
  throw new PickleError(`refuses to unpickle the global ${full}: a checkpoint of tensors never needs it, and loading it in PyTorch could run code; nothing of it was run or built here (allowed: ${ALLOWED_SUMMARY})`);
}

class NumpyDtype {
  readonly pyName = 'numpy.dtype';
  constructor(readonly code: string) {}
  setState(): void { /* byte order and flags: only native little-endian dtypes are read below */ }
}

function numpyScalar(dtype: unknown, raw: unknown): number | boolean {
  if (!(dtype instanceof NumpyDtype) || !(raw instanceof Uint8Array)) throw new Error('expects (dtype, bytes)');
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype.code) {
    case 'f8': return dv.getFloat64(0, true);
    case 'f4': return dv.getFloat32(0, true);
    case 'i8': return Number(dv.getBigInt64(0, true));
    case 'i4': return dv.getInt32(0, true);
    case 'u1': case 'i1': return raw[0]!;
    case 'b1': return raw[0] !== 0;
    default: throw new Error(`numpy scalar of dtype ${dtype.code} is not read`);
  }
}

export interface TorchFile {
  path: string;
  format: 'zip' | 'legacy';
  /** The unpickled object (dicts are Maps, tensors TorchTensor references). */
  root: PyValue;
  /** Read one tensor's values: float dtypes as float32, integer ones as float32 too (exact below 2^24). */
  read(t: TorchTensor): Promise<Float32Array>;
  close(): Promise<void>;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
// The legacy format's first pickle is this number (torch/serialization.py MAGIC_NUMBER).
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Is this a torch.save file (zip with a data.pkl, or a legacy pickle stream)? Reads the first bytes only. */
export async function sniffTorchFile(path: string): Promise<'zip' | 'legacy' | null> {
  const st = await fsp.stat(path);
  if (!st.isFile()) throw new Error(st.isDirectory() ? 'is a directory' : 'not a regular file (a FIFO, socket or device)');
  const fh = await fsp.open(path, 'r');
  try {
    const b = new Uint8Array(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead < 2) return null;
    if (ZIP_MAGIC.every((v, i) => b[i] === v)) return 'zip';
    if (b[0] === 0x80 && b[1]! >= 2 && b[1]! <= 5) return 'legacy'; // a pickle PROTO opcode
    return null;
  } finally {
    await fh.close();
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

async function readAt(fh: fsp.FileHandle, path: string, dst: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const len = Math.min(1 << 28, dst.length - done);
    const { bytesRead } = await fh.read(dst, done, len, position + done);
    if (bytesRead === 0) throw new TorchFileError(path, `truncated: ${what} needs ${dst.length} bytes at offset ${position}, the file ends after ${done}`);
    done += bytesRead;
  }
}

/** Convert a storage's raw bytes (little-endian after any swap) to float32, gathering the tensor's strided view. */
function gather(raw: Uint8Array, dtype: string, rootOffset: number, t: TorchTensor, path: string, name: string): Float32Array {
  const size = DTYPE_SIZE[dtype]!;
  const elems = raw.length / size;
  const n = t.numel;
  const out = new Float32Array(n);
  if (n === 0) return out;
  // The last element the view touches must lie inside the storage.
  let last = rootOffset + t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d]! - 1) * t.stride[d]!;
  if (last >= elems) throw new TorchFileError(path, `tensor ${name}: its view (offset ${t.offset}, shape [${t.shape.join(', ')}], stride [${t.stride.join(', ')}]) reaches element ${last} of a storage of ${elems}`);
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length);
  const src: ArrayLike<number> | BigInt64Array = (() => {
    switch (dtype) {
      case 'F32': return new Float32Array(buf);
      case 'F64': return new Float64Array(buf);
      case 'F16': return f16ArrayToF32(new Uint16Array(buf));
      case 'BF16': return bf16ArrayToF32(new Uint16Array(buf));
      case 'I64': return new BigInt64Array(buf);
      case 'I32': return new Int32Array(buf);
      case 'I16': return new Int16Array(buf);
      case 'I8': return new Int8Array(buf);
      default: return new Uint8Array(buf);
    }
  })();
  const get = src instanceof BigInt64Array ? (i: number) => Number(src[i]!) : (i: number) => (src as ArrayLike<number>)[i]!;
  // Row-major walk over the shape with the view's strides.
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = rootOffset + t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = get(off);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += t.stride[d]!;
      if (idx[d]! < t.shape[d]!) break;
      off -= t.shape[d]! * t.stride[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function swapIfBig(raw: Uint8Array, size: number, bigEndian: boolean): void {
  if (bigEndian === !LITTLE_ENDIAN || size === 1) return;
  for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
}

/** Open a torch.save file: its object structure now, tensor values on demand. */
export async function openTorchFile(path: string): Promise<TorchFile> {
  const kind = await sniffTorchFile(path).catch((e: Error) => { throw new TorchFileError(path, `cannot open: ${e.message}`); });
  if (kind === 'zip') return openZip(path);
  if (kind === 'legacy') return openLegacy(path);
  throw new TorchFileError(path, 'not a torch.save file (neither a zip archive nor a pickle stream)');
}

// ---- zip format ---------------------------------------------------------------------------------------------

function zipOpen(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(path, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true },
    (err, z) => (err ? reject(err) : resolve(z!))));
}

function zipEntries(z: yauzl.ZipFile): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, yauzl.Entry>();
    z.on('entry', (e: yauzl.Entry) => { out.set(e.fileName, e); z.readEntry(); });
    z.on('end', () => resolve(out));
    z.on('error', reject);
    z.readEntry();
  });
}

async function openZip(path: string): Promise<TorchFile> {
  let z: yauzl.ZipFile;
  let entries: Map<string, yauzl.Entry>;
  try {
    z = await zipOpen(path);
    entries = await zipEntries(z);
  } catch (e) {
    throw new TorchFileError(path, `not a readable zip archive: ${(e as Error).message}`);
  }
  const fh = await fsp.open(path, 'r');
  const close = async () => { z.close(); await fh.close(); };
  try {
    const pkl = [...entries.keys()].find((n) => /(^|\/)data\.pkl$/.test(n));
    if (!pkl) throw new TorchFileError(path, `zip archive without a data.pkl entry: not a torch.save file (entries: ${[...entries.keys()].slice(0, 5).join(', ')})`);
    const prefix = pkl.slice(0, -'data.pkl'.length);
    const entryBytes = async (e: yauzl.Entry, what: string): Promise<Uint8Array> => {
      if (e.compressionMethod === 0) {
        const { fileDataStart } = await z.readLocalFileHeaderPromise(e, { minimal: true });
        const b = new Uint8Array(e.compressedSize);
        await readAt(fh, path, b, fileDataStart, what);
        return b;
      }
      // Re-zipped with compression (torch.save itself never compresses): stream and inflate.
      const stream = await z.openReadStreamPromise(e);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    };
    const order = entries.get(`${prefix}byteorder`);
    const bigEndian = order ? new TextDecoder().decode(await entryBytes(order, 'byteorder')).trim() === 'big' : false;
    const data = await entryBytes(entries.get(pkl)!, pkl);
    const root = unpickle(data, 0, {
      source: `${path} (${pkl})`, resolveGlobal,
      persistentLoad: (pid) => {
        // ('storage', storage_type, key, location, numel)
        if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error(`persistent id ${describe(pid)} is not a storage`);
        const [, type, key, , numel] = pid;
        if (!(type instanceof StorageType)) throw new Error(`storage of type ${describe(type)}`);
        if (typeof key !== 'string' || typeof numel !== 'number') throw new Error('storage key/size malformed');
        const entry = entries.get(`${prefix}data/${key}`);
        if (!entry) throw new TorchFileError(path, `storage ${key} is named in ${pkl} but the archive has no entry ${prefix}data/${key}`);
        const need = numel * type.size;
        if (entry.uncompressedSize < need) throw new TorchFileError(path, `storage ${key} (${prefix}data/${key}) has ${entry.uncompressedSize} bytes, its ${numel} elements need ${need}`);
        return { key, dtype: type.dtype, numel, offset: 0 } satisfies StorageRef;
      },
    }).value;
    const cache = new Map<string, Uint8Array>();
    return {
      path, format: 'zip', root,
      async read(t: TorchTensor) {
        let raw = cache.get(t.storage.key);
        if (!raw) {
          raw = await entryBytes(entries.get(`${prefix}data/${t.storage.key}`)!, `storage ${t.storage.key}`);
          swapIfBig(raw, DTYPE_SIZE[t.dtype]!, bigEndian);
          cache.clear(); // one storage held at a time: views of one storage are usually read together
          cache.set(t.storage.key, raw);
        }
        return gather(raw.subarray(0, t.storage.numel * DTYPE_SIZE[t.dtype]!), t.dtype, t.storage.offset, t, path, `storage ${t.storage.key}`);
      },
      close,
    };
  } catch (e) {
    await close();
    if (e instanceof PickleError || e instanceof TorchFileError) throw e;
    throw new TorchFileError(path, (e as Error).message);
  }
}

// ---- legacy format ------------------------------------------------------------------------------------------

async function openLegacy(path: string): Promise<TorchFile> {
  const fh = await fsp.open(path, 'r');
  try {
    const { size } = await fh.stat();
    // The pickles come first and are small next to the storages: read a growing prefix until all five parse.
    let have = Math.min(size, 1 << 20);
    for (;;) {
      const head = new Uint8Array(have);
      await readAt(fh, path, head, 0, 'the pickles');
      try {
        return await parseLegacy(path, fh, head, size);
      } catch (e) {
        if (e instanceof PickleError && /truncated pickle/.test(e.message) && have < size) { have = Math.min(size, have * 4); continue; }
        throw e;
      }
    }
  } catch (e) {
    await fh.close();
    if (e instanceof PickleError || e instanceof TorchFileError) throw e;
    throw new TorchFileError(path, (e as Error).message);
  }
}

async function parseLegacy(path: string, fh: fsp.FileHandle, head: Uint8Array, fileSize: number): Promise<TorchFile> {
  const plain = { source: path, resolveGlobal: (m: string, n: string): unknown => { throw new PickleError(`refuses the global ${m}.${n} in a legacy header pickle`); } };
  const magic = unpickle(head, 0, plain);
  if (magic.value !== LEGACY_MAGIC && magic.value !== Number(LEGACY_MAGIC)) {
    throw new TorchFileError(path, `wrong magic number ${String(magic.value)}: a pickle, but not a torch.save file (legacy format)`);
  }
  const proto = unpickle(head, magic.end, plain);
  if (proto.value !== 1001) throw new TorchFileError(path, `legacy torch.save protocol ${String(proto.value)} is not 1001`);
  const sys = unpickle(head, proto.end, plain);
  const info = sys.value instanceof Map ? sys.value : new Map();
  const bigEndian = info.get('little_endian') === false;
  const roots = new Map<string, StorageRef>();
  const views: StorageRef[] = [];
  const obj = unpickle(head, sys.end, {
    source: path, resolveGlobal,
    persistentLoad: (pid) => {
      // ('storage', storage_type, root_key, location, numel, view_metadata)
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 6) throw new Error(`persistent id ${describe(pid)} is not a storage`);
      const [, type, key, , numel, view] = pid;
      if (!(type instanceof StorageType)) throw new Error(`storage of type ${describe(type)}`);
      if (typeof key !== 'string' || typeof numel !== 'number') throw new Error('storage key/size malformed');
      let root = roots.get(key);
      if (!root) { root = { key, dtype: type.dtype, numel, offset: 0 }; roots.set(key, root); }
      if (view === null || view === undefined) return root;
      if (!Array.isArray(view) || view.length !== 3) throw new Error('storage view metadata malformed');
      const [, voff, vsize] = view as [string, number, number];
      const ref = { key, dtype: type.dtype, numel: vsize, offset: voff };
      views.push(ref);
      return ref;
    },
  });
  const keysP = unpickle(head, obj.end, plain);
  const keys = keysP.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new TorchFileError(path, 'the storage-key list after the object is malformed');
  // Storages follow in key order: an 8-byte element count, then the data.
  const where = new Map<string, { pos: number; numel: number }>();
  let pos = keysP.end;
  const hdr = new Uint8Array(8);
  for (const k of keys as string[]) {
    const ref = roots.get(k);
    if (!ref) throw new TorchFileError(path, `storage ${k} is listed but no tensor uses it`);
    await readAt(fh, path, hdr, pos, `the size of storage ${k}`);
    const dv = new DataView(hdr.buffer);
    const n = Number(bigEndian ? dv.getBigInt64(0, false) : dv.getBigInt64(0, true));
    const bytes = n * DTYPE_SIZE[ref.dtype]!;
    if (n !== ref.numel) throw new TorchFileError(path, `storage ${k} holds ${n} elements, the pickle says ${ref.numel}`);
    if (pos + 8 + bytes > fileSize) throw new TorchFileError(path, `truncated: storage ${k} needs ${bytes} bytes at offset ${pos + 8}, the file ends at ${fileSize}`);
    where.set(k, { pos: pos + 8, numel: n });
    pos += 8 + bytes;
  }
  for (const k of roots.keys()) if (!where.has(k)) throw new TorchFileError(path, `storage ${k} is used by a tensor but missing from the storage list`);
  for (const v of views) {
    if (v.offset + v.numel > roots.get(v.key)!.numel) throw new TorchFileError(path, `a view of storage ${v.key} runs past its ${roots.get(v.key)!.numel} elements`);
  }
  const cache = new Map<string, Uint8Array>();
  return {
    path, format: 'legacy', root: obj.value,
    async read(t: TorchTensor) {
      const root = roots.get(t.storage.key)!;
      let raw = cache.get(root.key);
      if (!raw) {
        const w = where.get(root.key)!;
        raw = new Uint8Array(w.numel * DTYPE_SIZE[root.dtype]!);
        await readAt(fh, path, raw, w.pos, `storage ${root.key}`);
        swapIfBig(raw, DTYPE_SIZE[root.dtype]!, bigEndian);
        cache.clear();
        cache.set(root.key, raw);
      }
      return gather(raw, root.dtype, t.storage.offset, t, path, `storage ${root.key}`);
    },
    close: () => fh.close(),
  };
}
