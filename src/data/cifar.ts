// CIFAR-10 and CIFAR-100 "binary version" batches.
//
// Each record is the label byte(s) followed by a 32x32 colour image stored
// as three planes (1024 red, 1024 green, 1024 blue bytes). CIFAR-10 has one
// label byte (0..9); CIFAR-100 has two: coarse (0..19) then fine (0..99).

import { join } from 'node:path';
import { ArrayDataset, sharedBytes } from './dataset.js';
import { firstExisting, readFileChecked } from './files.js';

export type CifarVariant = 'cifar10' | 'cifar100';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;

export interface CifarOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: which label to use (default 'fine'). */
  label?: 'fine' | 'coarse';
}

/** Bytes per record in a batch file. */
export function cifarRecordBytes(variant: CifarVariant): number {
  return (variant === 'cifar10' ? 1 : 2) + IMAGE_BYTES;
}

/** Read one or more CIFAR binary batch files into one data set, in file order. */
export async function openCifar(files: string[], opts: CifarOptions): Promise<ArrayDataset> {
  if (files.length === 0) throw new Error('openCifar: no batch files given');
  const variant = opts.variant;
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const labelOffset = variant === 'cifar100' && (opts.label ?? 'fine') === 'fine' ? 1 : 0;
  const numClasses = variant === 'cifar10' ? 10 : labelOffset === 1 ? 100 : 20;
  const record = labelBytes + IMAGE_BYTES;

  const bufs = await Promise.all(files.map((f) => readFileChecked(f)));
  let total = 0;
  bufs.forEach((b, k) => {
    if (b.length === 0 || b.length % record !== 0) {
      throw new Error(
        `${files[k]}: not a ${variant} binary batch: its size ${b.length} bytes is not a positive multiple of the ` +
          `${record}-byte record (${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + 3072 pixel bytes)` +
          (b.length > record ? `; truncated? ${b.length % record} bytes left over after ${Math.floor(b.length / record)} records` : ''),
      );
    }
    total += b.length / record;
  });

  const pixels = new Uint8Array(sharedBytes(total * IMAGE_BYTES));
  const labels = new Int32Array(sharedBytes(total * 4));
  let n = 0;
  bufs.forEach((b, k) => {
    const count = b.length / record;
    for (let r = 0; r < count; r++, n++) {
      const base = r * record;
      const label = b[base + labelOffset]!;
      if (label >= numClasses) {
        throw new Error(`${files[k]}: record ${r} has label ${label}, expected 0..${numClasses - 1} for ${variant}; wrong variant or corrupt file?`);
      }
      labels[n] = label;
      // Planes to interleaved HWC, the layout every data set hands out.
      const src = base + labelBytes;
      const dst = n * IMAGE_BYTES;
      for (let p = 0; p < PLANE; p++) {
        pixels[dst + 3 * p] = b[src + p]!;
        pixels[dst + 3 * p + 1] = b[src + PLANE + p]!;
        pixels[dst + 3 * p + 2] = b[src + 2 * PLANE + p]!;
      }
    }
  });
  const name = files.length === 1 ? files[0]! : `${files[0]} (+${files.length - 1} more)`;
  return new ArrayDataset({ name, pixels, labels, width: SIDE, height: SIDE, channels: 3, numClasses });
}

/** The batch files of a split in the directory the official archive unpacks to. */
export async function cifarFiles(dir: string, variant: CifarVariant, split: 'train' | 'test'): Promise<string[]> {
  if (variant === 'cifar100') return [await firstExisting([join(dir, `${split}.bin`)], `the CIFAR-100 ${split} batch`)];
  if (split === 'test') return [await firstExisting([join(dir, 'test_batch.bin')], 'the CIFAR-10 test batch')];
  const files: string[] = [];
  for (let i = 1; i <= 5; i++) files.push(await firstExisting([join(dir, `data_batch_${i}.bin`)], `CIFAR-10 train batch ${i}`));
  return files;
}

/** Open a split of CIFAR-10 (`cifar-10-batches-bin/`) or CIFAR-100 (`cifar-100-binary/`). */
export async function openCifarDir(dir: string, split: 'train' | 'test', opts: CifarOptions): Promise<ArrayDataset> {
  return openCifar(await cifarFiles(dir, opts.variant, split), opts);
}
