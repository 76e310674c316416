// safetensors reader and writer on plain Float32Arrays.
//
// Format: u64 little-endian header length N, N bytes of UTF-8 JSON
//   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": { str: str } }
// then the tensor bytes (little-endian, row-major), offsets relative to the first byte after the header.
//
// Reading streams: one small read for the length, one for the header, then a positioned read per
// tensor straight into its destination (F32 lands in the returned array's own bytes; other dtypes
// go through a buffer the size of that one tensor). The whole file is never held in memory twice.
// Writing is atomic: a temp file in the same directory, fsync, rename over the target.

import { promises as fsp } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from './half.js';

/** Bytes per element of every dtype the reader understands. */
export const DTYPE_SIZES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
};

/** dtypes writeSafetensors can produce from a Float32Array. */
export type WriteDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
const WRITE_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'I64', 'I32'];

/** Headers above this are treated as corrupt (the reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// Big reads and writes go in pieces: a single syscall moves at most ~2 GB on Linux.
const IO_CHUNK = 1 << 28;

/** An error about one safetensors file; the message always starts with the file's path. */
export class SafetensorsError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

export interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** [begin, end) relative to the first data byte. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Entries sorted by data offset (= the order the tensors lie in the file). */
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  /** Absolute file offset of the first data byte (8 + header length). */
  dataStart: number;
  /** Data bytes present in the file (file size - dataStart). */
  dataBytes: number;
}

export interface LoadedTensor {
  /** dtype as stored in the file; data is always float32. */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** Tensors in file order. */
  tensors: Map<string, LoadedTensor>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Read only tensors for which this returns true; the others are neither read nor range-checked. */
  only?: (name: string) => boolean;
}

export interface WriteTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  /** Stored dtype (default F32). Integer dtypes require integer values. */
  dtype?: string;
}

export type WriteInput =
  | readonly WriteTensor[]
  | ReadonlyMap<string, { shape: readonly number[]; data: Float32Array; dtype?: string }>;

const q = (s: string) => JSON.stringify(s);
const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Number of elements of a shape (1 for a scalar []). */
export function shapeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

async function readExactly(fh: fsp.FileHandle, file: string, dst: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const len = Math.min(IO_CHUNK, dst.length - done);
    const { bytesRead } = await fh.read(dst, done, len, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(file, `unexpected end of file reading ${what}: got ${done} of ${dst.length} bytes at file offset ${position}`);
    }
    done += bytesRead;
  }
}

function parseHeaderJson(file: string, text: string, dataBytes: number, dataStart: number): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, `header (bytes [8, ${dataStart})) is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SafetensorsError(file, `header must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : String(parsed === null ? 'null' : typeof parsed)}`);
  }
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__ key ${q(k)} must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor ${q(name)}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(file, `${where}: header entry must be an object`);
    const e = raw as Record<string, unknown>;
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!(field in e)) throw new SafetensorsError(file, `${where}: header entry has no "${field}"`);
    }
    const dtype = e['dtype'];
    if (typeof dtype !== 'string') throw new SafetensorsError(file, `${where}: dtype must be a string, got ${JSON.stringify(dtype)}`);
    const size = DTYPE_SIZES[dtype];
    if (size === undefined) {
      throw new SafetensorsError(file, `${where}: unsupported dtype ${q(dtype)} (supported: ${Object.keys(DTYPE_SIZES).join(', ')})`);
    }
    const shape = e['shape'];
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      throw new SafetensorsError(file, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offsets = e['data_offsets'];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      throw new SafetensorsError(file, `${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const numel = shapeNumel(shape);
    const need = numel * size;
    if (!Number.isSafeInteger(need)) throw new SafetensorsError(file, `${where}: shape ${fmtShape(shape)} is too large`);
    if (end < begin || end - begin !== need) {
      throw new SafetensorsError(file,
        `${where}: data_offsets [${begin}, ${end}) span ${end - begin} bytes but ${dtype} ${fmtShape(shape)} needs ${need}`);
    }
    entries.push({ name, dtype, shape: shape.slice(), dataOffsets: [begin, end] });
  }
  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  // Overlap check on non-empty tensors (an empty one occupies no bytes).
  let prev: HeaderEntry | null = null;
  for (const e of entries) {
    if (e.dataOffsets[1] === e.dataOffsets[0]) continue;
    if (prev && e.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(file,
        `tensors ${q(prev.name)} [${prev.dataOffsets[0]}, ${prev.dataOffsets[1]}) and ${q(e.name)} [${e.dataOffsets[0]}, ${e.dataOffsets[1]}) overlap`);
    }
    prev = e;
  }
  return { entries, metadata, dataStart, dataBytes };
}

function checkRange(file: string, h: SafetensorsHeader, e: HeaderEntry): void {
  const [begin, end] = e.dataOffsets;
  if (end > h.dataBytes) {
    throw new SafetensorsError(file,
      `truncated: tensor ${q(e.name)} needs bytes [${begin}, ${end}) (file offset ${h.dataStart + begin}) but the file has only ${h.dataBytes} data bytes`);
  }
}

async function openForRead(file: string): Promise<fsp.FileHandle> {
  // A FIFO or device would block the open (or the read) forever: only regular files are opened.
  const st = await fsp.stat(file).catch(() => null);
  if (st && !st.isFile()) throw new SafetensorsError(file, st.isDirectory() ? 'is a directory, not a safetensors file' : 'not a regular file (a FIFO, socket or device)');
  try {
    return await fsp.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SafetensorsError(file, 'file not found');
    throw new SafetensorsError(file, `cannot open: ${(err as Error).message}`);
  }
}

async function readHeaderFrom(fh: fsp.FileHandle, file: string): Promise<SafetensorsHeader> {
  const st = await fh.stat();
  if (st.isDirectory()) throw new SafetensorsError(file, 'is a directory, not a safetensors file');
  const size = st.size;
  if (size < 8) throw new SafetensorsError(file, `file has ${size} bytes, fewer than the 8-byte header length`);
  const lenBytes = new Uint8Array(8);
  await readExactly(fh, file, lenBytes, 0, 'the header length');
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(file, `header length ${n} at byte offset 0 is absurd (limit ${MAX_HEADER_BYTES}): not a safetensors file?`);
  const headerLen = Number(n);
  if (8 + headerLen > size) throw new SafetensorsError(file, `header length ${headerLen} at byte offset 0 runs past the end of the ${size}-byte file`);
  const headerBytes = new Uint8Array(headerLen);
  await readExactly(fh, file, headerBytes, 8, 'the header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, `header (bytes [8, ${8 + headerLen})) is not valid UTF-8`);
  }
  return parseHeaderJson(file, text, size - 8 - headerLen, 8 + headerLen);
}

/** Parse and validate the header (every entry, overlaps, and that all data lie inside the file) without reading data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(file);
  try {
    const h = await readHeaderFrom(fh, file);
    for (const e of h.entries) checkRange(file, h, e);
    return h;
  } finally {
    await fh.close();
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

async function readTensor(fh: fsp.FileHandle, file: string, h: SafetensorsHeader, e: HeaderEntry): Promise<Float32Array> {
  const numel = shapeNumel(e.shape);
  const nbytes = e.dataOffsets[1] - e.dataOffsets[0];
  const pos = h.dataStart + e.dataOffsets[0];
  const what = `tensor ${q(e.name)}`;
  const out = new Float32Array(numel);
  const size = DTYPE_SIZES[e.dtype]!;
  if (e.dtype === 'F32') {
    const bytes = new Uint8Array(out.buffer);
    await readExactly(fh, file, bytes, pos, what);
    if (!LITTLE_ENDIAN) swapBytes(bytes, 4);
    return out;
  }
  // Other dtypes: this tensor's raw bytes in an aligned buffer of their own, then widened.
  const raw = new ArrayBuffer(nbytes);
  const bytes = new Uint8Array(raw);
  await readExactly(fh, file, bytes, pos, what);
  if (!LITTLE_ENDIAN && size > 1) swapBytes(bytes, size);
  switch (e.dtype) {
    case 'F16': return f16ArrayToF32(new Uint16Array(raw), out);
    case 'BF16': return bf16ArrayToF32(new Uint16Array(raw), out);
    case 'F64': { const s = new Float64Array(raw); for (let i = 0; i < numel; i++) out[i] = s[i]!; return out; }
    case 'I64': { const s = new BigInt64Array(raw); for (let i = 0; i < numel; i++) out[i] = Number(s[i]!); return out; }
    case 'U64': { const s = new BigUint64Array(raw); for (let i = 0; i < numel; i++) out[i] = Number(s[i]!); return out; }
    case 'I32': out.set(new Int32Array(raw)); return out;
    case 'U32': out.set(new Uint32Array(raw)); return out;
    case 'I16': out.set(new Int16Array(raw)); return out;
    case 'U16': out.set(new Uint16Array(raw)); return out;
    case 'I8': out.set(new Int8Array(raw)); return out;
    case 'U8': case 'BOOL': out.set(bytes); return out;
    default: throw new SafetensorsError(file, `${what}: unsupported dtype ${q(e.dtype)}`);
  }
}

/**
 * Read a safetensors file into float32 arrays (F16/BF16/F64 and integer dtypes are converted;
 * `dtype` keeps the stored one). Integers beyond 2^24 lose precision in float32.
 */
export async function readSafetensors(file: string, opts: ReadOptions = {}): Promise<SafetensorsFile> {
  const fh = await openForRead(file);
  try {
    const h = await readHeaderFrom(fh, file);
    const wanted = opts.only ? h.entries.filter((e) => opts.only!(e.name)) : h.entries;
    // All range checks before any data read: a truncated file fails fast, naming the first bad tensor.
    for (const e of wanted) checkRange(file, h, e);
    const tensors = new Map<string, LoadedTensor>();
    for (const e of wanted) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: await readTensor(fh, file, h, e) });
    return { tensors, metadata: h.metadata };
  } finally {
    await fh.close();
  }
}

/** An open safetensors file: its header, and one positioned read per tensor asked for. */
export interface SafetensorsReader {
  header: SafetensorsHeader;
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function openSafetensors(file: string): Promise<SafetensorsReader> {
  const fh = await openForRead(file);
  try {
    const h = await readHeaderFrom(fh, file);
    for (const e of h.entries) checkRange(file, h, e);
    const byName = new Map(h.entries.map((e) => [e.name, e]));
    return {
      header: h,
      read: async (name) => {
        const e = byName.get(name);
        if (!e) throw new SafetensorsError(file, `no tensor ${q(name)}`);
        return readTensor(fh, file, h, e);
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** The temp path writeSafetensors uses for `file`: same directory, never equal to `file`. */
export function tempPathFor(file: string): string {
  return join(dirname(file), `${basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

interface PreparedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype: WriteDtype;
  nbytes: number;
}

function prepare(file: string, input: WriteInput, metadata: Record<string, string> | undefined): { list: PreparedTensor[]; header: Uint8Array } {
  const items: WriteTensor[] = Array.isArray(input)
    ? (input as readonly WriteTensor[]).slice()
    : [...(input as ReadonlyMap<string, { shape: readonly number[]; data: Float32Array; dtype?: string }>)].map(([name, t]) => ({ name, ...t }));
  const seen = new Set<string>();
  const list: PreparedTensor[] = [];
  for (const t of items) {
    if (typeof t.name !== 'string' || t.name === '') throw new SafetensorsError(file, `tensor names must be non-empty strings, got ${JSON.stringify(t.name)}`);
    if (t.name === '__metadata__') throw new SafetensorsError(file, 'a tensor cannot be named "__metadata__"');
    if (seen.has(t.name)) throw new SafetensorsError(file, `duplicate tensor name ${q(t.name)}`);
    seen.add(t.name);
    const where = `tensor ${q(t.name)}`;
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) throw new SafetensorsError(file, `${where}: shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
    if (!(t.data instanceof Float32Array)) throw new SafetensorsError(file, `${where}: data must be a Float32Array`);
    const numel = shapeNumel(t.shape);
    if (t.data.length !== numel) throw new SafetensorsError(file, `${where}: shape ${fmtShape(t.shape)} has ${numel} elements but data has ${t.data.length}`);
    const dtype = t.dtype ?? 'F32';
    if (!WRITE_DTYPES.includes(dtype)) throw new SafetensorsError(file, `${where}: cannot write dtype ${q(dtype)} (writable: ${WRITE_DTYPES.join(', ')})`);
    if (dtype === 'I64' || dtype === 'I32') {
      const lim = dtype === 'I32' ? 2 ** 31 : 2 ** 63;
      for (let i = 0; i < numel; i++) {
        const v = t.data[i]!;
        if (!Number.isInteger(v) || v < -lim || v >= lim) throw new SafetensorsError(file, `${where}: element ${i} = ${v} is not representable as ${dtype}`);
      }
    }
    list.push({ name: t.name, shape: t.shape.slice(), data: t.data, dtype: dtype as WriteDtype, nbytes: numel * DTYPE_SIZES[dtype]! });
  }
  // Built by hand so that numeric-looking names keep their order and "__proto__" stays a plain key.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const m: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__ key ${q(k)} must be a string, got ${typeof v}`);
      m.push(`${q(k)}:${q(v)}`);
    }
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  let offset = 0;
  for (const t of list) {
    parts.push(`${q(t.name)}:{"dtype":${q(t.dtype)},"shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + t.nbytes}]}`);
    offset += t.nbytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  // Pad with spaces to a multiple of 8 so the data start 8-byte aligned.
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { list, header };
}

function encode(t: PreparedTensor): Uint8Array {
  switch (t.dtype) {
    case 'F32': {
      const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      if (LITTLE_ENDIAN) return view;
      const copy = view.slice();
      swapBytes(copy, 4);
      return copy;
    }
    case 'F16': case 'BF16': {
      const h = t.dtype === 'F16' ? f32ArrayToF16(t.data) : f32ArrayToBf16(t.data);
      const b = new Uint8Array(h.buffer);
      if (!LITTLE_ENDIAN) swapBytes(b, 2);
      return b;
    }
    case 'I64': case 'I32': {
      const b = new Uint8Array(t.nbytes);
      const dv = new DataView(b.buffer);
      for (let i = 0; i < t.data.length; i++) {
        if (t.dtype === 'I64') dv.setBigInt64(8 * i, BigInt(t.data[i]!), true);
        else dv.setInt32(4 * i, t.data[i]!, true);
      }
      return b;
    }
  }
}

async function writeAll(fh: fsp.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const len = Math.min(IO_CHUNK, bytes.length - done);
    const { bytesWritten } = await fh.write(bytes, done, len, position + done);
    done += bytesWritten;
  }
}

/**
 * Write tensors (in the given order) and string metadata as a safetensors file, atomically:
 * everything is validated first, then written to a temp file beside `file`, fsynced and renamed
 * over it. On any error the temp file is removed and an existing `file` is left as it was.
 */
export async function writeSafetensors(file: string, tensors: WriteInput, metadata?: Record<string, string>): Promise<void> {
  const { list, header } = prepare(file, tensors, metadata);
  const tmp = tempPathFor(file);
  let fh: fsp.FileHandle | null = null;
  try {
    try {
      fh = await fsp.open(tmp, 'wx');
    } catch (err) {
      throw new SafetensorsError(file, `cannot create ${tmp}: ${(err as Error).message}`);
    }
    await writeAll(fh, header, 0);
    let pos = header.length;
    for (const t of list) {
      await writeAll(fh, encode(t), pos);
      pos += t.nbytes;
    }
    await fh.sync();
    await fh.close();
    fh = null;
    try {
      await fsp.rename(tmp, file);
    } catch (err) {
      throw new SafetensorsError(file, `cannot move the written file into place: ${(err as Error).message}`);
    }
  } catch (err) {
    if (fh) await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(file, `write failed: ${(err as Error).message}`);
  }
  // Make the rename itself durable; some platforms cannot open or fsync a directory, which is fine.
  try {
    const dh = await fsp.open(dirname(file), 'r');
    try { await dh.sync(); } finally { await dh.close(); }
  } catch { /* best effort */ }
}
