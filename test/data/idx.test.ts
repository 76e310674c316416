// IDX reader: the real Fashion-MNIST files, files written here, and every
// kind of bad input (each error must name the file and say what was wrong).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FASHION_MNIST_DIR, labelHistogram, mnistFiles, openIdx, openMnist, parseIdx, readIdx } from '../../src/data/index.js';
import { bytes, idxBytes, rejects, tempDir, writeIdxPair } from '../helpers/data_fixtures.js';

const tmp = tempDir('idx');
test.after(() => tmp.cleanup());

test('Fashion-MNIST is installed (Debian dataset-fashion-mnist)', () => {
  // Not a skip: the data tests are meant to run on real files.
  assert.ok(existsSync(FASHION_MNIST_DIR), `${FASHION_MNIST_DIR} is missing: install the Debian package dataset-fashion-mnist`);
});

test('Fashion-MNIST train and test: counts, shape, label histogram, pixel range', async () => {
  const train = await openMnist(FASHION_MNIST_DIR, 'train');
  const testSet = await openMnist(FASHION_MNIST_DIR, 'test');
  assert.is(train.length, 60000);
  assert.is(testSet.length, 10000);
  for (const ds of [train, testSet]) {
    assert.is(ds.width, 28);
    assert.is(ds.height, 28);
    assert.is(ds.channels, 1);
    assert.is(ds.numClasses, 10);
  }
  // Each of the 10 classes has exactly 6000 train and 1000 test images.
  assert.equal(Array.from(labelHistogram(train)), new Array(10).fill(6000));
  assert.equal(Array.from(labelHistogram(testSet)), new Array(10).fill(1000));
  // Pixels span the full byte range, with a mostly dark background.
  let min = 255;
  let max = 0;
  let zeros = 0;
  for (const v of train.pixels) {
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zeros++;
  }
  assert.is(min, 0);
  assert.is(max, 255);
  const zeroShare = zeros / train.pixels.length;
  assert.ok(zeroShare > 0.4 && zeroShare < 0.7, `share of zero pixels ${zeroShare}`);
  // The mean pixel of Fashion-MNIST train is 0.2860 (of 1), a published constant.
  let sum = 0;
  for (const v of train.pixels) sum += v;
  assert.ok(Math.abs(sum / train.pixels.length / 255 - 0.286) < 0.001, `mean ${sum / train.pixels.length / 255}`);
  // Labels of the first training samples, as in the original files: 9 (ankle boot), 0, 0, 3, 0.
  assert.equal([0, 1, 2, 3, 4].map((i) => train.labelOf(i)), [9, 0, 0, 3, 0]);
  const s = await train.get(0);
  assert.is(s.image.data.length, 28 * 28);
  assert.is(s.label, 9);
});

test('raw and gzip files written here read back byte for byte', async () => {
  for (const gzip of [false, true]) {
    const dir = join(tmp.dir, gzip ? 'gz' : 'raw');
    mkdirSync(dir, { recursive: true });
    const f = writeIdxPair(dir, 12, 5, 4, { gzip, classes: 3 });
    const ds = await openIdx(f.images, f.labels);
    assert.is(ds.length, 12);
    assert.is(ds.height, 5);
    assert.is(ds.width, 4);
    assert.is(ds.numClasses, 3);
    assert.equal(Array.from(ds.pixels), Array.from(f.pixels));
    assert.equal(Array.from(ds.labels), Array.from(f.labelValues));
    const img = (await ds.get(7)).image;
    assert.equal(Array.from(img.data), Array.from(f.pixels.subarray(7 * 20, 8 * 20)));
    // mnistFiles finds the pair by its usual names.
    const found = await mnistFiles(dir, 'train');
    assert.is(found.images, f.images);
    assert.is(found.labels, f.labels);
  }
});

test('4-D IDX images (N x H x W x 3) load as colour', async () => {
  const px = bytes(2 * 3 * 2 * 3, 3);
  const images = join(tmp.dir, 'colour-images.idx');
  const labels = join(tmp.dir, 'colour-labels.idx');
  writeFileSync(images, idxBytes([2, 3, 2, 3], px));
  writeFileSync(labels, idxBytes([2], new Uint8Array([1, 0])));
  const ds = await openIdx(images, labels);
  assert.is(ds.channels, 3);
  assert.equal(Array.from((await ds.get(1)).image.data), Array.from(px.subarray(18)));
});

test('bad input: missing path names the file', async () => {
  const missing = join(tmp.dir, 'nope-images-idx3-ubyte');
  const msg = await rejects(readIdx(missing));
  assert.ok(msg.includes(missing), msg);
  assert.match(msg, /no such file/);
  const dirMsg = await rejects(mnistFiles(join(tmp.dir, 'no-such-dir'), 'train'));
  assert.match(dirMsg, /cannot find the train images/);
  assert.ok(dirMsg.includes('no-such-dir'), dirMsg);
});

test('bad input: wrong magic number says expected and got', async () => {
  const file = join(tmp.dir, 'bad-magic');
  writeFileSync(file, new Uint8Array([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 9]));
  const msg = await rejects(readIdx(file));
  assert.ok(msg.includes(file), msg);
  assert.match(msg, /magic number 0x12345678/);
  assert.match(msg, /expected 0x000008NN/);
  // A labels file (1 dimension) given as images (3 dimensions).
  const labels = join(tmp.dir, 'labels-as-images');
  writeFileSync(labels, idxBytes([4], new Uint8Array(4)));
  const msg2 = await rejects(openIdx(labels, labels));
  assert.match(msg2, /wrong IDX magic number 0x00000801: expected 0x00000803 or 0x00000804/);
  assert.ok(msg2.includes(labels), msg2);
  // Element types other than unsigned byte.
  const ints = join(tmp.dir, 'int32');
  writeFileSync(ints, idxBytes([1], new Uint8Array(4), { magicType: 0x0c }));
  assert.match(await rejects(readIdx(ints)), /int32.*not supported, expected unsigned byte/);
  // Too short for a magic number at all.
  const tiny = join(tmp.dir, 'tiny');
  writeFileSync(tiny, new Uint8Array([0, 0]));
  assert.match(await rejects(readIdx(tiny)), /truncated IDX file: 2 bytes/);
});

test('bad input: truncated files (raw data, header, gzip stream)', async () => {
  const full = idxBytes([10, 4, 4], bytes(160));
  const cut = join(tmp.dir, 'cut-images');
  writeFileSync(cut, full.subarray(0, full.length - 7));
  const msg = await rejects(readIdx(cut));
  assert.ok(msg.includes(cut), msg);
  assert.match(msg, /truncated IDX file: dimensions 10x4x4 need 176 bytes \(header 16 \+ data 160\), got 169/);
  const header = join(tmp.dir, 'cut-header');
  writeFileSync(header, full.subarray(0, 9));
  assert.match(await rejects(readIdx(header)), /header needs 16 bytes for 3 dimensions, got 9/);
  const gz = idxBytes([10, 4, 4], bytes(160), { gzip: true });
  const cutGz = join(tmp.dir, 'cut.gz');
  writeFileSync(cutGz, gz.subarray(0, gz.length - 10));
  const gzMsg = await rejects(readIdx(cutGz));
  assert.ok(gzMsg.includes(cutGz), gzMsg);
  assert.match(gzMsg, /gzip/);
  // Extra bytes after the data are as wrong as missing ones.
  const long = join(tmp.dir, 'long');
  writeFileSync(long, new Uint8Array([...full, 1, 2]));
  assert.match(await rejects(readIdx(long)), /longer than its header says/);
  // parseIdx on a buffer behaves the same.
  assert.throws(() => parseIdx(full.subarray(0, 20), 'buffer'), /buffer: truncated IDX file/);
});

test('bad input: images and labels of different counts', async () => {
  const images = join(tmp.dir, 'n5-images');
  const labels = join(tmp.dir, 'n4-labels');
  writeFileSync(images, idxBytes([5, 2, 2], bytes(20)));
  writeFileSync(labels, idxBytes([4], new Uint8Array(4)));
  const msg = await rejects(openIdx(images, labels));
  assert.ok(msg.includes(images) && msg.includes(labels), msg);
  assert.match(msg, /has 5 images.*has 4 labels/);
});

test.run();
