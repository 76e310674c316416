// Small data files the data tests write for themselves: IDX pairs, CIFAR
// batches, PNG and JPEG class folders, and broken versions of each.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import * as assert from 'uvu/assert';

/** A fresh temporary directory; `cleanup` removes it. */
export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `simreg-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Await a promise that must reject; return the error's message (fails the test if it resolves). */
export async function rejects(p: Promise<unknown>): Promise<string> {
  let error: unknown = null;
  try {
    await p;
  } catch (err) {
    error = err;
  }
  if (error === null) assert.unreachable('expected the promise to reject');
  return error instanceof Error ? error.message : String(error);
}

/** Deterministic bytes (xorshift), so fixtures are the same on every run. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

/** An IDX file of unsigned bytes with the given dimensions (header + data), optionally gzipped. */
export function idxBytes(dims: number[], data: Uint8Array, opts: { gzip?: boolean; magicType?: number } = {}): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = opts.magicType ?? 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const all = new Uint8Array(header.length + data.length);
  all.set(header);
  all.set(data, header.length);
  return opts.gzip ? new Uint8Array(gzipSync(all)) : all;
}

/** Write an images/labels IDX pair: n images of h x w; label i = i % classes. */
export function writeIdxPair(dir: string, n: number, h: number, w: number, opts: { gzip?: boolean; classes?: number; prefix?: string } = {}) {
  const prefix = opts.prefix ?? 'train';
  const ext = opts.gzip ? '.gz' : '';
  const pixels = bytes(n * h * w, 7);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % (opts.classes ?? 10);
  const images = join(dir, `${prefix}-images-idx3-ubyte${ext}`);
  const labelsPath = join(dir, `${prefix}-labels-idx1-ubyte${ext}`);
  writeFileSync(images, idxBytes([n, h, w], pixels, opts));
  writeFileSync(labelsPath, idxBytes([n], labels, opts));
  return { images, labels: labelsPath, pixels, labelValues: labels };
}

/**
 * CIFAR binary records: `labelBytes` label bytes then 3072 planar pixel bytes.
 * Pixel (y, x, c) of image i is (i * 31 + y * 7 + x * 3 + c * 85) & 255, so tests can predict it.
 */
export function cifarRecords(labels: number[][], variant: 'cifar10' | 'cifar100'): Uint8Array {
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const rec = labelBytes + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((ls, i) => {
    for (let k = 0; k < labelBytes; k++) out[i * rec + k] = ls[k]!;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) out[i * rec + labelBytes + c * 1024 + y * 32 + x] = cifarPixel(i, y, x, c);
      }
    }
  });
  return out;
}

export function cifarPixel(i: number, y: number, x: number, c: number): number {
  return (i * 31 + y * 7 + x * 3 + c * 85) & 255;
}

/** An RGB test image whose pixels are a known function of (x, y, c, seed). */
export function rgbPixels(w: number, h: number, seed: number): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (x * 5 + y * 3 + c * 60 + seed * 17) & 255;
    }
  }
  return px;
}

/** Encode raw RGB (or grey, channels 1) pixels as PNG or JPEG bytes. */
export async function encode(px: Uint8Array, w: number, h: number, format: 'png' | 'jpeg', channels: 1 | 3 | 4 = 3): Promise<Buffer> {
  const img = sharp(px, { raw: { width: w, height: h, channels } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

/**
 * An ImageFolder tree: classes (in the given order, which need not be sorted)
 * each with `perClass` images of w x h; file i of class k is seeded k * 100 + i.
 */
export async function writeImageFolder(root: string, classes: string[], perClass: number, w: number, h: number, format: 'png' | 'jpeg'): Promise<void> {
  for (let k = 0; k < classes.length; k++) {
    const dir = join(root, classes[k]!);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const ext = format === 'png' ? 'png' : 'jpg';
      writeFileSync(join(dir, `img_${i}.${ext}`), await encode(rgbPixels(w, h, k * 100 + i), w, h, format));
    }
  }
}
