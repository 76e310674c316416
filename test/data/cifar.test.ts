// CIFAR-10 / CIFAR-100 binary batches written here: layout, labels, several
// files, and bad input.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cifarFiles, cifarRecordBytes, labelHistogram, openCifar, openCifarDir } from '../../src/data/index.js';
import { cifarPixel, cifarRecords, rejects, tempDir } from '../helpers/data_fixtures.js';

const tmp = tempDir('cifar');
test.after(() => tmp.cleanup());

test('CIFAR-10: planes become HWC, labels and counts kept, files concatenated in order', async () => {
  const a = join(tmp.dir, 'a.bin');
  const b = join(tmp.dir, 'b.bin');
  writeFileSync(a, cifarRecords([[3], [9], [0]], 'cifar10'));
  // The second file's images continue the pixel formula at i = 3, 4.
  const recB = cifarRecords([[0], [0], [0], [1], [7]], 'cifar10').subarray(3 * 3073);
  writeFileSync(b, recB);
  const ds = await openCifar([a, b], { variant: 'cifar10' });
  assert.is(ds.length, 5);
  assert.is(ds.numClasses, 10);
  assert.is(ds.channels, 3);
  assert.is(ds.width, 32);
  assert.equal(Array.from(ds.labels), [3, 9, 0, 1, 7]);
  for (const i of [0, 2, 4]) {
    const img = (await ds.get(i)).image;
    for (const [y, x] of [[0, 0], [5, 17], [31, 31]] as const) {
      for (let c = 0; c < 3; c++) assert.is(img.data[(y * 32 + x) * 3 + c], cifarPixel(i, y, x, c), `image ${i} pixel ${y},${x},${c}`);
    }
  }
  assert.is(cifarRecordBytes('cifar10'), 3073);
  assert.is(cifarRecordBytes('cifar100'), 3074);
});

test('CIFAR-100: fine labels by default, coarse on request', async () => {
  const f = join(tmp.dir, 'train.bin');
  writeFileSync(f, cifarRecords([[4, 99], [19, 0], [0, 42]], 'cifar100'));
  const fine = await openCifar([f], { variant: 'cifar100' });
  assert.equal(Array.from(fine.labels), [99, 0, 42]);
  assert.is(fine.numClasses, 100);
  const coarse = await openCifar([f], { variant: 'cifar100', label: 'coarse' });
  assert.equal(Array.from(coarse.labels), [4, 19, 0]);
  assert.is(coarse.numClasses, 20);
  assert.is((await coarse.get(1)).image.data[5 * 3 + 1], cifarPixel(1, 0, 5, 1));
});

test('the official directory layouts are found', async () => {
  const dir10 = join(tmp.dir, 'cifar-10-batches-bin');
  mkdirSync(dir10);
  for (let i = 1; i <= 5; i++) writeFileSync(join(dir10, `data_batch_${i}.bin`), cifarRecords([[i], [i]], 'cifar10'));
  writeFileSync(join(dir10, 'test_batch.bin'), cifarRecords([[0]], 'cifar10'));
  const train = await openCifarDir(dir10, 'train', { variant: 'cifar10' });
  assert.is(train.length, 10);
  assert.equal(Array.from(labelHistogram(train)), [0, 2, 2, 2, 2, 2, 0, 0, 0, 0]);
  assert.is((await openCifarDir(dir10, 'test', { variant: 'cifar10' })).length, 1);
  const dir100 = join(tmp.dir, 'cifar-100-binary');
  mkdirSync(dir100);
  writeFileSync(join(dir100, 'test.bin'), cifarRecords([[1, 2]], 'cifar100'));
  assert.equal(await cifarFiles(dir100, 'cifar100', 'test'), [join(dir100, 'test.bin')]);
});

test('bad input: missing file, truncated file, wrong variant, empty list', async () => {
  const missing = join(tmp.dir, 'missing.bin');
  const m1 = await rejects(openCifar([missing], { variant: 'cifar10' }));
  assert.ok(m1.includes(missing), m1);
  assert.match(m1, /no such file/);

  const cut = join(tmp.dir, 'cut.bin');
  const recs = cifarRecords([[1], [2]], 'cifar10');
  writeFileSync(cut, recs.subarray(0, recs.length - 100));
  const m2 = await rejects(openCifar([cut], { variant: 'cifar10' }));
  assert.ok(m2.includes(cut), m2);
  assert.match(m2, /not a positive multiple of the 3073-byte record/);
  assert.match(m2, /truncated\? 2973 bytes left over after 1 records/);

  // CIFAR-100 records read as CIFAR-10: sizes do not divide.
  const c100 = join(tmp.dir, 'c100.bin');
  writeFileSync(c100, cifarRecords([[1, 50], [2, 60]], 'cifar100'));
  assert.match(await rejects(openCifar([c100], { variant: 'cifar10' })), /3073-byte record/);

  // A label out of range (e.g. a CIFAR-100 file of exactly matching size is rare; a corrupt label byte is not).
  const badLabel = join(tmp.dir, 'badlabel.bin');
  writeFileSync(badLabel, cifarRecords([[1], [12]], 'cifar10'));
  const m3 = await rejects(openCifar([badLabel], { variant: 'cifar10' }));
  assert.ok(m3.includes(badLabel), m3);
  assert.match(m3, /record 1 has label 12, expected 0\.\.9/);

  const empty = join(tmp.dir, 'empty.bin');
  writeFileSync(empty, new Uint8Array(0));
  assert.match(await rejects(openCifar([empty], { variant: 'cifar10' })), /size 0 bytes/);
  assert.match(await rejects(openCifar([], { variant: 'cifar10' })), /no batch files/);
  assert.match(await rejects(openCifarDir(join(tmp.dir, 'nowhere'), 'train', { variant: 'cifar10' })), /cannot find CIFAR-10 train batch 1/);
});

test.run();
