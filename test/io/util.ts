// Helpers for the io tests: temp dirs, expected rejections, and safetensors files assembled byte
// by byte from the format's definition (independent of our writer).

import { mkdtempSync, promises as fsp, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

export function tempDir(tag: string): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `simreg-io-${tag}-`));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Await a promise that must reject; return the error's message. */
export async function rejects(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  assert.unreachable('expected the promise to reject');
  return '';
}

/** Assert a message matches every regex (showing the message on failure). */
export function matchAll(msg: string, ...res: RegExp[]): void {
  for (const re of res) assert.ok(re.test(msg), `message ${JSON.stringify(msg)} does not match ${re}`);
}

/** Escape a path for use inside a RegExp. */
export const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Bits of a Float32Array, for bit-exact comparisons (NaN payloads, -0). */
export const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** [8-byte LE length][header text padded with spaces to `pad`][data]. */
export function assemble(headerText: string, data: Uint8Array, opts: { pad?: number; declaredLength?: bigint } = {}): Uint8Array {
  const json = Buffer.from(headerText, 'utf8');
  const pad = opts.pad ?? 8;
  const n = Math.ceil(json.length / pad) * pad;
  const out = new Uint8Array(8 + n + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.declaredLength ?? BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  out.set(data, 8 + n);
  return out;
}

export function writeBytes(file: string, bytes: Uint8Array): string {
  writeFileSync(file, bytes);
  return file;
}

/** Concatenate byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: number[]): Uint8Array {
  const b = new Uint8Array(4 * values.length);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setFloat32(4 * i, v, true));
  return b;
}

/** Little-endian bytes of 16-bit patterns. */
export function u16Bytes(bits: number[]): Uint8Array {
  const b = new Uint8Array(2 * bits.length);
  const dv = new DataView(b.buffer);
  bits.forEach((v, i) => dv.setUint16(2 * i, v, true));
  return b;
}

/** Deterministic float32 values in [-1, 1). */
export function randomF32(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 31) - 1;
  }
  return out;
}

/** Run fn while logging every positioned read made through fs.promises.open handles: [position, length]. */
export async function spyReads<T>(fn: () => Promise<T>): Promise<{ result: T; reads: Array<[number, number]> }> {
  const realOpen = fsp.open;
  const reads: Array<[number, number]> = [];
  (fsp as { open: unknown }).open = async (...args: Parameters<typeof fsp.open>) => {
    const fh = await realOpen(...args);
    const realRead = fh.read.bind(fh) as (b: Uint8Array, o: number, l: number, p: number) => Promise<{ bytesRead: number }>;
    (fh as { read: unknown }).read = (b: Uint8Array, o: number, l: number, p: number) => {
      reads.push([p, l]);
      return realRead(b, o, l, p);
    };
    return fh;
  };
  try {
    return { result: await fn(), reads };
  } finally {
    (fsp as { open: unknown }).open = realOpen;
  }
}
