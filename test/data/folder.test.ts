// Image folders (PNG and JPEG, one sub-folder per class) written here with
// sharp: class order, pixels, channel handling, region decoding, bad files.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadSampleError, ImageFolder, imageSize, labelHistogram, sniffImageFormat } from '../../src/data/index.js';
import { encode, rejects, rgbPixels, tempDir, writeImageFolder } from '../helpers/data_fixtures.js';

const tmp = tempDir('folder');
test.after(() => tmp.cleanup());

const W = 20;
const H = 14;

test('PNG folder: classes from sorted folder names, exact pixels', async () => {
  const root = join(tmp.dir, 'png');
  // Created out of order; code-unit order puts upper case first, as Python's sorted().
  await writeImageFolder(root, ['zebra', 'ant', 'Bee'], 3, W, H, 'png');
  const ds = await ImageFolder.open(root);
  assert.equal(ds.classes, ['Bee', 'ant', 'zebra']);
  assert.is(ds.length, 9);
  assert.is(ds.numClasses, 3);
  assert.is(ds.channels, 3);
  assert.equal(Array.from(labelHistogram(ds)), [3, 3, 3]);
  // File i of the class created k-th has seed k * 100 + i; 'zebra' was created first (k = 0).
  const created = { zebra: 0, ant: 1, Bee: 2 } as Record<string, number>;
  for (let idx = 0; idx < ds.length; idx++) {
    const s = await ds.get(idx);
    const cls = ds.classes[s.label]!;
    const fileNo = Number(/img_(\d+)/.exec(ds.files[idx]!)![1]);
    assert.is(s.image.width, W);
    assert.is(s.image.height, H);
    assert.is(s.image.channels, 3);
    assert.equal(Array.from(s.image.data), Array.from(rgbPixels(W, H, created[cls]! * 100 + fileNo)), `sample ${idx}`);
    assert.ok(s.image.data.constructor === Uint8Array, 'a plain Uint8Array, not a Buffer');
  }
});

test('JPEG folder: pixels close to the originals', async () => {
  const root = join(tmp.dir, 'jpeg');
  await writeImageFolder(root, ['a', 'b'], 2, 64, 48, 'jpeg');
  const ds = await ImageFolder.open(root);
  assert.is(ds.length, 4);
  const s = await ds.get(3); // class b, file 1, seed 101
  assert.is(s.label, 1);
  // Exactly what libvips decodes from the file ...
  const direct = await sharp(ds.path(3)).raw().toBuffer();
  assert.equal(Array.from(s.image.data), Array.from(direct));
  // ... which is near the encoded pixels (the test pattern's sawtooth edges cost JPEG some accuracy).
  const want = rgbPixels(64, 48, 101);
  let err = 0;
  for (let i = 0; i < want.length; i++) err += Math.abs(s.image.data[i]! - want[i]!);
  assert.ok(err / want.length < 10, `mean abs error ${err / want.length}`);
});

test('nested folders count, hidden files and root-level files are ignored', async () => {
  const root = join(tmp.dir, 'nested');
  mkdirSync(join(root, 'cat', 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'dog'), { recursive: true });
  writeFileSync(join(root, 'cat', 'sub', 'deeper', 'x.PNG'), await encode(rgbPixels(4, 4, 1), 4, 4, 'png'));
  writeFileSync(join(root, 'cat', 'y.jpeg'), await encode(rgbPixels(4, 4, 2), 4, 4, 'jpeg'));
  writeFileSync(join(root, 'dog', 'z.jpg'), await encode(rgbPixels(4, 4, 3), 4, 4, 'jpeg'));
  writeFileSync(join(root, 'dog', '.DS_Store'), 'junk');
  writeFileSync(join(root, 'README.txt'), 'not a class');
  mkdirSync(join(root, '.cache'));
  const ds = await ImageFolder.open(root);
  assert.equal(ds.classes, ['cat', 'dog']);
  assert.equal(ds.files, [join('cat', 'sub', 'deeper', 'x.PNG'), join('cat', 'y.jpeg'), join('dog', 'z.jpg')]);
  assert.equal(Array.from(ds.labels), [0, 0, 1]);
});

test('grey and RGBA files become RGB; channels 1 gives grey', async () => {
  const root = join(tmp.dir, 'channels');
  mkdirSync(join(root, 'k'), { recursive: true });
  const grey = new Uint8Array(6 * 5).map((_, i) => i * 8);
  writeFileSync(join(root, 'k', 'a_grey.png'), await encode(grey, 6, 5, 'png', 1));
  const rgba = new Uint8Array(6 * 5 * 4).map((_, i) => (i % 4 === 3 ? 128 : i));
  writeFileSync(join(root, 'k', 'b_rgba.png'), await encode(rgba, 6, 5, 'png', 4));
  const rgb = await ImageFolder.open(root);
  const g = (await rgb.get(0)).image;
  assert.is(g.channels, 3);
  for (let p = 0; p < 30; p++) for (let c = 0; c < 3; c++) assert.is(g.data[p * 3 + c], grey[p]);
  const a = (await rgb.get(1)).image;
  assert.is(a.channels, 3);
  for (let p = 0; p < 30; p++) for (let c = 0; c < 3; c++) assert.is(a.data[p * 3 + c], rgba[p * 4 + c]);
  const mono = await ImageFolder.open(root, { channels: 1 });
  const m = (await mono.get(0)).image;
  assert.is(m.channels, 1);
  assert.equal(Array.from(m.data), Array.from(grey));
  assert.is((await mono.get(1)).image.channels, 1);
});

test('header sizes and format sniffing agree with libvips', async () => {
  for (const fmt of ['png', 'jpeg'] as const) {
    const buf = await encode(rgbPixels(37, 23, 5), 37, 23, fmt);
    assert.equal(imageSize(buf), { width: 37, height: 23 });
    assert.is(sniffImageFormat(buf), fmt);
    const meta = await sharp(buf).metadata();
    assert.equal([meta.width, meta.height], [37, 23]);
  }
  // A progressive JPEG has its frame header elsewhere (SOF2).
  const prog = await sharp(rgbPixels(41, 19, 1), { raw: { width: 41, height: 19, channels: 3 } }).jpeg({ progressive: true }).toBuffer();
  assert.equal(imageSize(prog), { width: 41, height: 19 });
  assert.is(imageSize(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])), null);
  assert.is(sniffImageFormat(new TextEncoder().encode('hello world, no image')), null);
});

test('getRegion decodes exactly the requested rectangle (and shrinks on request)', async () => {
  const root = join(tmp.dir, 'png');
  const ds = await ImageFolder.open(root);
  const full = (await ds.get(4)).image;
  let seen: [number, number] | null = null;
  const r = await ds.getRegion(4, (w, h) => {
    seen = [w, h];
    return { box: { x: 3, y: 2, w: 11, h: 9 } };
  });
  assert.equal(seen, [W, H]);
  assert.equal([r.image.width, r.image.height, r.fullWidth, r.fullHeight], [11, 9, W, H]);
  assert.equal(r.origin, { x: 3, y: 2, scaleX: 1, scaleY: 1 });
  for (let y = 0; y < 9; y++) {
    for (let x = 0; x < 11; x++) {
      for (let c = 0; c < 3; c++) assert.is(r.image.data[(y * 11 + x) * 3 + c], full.data[((y + 2) * W + x + 3) * 3 + c]);
    }
  }
  const half = await ds.getRegion(4, () => ({ box: { x: 0, y: 0, w: 20, h: 14 }, width: 10, height: 7 }));
  assert.equal([half.image.width, half.image.height], [10, 7]);
  assert.equal(half.origin, { x: 0, y: 0, scaleX: 2, scaleY: 2 });
  // A plan outside the image is a programming error, reported as such.
  assert.match(await rejects(ds.getRegion(0, () => ({ box: { x: 15, y: 0, w: 10, h: 5 } }))), /not an integer rectangle inside the 20x14 image/);
});

test('bad input: missing root, a file as root, no class folders', async () => {
  const missing = join(tmp.dir, 'does-not-exist');
  const m1 = await rejects(ImageFolder.open(missing));
  assert.ok(m1.includes(missing), m1);
  assert.match(m1, /no such file or directory/);
  const file = join(tmp.dir, 'plain-file');
  writeFileSync(file, 'x');
  assert.match(await rejects(ImageFolder.open(file)), /not a directory/);
  const bare = join(tmp.dir, 'bare');
  mkdirSync(bare);
  assert.match(await rejects(ImageFolder.open(bare)), /no class folders found/);
});

async function brokenFolder(name: string): Promise<string> {
  const root = join(tmp.dir, name);
  await writeImageFolder(root, ['a', 'b'], 2, 16, 16, 'jpeg');
  return root;
}

test('bad input: a non-image file is named (extension, then contents)', async () => {
  const root = await brokenFolder('non-image');
  const txt = join(root, 'a', 'notes.txt');
  writeFileSync(txt, 'hello');
  const m1 = await rejects(ImageFolder.open(root));
  assert.ok(m1.includes(txt), m1);
  assert.match(m1, /not an image file: extension '\.txt'/);

  const root2 = await brokenFolder('fake-png');
  const fake = join(root2, 'b', 'fake.png');
  writeFileSync(fake, 'GIF? no, just text');
  const m2 = await rejects(ImageFolder.open(root2));
  assert.ok(m2.includes(fake), m2);
  assert.match(m2, /not an image: its first bytes \(47 49 46 3f/);

  const root3 = await brokenFolder('empty-file');
  const empty = join(root3, 'a', 'empty.jpg');
  writeFileSync(empty, '');
  const m3 = await rejects(ImageFolder.open(root3));
  assert.ok(m3.includes(empty), m3);
  assert.match(m3, /empty file/);
});

test('bad input: an empty class folder is named', async () => {
  const root = await brokenFolder('empty-class');
  mkdirSync(join(root, 'c_empty'));
  const m = await rejects(ImageFolder.open(root));
  assert.ok(m.includes(join(root, 'c_empty')), m);
  assert.match(m, /empty class folder/);
});

test('bad input: a truncated JPEG fails on decode with the file named; verify "decode" finds it at open', async () => {
  const root = await brokenFolder('truncated');
  const victim = join(root, 'b', 'img_0.jpg');
  const bytes = readFileSync(victim);
  writeFileSync(victim, bytes.subarray(0, Math.floor(bytes.length / 2)));
  // The header is intact, so the default check passes ...
  const ds = await ImageFolder.open(root);
  const idx = ds.files.indexOf(join('b', 'img_0.jpg'));
  assert.ok(idx >= 0);
  // ... and decoding reports it.
  let caught: unknown = null;
  try {
    await ds.get(idx);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BadSampleError, String(caught));
  const e = caught as BadSampleError;
  assert.is(e.file, victim);
  assert.ok(e.message.includes(victim), e.message);
  assert.match(e.message, /cannot decode image/);
  // Region decoding reports it the same way.
  assert.ok((await rejects(ds.getRegion(idx, (w, h) => ({ box: { x: 0, y: 0, w, h } })))).includes(victim));
  // Full verification finds it while opening.
  const m = await rejects(ImageFolder.open(root, { verify: 'decode' }));
  assert.ok(m.includes(victim), m);
  assert.match(m, /cannot decode image/);
});

test('skip mode: bad files are left out, counted and reported once', async () => {
  const root = await brokenFolder('skip');
  writeFileSync(join(root, 'a', 'notes.txt'), 'hello');
  writeFileSync(join(root, 'b', 'garbage.jpg'), 'not a jpeg at all');
  const victim = join(root, 'a', 'img_1.jpg');
  writeFileSync(victim, readFileSync(victim).subarray(0, 40));
  const warnings: string[] = [];
  const ds = await ImageFolder.open(root, { onBadFile: 'skip', verify: 'decode', onWarning: (m) => warnings.push(m) });
  assert.is(ds.length, 3);
  assert.is(ds.skipped.length, 3);
  assert.equal(
    ds.skipped.map((s) => s.file),
    [join(root, 'a', 'img_1.jpg'), join(root, 'a', 'notes.txt'), join(root, 'b', 'garbage.jpg')],
  );
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!, /skipped 3 bad file\(s\)/);
  assert.ok(warnings[0]!.includes('garbage.jpg') && warnings[0]!.includes('notes.txt'));
  assert.equal(Array.from(labelHistogram(ds)), [1, 2]);

  // Skipping every file of a class still leaves an empty class: an error.
  const root2 = await brokenFolder('skip-all');
  for (const f of ['img_0.jpg', 'img_1.jpg']) writeFileSync(join(root2, 'a', f), 'junk');
  const m = await rejects(ImageFolder.open(root2, { onBadFile: 'skip', onWarning: () => {} }));
  assert.match(m, /empty class folder.*after leaving out bad files/);
});

test('spec() round trip reopens the same files and labels', async () => {
  const ds = await ImageFolder.open(join(tmp.dir, 'png'));
  const spec = ds.spec();
  assert.is(spec.kind, 'folder');
  const again = ImageFolder.fromSpec(spec as Extract<typeof spec, { kind: 'folder' }>);
  assert.equal(again.files, ds.files);
  assert.equal(Array.from(again.labels), Array.from(ds.labels));
  assert.equal(Array.from((await again.get(5)).image.data), Array.from((await ds.get(5)).image.data));
});

test.run();
