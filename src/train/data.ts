// Opening a data set by name or path for the command line, with its normalisation and image size.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_DIR, openMnist, openCifarDir, ImageFolder, SubsetDataset, type Dataset } from '../data/index.js';

export interface DataInfo {
  train: Dataset;
  test: Dataset | null;
  /** Natural image side (28 for MNIST-style, 32 for CIFAR, chosen for folders). */
  size: number;
  channels: 1 | 3;
  mean: number[];
  std: number[];
  name: string;
}

const FMNIST = { mean: [0.2860], std: [0.3530] };
const CIFAR10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616] };
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

const hasAny = (dir: string, names: string[]) => names.some((n) => existsSync(join(dir, n)));

/**
 * `spec` is 'fashion-mnist' (Debian's dataset-fashion-mnist), or a directory holding MNIST-style IDX files,
 * CIFAR-10/100 binary batches, or an image folder (train/ and val|test/ sub-folders, or class folders).
 */
export async function openData(spec: string, opts: { imageSize?: number; channels?: 1 | 3 } = {}): Promise<DataInfo> {
  const dir = spec === 'fashion-mnist' ? FASHION_MNIST_DIR : spec;
  if (!existsSync(dir)) {
    throw new Error(spec === 'fashion-mnist'
      ? `Fashion-MNIST is not installed at ${FASHION_MNIST_DIR} (run: bash scripts/setup-system.sh, which installs Debian's dataset-fashion-mnist)`
      : `data path ${dir} does not exist`);
  }
  if (!statSync(dir).isDirectory()) throw new Error(`data path ${dir} is not a directory`);
  if (hasAny(dir, ['train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte', 'train-images.idx3-ubyte'])) {
    const [train, test] = await Promise.all([openMnist(dir, 'train'), openMnist(dir, 'test')]);
    return { train, test, size: 28, channels: 1, ...FMNIST, name: spec === 'fashion-mnist' ? 'Fashion-MNIST' : dir };
  }
  if (hasAny(dir, ['data_batch_1.bin'])) {
    const [train, test] = await Promise.all([openCifarDir(dir, 'train', { variant: 'cifar10' }), openCifarDir(dir, 'test', { variant: 'cifar10' })]);
    return { train, test, size: 32, channels: 3, ...CIFAR10, name: dir };
  }
  if (hasAny(dir, ['train.bin']) && hasAny(dir, ['test.bin'])) {
    const [train, test] = await Promise.all([openCifarDir(dir, 'train', { variant: 'cifar100' }), openCifarDir(dir, 'test', { variant: 'cifar100' })]);
    return { train, test, size: 32, channels: 3, ...CIFAR10, name: dir };
  }
  const channels = opts.channels ?? 3;
  const sub = readdirSync(dir);
  const trainDir = sub.includes('train') ? join(dir, 'train') : dir;
  const testName = ['val', 'test'].find((n) => sub.includes(n));
  const train = await ImageFolder.open(trainDir, { channels });
  // The evaluation split is labelled by training's class names, not by its own folders' positions.
  const test = testName ? await ImageFolder.open(join(dir, testName), { channels, classes: train.classes }) : null;
  return { train, test, size: opts.imageSize ?? 224, channels, ...(channels === 3 ? IMAGENET : { mean: [0.5], std: [0.25] }), name: dir };
}

/** The first n samples of a seeded permutation (a fixed, class-mixed subset); the whole set when n >= length. */
export function subset(ds: Dataset, n: number | undefined, seed: number): Dataset {
  if (!n || n >= ds.length) return ds;
  const idx = Int32Array.from({ length: ds.length }, (_, i) => i);
  let s = (seed * 2654435761 + 1) >>> 0;
  for (let i = idx.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    const t = idx[i]!; idx[i] = idx[j]!; idx[j] = t;
  }
  return new SubsetDataset(ds, idx.subarray(0, n).slice().sort());
}
