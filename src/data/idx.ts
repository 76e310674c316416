// IDX files, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST.
//
// Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type
// these data sets use), a byte with the number of dimensions, then each
// dimension as a big-endian uint32; the data follows, row-major.

import { join } from 'node:path';
import { ArrayDataset, sharedBytes } from './dataset.js';
import { firstExisting, readMaybeGzip } from './files.js';

export interface IdxArray {
  dims: number[];
  /** The data bytes (a view into the file buffer). */
  data: Uint8Array;
}

const typeNames: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const hex = (n: number) => '0x' + (n >>> 0).toString(16).padStart(8, '0');

/** Parse an IDX buffer of unsigned bytes; `path` only names the file in errors. */
export function parseIdx(buf: Uint8Array, path: string, expectDims?: number[]): IdxArray {
  if (buf.length < 4) throw new Error(`${path}: truncated IDX file: ${buf.length} bytes, shorter than the 4-byte magic number`);
  const magic = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  const type = buf[2]!;
  const ndim = buf[3]!;
  if (buf[0] !== 0 || buf[1] !== 0 || !(type in typeNames) || ndim === 0) {
    throw new Error(`${path}: not an IDX file: magic number ${hex(magic)}, expected 0x000008NN (NN = number of dimensions)`);
  }
  if (expectDims && !expectDims.includes(ndim)) {
    const want = expectDims.map((d) => hex(0x0800 + d)).join(' or ');
    throw new Error(`${path}: wrong IDX magic number ${hex(magic)}: expected ${want} (${expectDims.join(' or ')} dimensions), got ${ndim} dimensions`);
  }
  if (type !== 0x08) {
    throw new Error(`${path}: IDX element type ${typeNames[type]} (magic ${hex(magic)}) is not supported, expected unsigned byte (0x08)`);
  }
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    throw new Error(`${path}: truncated IDX file: header needs ${headerBytes} bytes for ${ndim} dimensions, got ${buf.length}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    count *= n;
  }
  const want = headerBytes + count;
  if (buf.length !== want) {
    const what = buf.length < want ? 'truncated IDX file' : 'IDX file longer than its header says';
    throw new Error(`${path}: ${what}: dimensions ${dims.join('x')} need ${want} bytes (header ${headerBytes} + data ${count}), got ${buf.length}`);
  }
  return { dims, data: buf.subarray(headerBytes) };
}

/** Read an IDX file (raw or gzip-compressed). */
export async function readIdx(path: string, expectDims?: number[]): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(path), path, expectDims);
}

/**
 * An image data set from a pair of IDX files: images N x H x W (grey) or
 * N x H x W x C (C = 1 or 3), labels N.
 */
export async function openIdx(imagesPath: string, labelsPath: string, opts: { numClasses?: number } = {}): Promise<ArrayDataset> {
  const [images, labels] = await Promise.all([readIdx(imagesPath, [3, 4]), readIdx(labelsPath, [1])]);
  const [n, h, w, c = 1] = images.dims as [number, number, number, number?];
  if (c !== 1 && c !== 3) throw new Error(`${imagesPath}: images must have 1 or 3 channels, got ${c}`);
  if (labels.dims[0] !== n) {
    throw new Error(`images and labels differ in count: ${imagesPath} has ${n} images, ${labelsPath} has ${labels.dims[0]} labels`);
  }
  // Copy into shared memory once so that worker threads read it without copies.
  const pixels = new Uint8Array(sharedBytes(images.data.length));
  pixels.set(images.data);
  const lab = new Int32Array(sharedBytes(n * 4));
  for (let i = 0; i < n; i++) lab[i] = labels.data[i]!;
  if (opts.numClasses !== undefined) {
    for (let i = 0; i < n; i++) {
      if (lab[i]! >= opts.numClasses) {
        throw new Error(`${labelsPath}: label ${lab[i]} of sample ${i} is not below the number of classes ${opts.numClasses}`);
      }
    }
  }
  return new ArrayDataset({ name: imagesPath, pixels, labels: lab, width: w, height: h, channels: c, numClasses: opts.numClasses });
}

/**
 * The files of an MNIST-style split in a directory, under any of the usual
 * names (`train-images-idx3-ubyte[.gz]`, `t10k-...`, `train-images.idx3-ubyte`).
 */
export async function mnistFiles(dir: string, split: 'train' | 'test'): Promise<{ images: string; labels: string }> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const names = (kind: 'images' | 'labels', nd: number) => {
    const bases = [`${prefix}-${kind}-idx${nd}-ubyte`, `${prefix}-${kind}.idx${nd}-ubyte`];
    return bases.flatMap((b) => [join(dir, b + '.gz'), join(dir, b)]);
  };
  // Both looked up at once; when both are missing the images are named (in that order, whichever fails first).
  const [images, labels] = await Promise.allSettled([
    firstExisting(names('images', 3), `the ${split} images`),
    firstExisting(names('labels', 1), `the ${split} labels`),
  ]);
  if (images.status === 'rejected') throw images.reason;
  if (labels.status === 'rejected') throw labels.reason;
  return { images: images.value, labels: labels.value };
}

/** Open the train or test split of an MNIST-family data set in `dir` (10 classes). */
export async function openMnist(dir: string, split: 'train' | 'test'): Promise<ArrayDataset> {
  const f = await mnistFiles(dir, split);
  return openIdx(f.images, f.labels, { numClasses: 10 });
}

/** Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
