// Key remapping (MoCo -> torchvision names), strict matching before any copy, and loadForModel.

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  loadForModel, matchStateDict, matchesPattern, readSafetensorsHeader, remapKeys, remapName, writeSafetensors,
  type ExpectedEntry, type StateDict, type StateEntry,
} from '../../src/io/index.js';
import { bitsOf, matchAll, randomF32, reEscape, rejects, spyReads, tempDir, writeBytes } from './util.js';

const tmp = tempDir('sd');
test.after(() => tmp.cleanup());

const entry = (shape: number[], seed = 1): StateEntry => ({ shape, data: randomF32(shape.reduce((a, b) => a * b, 1), seed) });

// A tiny ResNet-ish backbone with torchvision names, as the model would list it.
const backbone: Array<[string, number[]]> = [
  ['conv1.weight', [4, 3, 3, 3]],
  ['bn1.weight', [4]],
  ['bn1.bias', [4]],
  ['bn1.running_mean', [4]],
  ['bn1.running_var', [4]],
  ['layer1.0.conv1.weight', [4, 4, 3, 3]],
  ['layer1.0.bn1.weight', [4]],
];

// What a MoCo-v2 training script saves: DataParallel "module.", query and key encoders, an MLP
// head in fc.0 / fc.2, the queue and its pointer, and int64 num_batches_tracked buffers.
function mocoDict(): StateDict {
  const sd: StateDict = new Map();
  let seed = 1;
  for (const enc of ['encoder_q', 'encoder_k']) {
    for (const [k, s] of backbone) sd.set(`module.${enc}.${k}`, entry(s, seed++));
    sd.set(`module.${enc}.bn1.num_batches_tracked`, { shape: [], data: new Float32Array([500]), dtype: 'I64' });
    sd.set(`module.${enc}.fc.0.weight`, entry([8, 4], seed++));
    sd.set(`module.${enc}.fc.0.bias`, entry([8], seed++));
    sd.set(`module.${enc}.fc.2.weight`, entry([5, 8], seed++));
  }
  sd.set('module.queue', entry([5, 64], seed++));
  sd.set('module.queue_ptr', { shape: [1], data: new Float32Array([3]), dtype: 'I64' });
  return sd;
}

// The student model: the backbone plus a fresh linear classifier "fc".
function expectedModel(): Map<string, ExpectedEntry> {
  const m = new Map<string, ExpectedEntry>(backbone.map(([k, s]) => [k, { shape: s }]));
  m.set('fc.weight', { shape: [10, 4] });
  m.set('fc.bias', { shape: [10] });
  return m;
}

const mocoRemap = {
  stripPrefixes: ['module.encoder_q.', 'module.'],
  ignore: [/^fc\./, /^encoder_k\./, /^queue/, /num_batches_tracked$/],
};

test('patterns: strings match a key or its module subtree; RegExps test the key', () => {
  assert.ok(matchesPattern('fc.weight', 'fc'));
  assert.ok(matchesPattern('fc.0.bias', 'fc'));
  assert.ok(matchesPattern('fc', 'fc'));
  assert.ok(matchesPattern('fc.weight', 'fc.'));
  assert.not.ok(matchesPattern('fc2.weight', 'fc'));
  assert.not.ok(matchesPattern('head.fc.weight', 'fc'));
  const g = /^fc\./g; // stateful flags must not make alternate keys fail
  assert.ok(matchesPattern('fc.a', g) && matchesPattern('fc.b', g));
});

test('remapKeys: a MoCo dict becomes the torchvision backbone, sharing the arrays', () => {
  const moco = mocoDict();
  const sd = remapKeys(moco, mocoRemap);
  assert.equal([...sd.keys()], backbone.map(([k]) => k));
  for (const [k] of backbone) assert.ok(sd.get(k) === moco.get(`module.encoder_q.${k}`), k);
  // It passes the strict check with the new classifier allowed to be missing.
  const r = matchStateDict(expectedModel(), sd, { allowMissing: ['fc'] });
  assert.equal(r, { ok: true, missing: ['fc.weight', 'fc.bias'], unexpected: [] });
});

test('remapName: first matching prefix only, ignore after stripping, renames last', () => {
  const opts = { stripPrefixes: ['module.', 'encoder.'], ignore: ['queue'], rename: { 'fc.0.weight': 'head.weight' } };
  assert.is(remapName('module.encoder.conv1.weight', opts), 'encoder.conv1.weight');
  assert.is(remapName('encoder.conv1.weight', opts), 'conv1.weight');
  assert.is(remapName('module.queue', opts), null);
  assert.is(remapName('queue_ptr', opts), 'queue_ptr'); // "queue" as a string is a module path, not a prefix
  assert.is(remapName('module.fc.0.weight', opts), 'head.weight');
  assert.is(remapName('backbone.x', {}), 'backbone.x');
  assert.is(remapName('toString', { rename: {} }), 'toString'); // no prototype lookups
});

test('remapKeys: two keys landing on one name is an error naming both', () => {
  const sd: StateDict = new Map([['module.conv1.weight', entry([1])], ['conv1.weight', entry([1])]]);
  assert.throws(() => remapKeys(sd, { stripPrefixes: ['module.'] }), /keys "module\.conv1\.weight" and "conv1\.weight" both map to "conv1\.weight"/);
  const r: StateDict = new Map([['a', entry([1])], ['b', entry([1])]]);
  assert.throws(() => remapKeys(r, { rename: { a: 'b' } }), /both map to "b"/);
  assert.throws(() => remapKeys(new Map([['module.', entry([1])]]), { stripPrefixes: ['module.'] }), /key "module\." becomes empty/);
});

test('matchStateDict: missing keys (up to 5 listed), unexpected keys, shape mismatch name the key', () => {
  const sd = remapKeys(mocoDict(), mocoRemap);
  const exp = expectedModel();
  assert.throws(() => matchStateDict(exp, sd), /missing 2 key\(s\) the model expects: "fc\.weight", "fc\.bias"/);
  // Many missing keys: five listed, then a count.
  const many = new Map<string, ExpectedEntry>([...exp, ...Array.from({ length: 6 }, (_, i) => [`extra${i}.weight`, { shape: [1] }] as const)]);
  assert.throws(() => matchStateDict(many, sd, { allowMissing: ['fc'] }),
    /missing 6 key\(s\) the model expects: "extra0\.weight", "extra1\.weight", "extra2\.weight", "extra3\.weight", "extra4\.weight" and 1 more/);
  // Unexpected: the key encoder left in.
  const withK = remapKeys(mocoDict(), { ...mocoRemap, ignore: [/^fc\./, /^queue/, /num_batches_tracked$/] });
  assert.throws(() => matchStateDict(exp, withK, { allowMissing: ['fc'] }),
    /10 unexpected key\(s\) the model does not have: "encoder_k\.conv1\.weight", "encoder_k\.bn1\.weight", .* and 5 more/);
  const loose = matchStateDict(exp, withK, { allowMissing: ['fc'], strict: false });
  assert.is(loose.unexpected.length, 10);
  // Shape mismatch, first in the model's order.
  const bad = new Map(sd);
  bad.set('bn1.running_var', entry([5]));
  bad.set('layer1.0.conv1.weight', entry([4, 4, 1, 1]));
  assert.throws(() => matchStateDict(exp, bad, { allowMissing: ['fc'] }),
    /key "bn1\.running_var": checkpoint has shape \[5\], model expects \[4\]/);
  // Same element count, different shape is still a mismatch.
  const flat = new Map(sd);
  flat.set('conv1.weight', entry([4, 27]));
  assert.throws(() => matchStateDict(exp, flat, { allowMissing: ['fc'] }), /key "conv1\.weight": checkpoint has shape \[4, 27\], model expects \[4, 3, 3, 3\]/);
  // Data that disagrees with its own shape.
  const broken = new Map(sd);
  broken.set('bn1.bias', { shape: [4], data: new Float32Array(3) });
  assert.throws(() => matchStateDict(exp, broken, { allowMissing: ['fc'] }), /key "bn1\.bias": shape \[4\] has 4 elements but data has 3/);
  // dtype restrictions, when the model states them.
  const typed = new Map(exp);
  typed.set('bn1.weight', { shape: [4], dtypes: ['F32', 'F16'] });
  const sdTyped = new Map(sd);
  sdTyped.set('bn1.weight', { ...entry([4]), dtype: 'I64' });
  assert.throws(() => matchStateDict(typed, sdTyped, { allowMissing: ['fc'] }), /key "bn1\.weight": checkpoint dtype I64, model accepts F32 or F16/);
});

async function writeMocoFile(name: string): Promise<string> {
  const file = tmp.path(name);
  const sd = mocoDict();
  await writeSafetensors(file, [...sd].map(([k, e]) => ({ name: k, shape: e.shape, data: e.data, dtype: e.dtype })));
  return file;
}

test('loadForModel: reads only what the model takes, in the model\'s order, under its names', async () => {
  const file = await writeMocoFile('moco.safetensors');
  const moco = mocoDict();
  const exp = expectedModel();
  const { result: sd, reads } = await spyReads(() => loadForModel(file, exp, { ...mocoRemap, allowMissing: ['fc'] }));
  assert.equal([...sd.keys()], backbone.map(([k]) => k));
  for (const [k, s] of backbone) {
    const got = sd.get(k)!;
    assert.equal(got.shape, s);
    assert.is(got.dtype, 'F32');
    assert.equal(bitsOf(got.data), bitsOf(moco.get(`module.encoder_q.${k}`)!.data), k);
  }
  // Header reads (twice: the check, then the read) plus one read per backbone tensor.
  const h = await readSafetensorsHeader(file);
  const dataReads = reads.filter(([p]) => p >= h.dataStart);
  assert.is(dataReads.length, backbone.length);
  const queue = h.entries.find((e) => e.name === 'module.queue')!;
  assert.ok(dataReads.every(([p]) => p < h.dataStart + queue.dataOffsets[0] || p >= h.dataStart + queue.dataOffsets[1]));
  // An I64 buffer the model keeps: allowed through and converted.
  const withNbt = new Map(exp);
  withNbt.set('bn1.num_batches_tracked', { shape: [] });
  const sd2 = await loadForModel(file, withNbt, { ...mocoRemap, ignore: [/^fc\./, /^encoder_k\./, /^queue/], allowMissing: ['fc'] });
  assert.equal(sd2.get('bn1.num_batches_tracked'), { shape: [], data: new Float32Array([500]), dtype: 'I64' });
});

test('loadForModel: every error names the file and the key (with its checkpoint name), before any data read', async () => {
  const file = await writeMocoFile('moco2.safetensors');
  const exp = expectedModel();
  const at = new RegExp(`^${reEscape(file)}: `);
  matchAll(await rejects(loadForModel(file, exp, mocoRemap)), at, /missing 2 key\(s\) the model expects: "fc\.weight", "fc\.bias"/);
  matchAll(await rejects(loadForModel(file, exp, { ...mocoRemap, ignore: [/^fc\./, /^queue/, /num_batches/], allowMissing: ['fc'] })),
    at, /unexpected key\(s\) the model does not have: "encoder_k\.conv1\.weight" \(from "module\.encoder_k\.conv1\.weight"\)/);
  const wrong = new Map(exp);
  wrong.set('layer1.0.conv1.weight', { shape: [4, 4, 1, 1] });
  const { result: msg, reads } = await spyReads(() => rejects(loadForModel(file, wrong, { ...mocoRemap, allowMissing: ['fc'] })));
  matchAll(msg, at, /key "layer1\.0\.conv1\.weight" \(checkpoint key "module\.encoder_q\.layer1\.0\.conv1\.weight"\): checkpoint has shape \[4, 4, 3, 3\], model expects \[4, 4, 1, 1\]/);
  const start = (await readSafetensorsHeader(file)).dataStart;
  assert.ok(reads.length > 0 && reads.every(([p]) => p < start), 'only the length and the header were read, no tensor data');
  // A prefix left on (only "module." stripped): every backbone key is reported missing.
  matchAll(await rejects(loadForModel(file, exp, { stripPrefixes: ['module.'], ignore: [/^encoder_k/, /^queue/], allowMissing: ['fc'] })),
    at, /missing 7 key\(s\) the model expects: "conv1\.weight", "bn1\.weight", "bn1\.bias", "bn1\.running_mean", "bn1\.running_var" and 2 more/);
  matchAll(await rejects(loadForModel(file, exp, { stripPrefixes: ['module.encoder_q.', 'module.encoder_k.'], allowMissing: ['fc'] })), at,
    /keys "module\.encoder_q\.conv1\.weight" and "module\.encoder_k\.conv1\.weight" both map to "conv1\.weight"/);
  const missing = tmp.path('absent.safetensors');
  matchAll(await rejects(loadForModel(missing, exp)), new RegExp(`^${reEscape(missing)}: file not found`));
  // A truncated checkpoint is reported as such (naming the tensor), even if the cut part would be ignored.
  const cut = writeBytes(tmp.path('moco-cut.safetensors'), readFileSync(file).subarray(0, readFileSync(file).length - 10));
  matchAll(await rejects(loadForModel(cut, exp, { ...mocoRemap, allowMissing: ['fc'] })), new RegExp(`^${reEscape(cut)}: truncated: tensor "module\\.queue"`));
});

test.run();
