// safetensors reader/writer: bit-exact round trips, files assembled by hand from the format's
// definition (as PyTorch writes them), every kind of bad input, atomic writes, streaming reads.

import { readdirSync, readFileSync, truncateSync, mkdirSync, writeFileSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, readSafetensors, readSafetensorsHeader, tempPathFor, writeSafetensors,
  type WriteTensor,
} from '../../src/io/index.js';
import { assemble, bitsOf, concat, f32Bytes, matchAll, randomF32, reEscape, rejects, spyReads, tempDir, u16Bytes, writeBytes } from './util.js';

const tmp = tempDir('st');
test.after(() => tmp.cleanup());
let counter = 0;
const fresh = (name = 'f') => tmp.path(`${name}-${counter++}.safetensors`);

const specials = [
  0x7fc00000, 0x7fc00001, 0xffa00000, 0x7f800001, // NaNs: quiet, payload, signalling negative, low payload
  0x80000000, 0x00000001, 0x007fffff, 0x80000003, // -0 and subnormals
  0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800000, // inf, -inf, max, 1
];
const specialF32 = () => new Float32Array(new Uint32Array(specials).buffer);

test('F32 round trip is bit-exact (NaN payloads, -0, subnormals, inf), shapes and order kept', async () => {
  const file = fresh();
  const big = randomF32(3 * 5 * 7, 3);
  const view = new Float32Array([99, 1.5, -2.25, 99]).subarray(1, 3); // a view with a byte offset
  const input: WriteTensor[] = [
    { name: 'special', shape: [3, 4], data: specialF32() },
    { name: 'scalar', shape: [], data: new Float32Array([Math.PI]) },
    { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
    { name: 'layer1.0.conv1.weight', shape: [3, 5, 7], data: big },
    { name: '10', shape: [2], data: view }, // numeric-looking name: must keep its place
    { name: 'é "quoted" \\ name', shape: [1], data: new Float32Array([-0]) },
  ];
  const meta = { format: 'pt', note: 'ünïcode "quotes" \\ and \n newline', '': 'empty key' };
  await writeSafetensors(file, input, meta);
  const { tensors, metadata } = await readSafetensors(file);
  assert.equal(metadata, meta);
  assert.equal([...tensors.keys()], input.map((t) => t.name));
  for (const t of input) {
    const got = tensors.get(t.name)!;
    assert.is(got.dtype, 'F32');
    assert.equal(got.shape, t.shape);
    assert.equal(bitsOf(got.data), bitsOf(t.data), t.name);
  }
  // Layout: header length a multiple of 8, tensors contiguous from offset 0 in the given order.
  const h = await readSafetensorsHeader(file);
  assert.is((h.dataStart - 8) % 8, 0);
  assert.is(h.dataStart + h.dataBytes, statSync(file).size);
  let off = 0;
  for (const e of h.entries.filter((x) => x.dataOffsets[1] > x.dataOffsets[0])) {
    assert.is(e.dataOffsets[0], off);
    off = e.dataOffsets[1];
  }
  assert.is(off, h.dataBytes);
  // Header padding is spaces.
  const bytes = readFileSync(file);
  const headerText = bytes.subarray(8, h.dataStart).toString('utf8');
  assert.ok(/^\{.*\} *$/s.test(headerText));
});

test('a Map input writes in insertion order', async () => {
  const file = fresh();
  const m = new Map([['b', { shape: [2], data: new Float32Array([1, 2]) }], ['a', { shape: [1], data: new Float32Array([3]) }]]);
  await writeSafetensors(file, m);
  const { tensors, metadata } = await readSafetensors(file);
  assert.equal([...tensors.keys()], ['b', 'a']);
  assert.equal(metadata, {});
  assert.equal(Array.from(tensors.get('a')!.data), [3]);
});

test('F16 and BF16 writes read back as the rounded values; I64/I32 as the integers', async () => {
  const file = fresh();
  const vals = new Float32Array([...randomF32(200, 7).map((v) => v * 70000), ...specialF32(), 65520, 1e-8, 3 * 2 ** -25]);
  await writeSafetensors(file, [
    { name: 'h', shape: [vals.length], data: vals, dtype: 'F16' },
    { name: 'b', shape: [vals.length], data: vals, dtype: 'BF16' },
    { name: 'n', shape: [], data: new Float32Array([12345]), dtype: 'I64' },
    { name: 'i', shape: [3], data: new Float32Array([-7, 0, 2 ** 24]), dtype: 'I32' },
  ]);
  const { tensors } = await readSafetensors(file);
  const h = tensors.get('h')!;
  const b = tensors.get('b')!;
  assert.is(h.dtype, 'F16');
  assert.is(b.dtype, 'BF16');
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i]!;
    const wantH = f16ToF32(f32ToF16(v));
    const wantB = bf16ToF32(f32ToBf16(v));
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(h.data[i]!) && Number.isNaN(b.data[i]!));
    } else {
      assert.ok(Object.is(h.data[i]!, wantH), `f16 ${v}: ${h.data[i]} vs ${wantH}`);
      assert.ok(Object.is(b.data[i]!, wantB), `bf16 ${v}: ${b.data[i]} vs ${wantB}`);
    }
  }
  assert.is(h.data[vals.length - 3], Infinity); // 65520 rounds up to inf in half
  assert.equal(tensors.get('n'), { dtype: 'I64', shape: [], data: new Float32Array([12345]) });
  assert.equal(Array.from(tensors.get('i')!.data), [-7, 0, 2 ** 24]);
  // The bytes are those of the rounded halves.
  const raw = readFileSync(file);
  const hdr = await readSafetensorsHeader(file);
  const hEntry = hdr.entries.find((e) => e.name === 'h')!;
  assert.is(raw.readUInt16LE(hdr.dataStart + hEntry.dataOffsets[0]), f32ToF16(vals[0]!));
});

// What PyTorch's safetensors writer produces for a BN layer and friends: header keys in any order,
// data in offset order, int64 num_batches_tracked as a 0-d tensor.
function torchStyleFile(pad: number): Uint8Array {
  const header =
    '{"bn1.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[26,34]},' +
    '"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"h":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},' +
    '"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[14,18]},' +
    '"d":{"dtype":"F64","shape":[1],"data_offsets":[18,26]}}';
  const i64 = new Uint8Array(8);
  new DataView(i64.buffer).setBigInt64(0, 1234567n, true);
  const f64 = new Uint8Array(8);
  new DataView(f64.buffer).setFloat64(0, 0.1, true);
  const data = concat(
    f32Bytes([1.5, -3]),
    u16Bytes([0x3c00, 0xc000, 0x0001]), // 1, -2, smallest subnormal
    u16Bytes([0x3f80, 0xc0a0]), // 1, -5
    f64,
    i64,
  );
  return assemble(header, data, { pad });
}

test('a hand-assembled PyTorch-style file (F32, F16, BF16, F64, I64 scalar) reads correctly', async () => {
  for (const pad of [8, 1, 64]) {
    const file = writeBytes(fresh('torch'), torchStyleFile(pad));
    const { tensors, metadata } = await readSafetensors(file);
    assert.equal(metadata, { format: 'pt' });
    assert.equal([...tensors.keys()], ['a', 'h', 'b', 'd', 'bn1.num_batches_tracked']);
    assert.equal(tensors.get('a'), { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -3]) });
    assert.equal(tensors.get('h'), { dtype: 'F16', shape: [3], data: new Float32Array([1, -2, 2 ** -24]) });
    assert.equal(tensors.get('b'), { dtype: 'BF16', shape: [2, 1], data: new Float32Array([1, -5]) });
    assert.equal(tensors.get('d'), { dtype: 'F64', shape: [1], data: new Float32Array([0.1]) });
    assert.equal(tensors.get('bn1.num_batches_tracked'), { dtype: 'I64', shape: [], data: new Float32Array([1234567]) });
    const h = await readSafetensorsHeader(file);
    assert.equal(h.entries.map((e) => [e.name, e.dtype, e.shape, e.dataOffsets]), [
      ['a', 'F32', [2], [0, 8]], ['h', 'F16', [3], [8, 14]], ['b', 'BF16', [2, 1], [14, 18]], ['d', 'F64', [1], [18, 26]],
      ['bn1.num_batches_tracked', 'I64', [], [26, 34]],
    ]);
    assert.is(h.dataBytes, 34);
  }
});

test('small integer dtypes and BOOL widen to float32', async () => {
  const header =
    '{"i8":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"u8":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},' +
    '"i16":{"dtype":"I16","shape":[1],"data_offsets":[4,6]},"u16":{"dtype":"U16","shape":[1],"data_offsets":[6,8]},' +
    '"u32":{"dtype":"U32","shape":[1],"data_offsets":[8,12]},"bool":{"dtype":"BOOL","shape":[2],"data_offsets":[12,14]},' +
    '"u64":{"dtype":"U64","shape":[1],"data_offsets":[14,22]}}';
  const data = new Uint8Array([0xff, 0x05, 0xff, 0x05, 0x00, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 42, 0, 0, 0, 0, 0, 0, 0]);
  const { tensors } = await readSafetensors(writeBytes(fresh('ints'), assemble(header, data)));
  const v = (k: string) => Array.from(tensors.get(k)!.data);
  assert.equal(v('i8'), [-1, 5]);
  assert.equal(v('u8'), [255, 5]);
  assert.equal(v('i16'), [-32768]);
  assert.equal(v('u16'), [65535]);
  assert.equal(v('u32'), [Math.fround(2 ** 32 - 1)]);
  assert.equal(v('bool'), [0, 1]);
  assert.equal(v('u64'), [42]);
});

// ---- bad inputs: every message names the file, and the key / offset where there is one.

async function badHeader(headerText: string, data: Uint8Array, ...res: RegExp[]): Promise<void> {
  const file = writeBytes(fresh('bad'), assemble(headerText, data));
  const msg = await rejects(readSafetensors(file));
  matchAll(msg, new RegExp(`^${reEscape(file)}: `), ...res);
  // The header-only reader gives the same verdict.
  assert.is(await rejects(readSafetensorsHeader(file)), msg);
}

test('missing file, directory, short file, bad header lengths', async () => {
  const missing = tmp.path('nope.safetensors');
  matchAll(await rejects(readSafetensors(missing)), new RegExp(`^${reEscape(missing)}: file not found`));
  matchAll(await rejects(readSafetensorsHeader(missing)), /nope\.safetensors: file not found/);
  matchAll(await rejects(readSafetensors(tmp.dir)), new RegExp(`^${reEscape(tmp.dir)}: `), /directory/);
  const short = writeBytes(fresh('short'), new Uint8Array(5));
  matchAll(await rejects(readSafetensors(short)), new RegExp(`^${reEscape(short)}: `), /5 bytes, fewer than the 8-byte header length/);
  const empty = writeBytes(fresh('empty'), new Uint8Array(0));
  matchAll(await rejects(readSafetensors(empty)), /0 bytes/);
  const past = writeBytes(fresh('past'), assemble('{}', new Uint8Array(0), { declaredLength: 1000n }));
  matchAll(await rejects(readSafetensors(past)), new RegExp(`^${reEscape(past)}: `), /header length 1000 at byte offset 0 runs past the end of the 16-byte file/);
  const absurd = writeBytes(fresh('absurd'), assemble('{}', new Uint8Array(0), { declaredLength: 2n ** 40n }));
  matchAll(await rejects(readSafetensors(absurd)), /header length 1099511627776 at byte offset 0 is absurd/);
  const huge = writeBytes(fresh('huge'), assemble('{}', new Uint8Array(0), { declaredLength: 2n ** 64n - 1n }));
  matchAll(await rejects(readSafetensors(huge)), /absurd/);
});

test('header that is not JSON, not an object, not UTF-8, or has bad metadata', async () => {
  await badHeader('{"a": {"dtype": "F32",', new Uint8Array(0), /header \(bytes \[8, 32\)\) is not valid JSON/);
  await badHeader('[1, 2]', new Uint8Array(0), /header must be a JSON object, got an array/);
  await badHeader('null', new Uint8Array(0), /header must be a JSON object, got null/);
  await badHeader('42', new Uint8Array(0), /header must be a JSON object, got number/);
  await badHeader('', new Uint8Array(0), /not valid JSON/);
  const file = writeBytes(fresh('utf8'), assemble('{"\xff":1}', new Uint8Array(0)));
  const raw = readFileSync(file);
  raw[10] = 0xff; // a lone continuation byte inside the JSON string
  raw[11] = 0xfe;
  writeFileSync(file, raw);
  matchAll(await rejects(readSafetensors(file)), /not valid UTF-8/);
  await badHeader('{"__metadata__":{"x":1}}', new Uint8Array(0), /__metadata__ key "x" must be a string/);
  await badHeader('{"__metadata__":[]}', new Uint8Array(0), /__metadata__ must be an object/);
});

test('bad entries: each error names the tensor', async () => {
  const d8 = new Uint8Array(8);
  await badHeader('{"w":3}', d8, /tensor "w": header entry must be an object/);
  await badHeader('{"w":{"shape":[2],"data_offsets":[0,8]}}', d8, /tensor "w": header entry has no "dtype"/);
  await badHeader('{"w":{"dtype":"F32","data_offsets":[0,8]}}', d8, /tensor "w": header entry has no "shape"/);
  await badHeader('{"w":{"dtype":"F32","shape":[2]}}', d8, /tensor "w": header entry has no "data_offsets"/);
  await badHeader('{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}', d8, /tensor "w": unsupported dtype "Q4"/);
  await badHeader('{"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}', d8, /tensor "w": dtype must be a string/);
  for (const shape of ['[-2]', '[1.5]', '["2"]', '2', '[null]']) {
    await badHeader(`{"w":{"dtype":"F32","shape":${shape},"data_offsets":[0,8]}}`, d8, /tensor "w": shape must be an array of non-negative integers/);
  }
  for (const offs of ['[0]', '[0,"8"]', '[-8,0]', '[0,8,16]', 'null']) {
    await badHeader(`{"w":{"dtype":"F32","shape":[2],"data_offsets":${offs}}}`, d8, /tensor "w": data_offsets must be two non-negative integers/);
  }
  await badHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}', new Uint8Array(12),
    /tensor "w": data_offsets \[0, 12\) span 12 bytes but F32 \[2\] needs 8/);
  await badHeader('{"w":{"dtype":"F16","shape":[2],"data_offsets":[8,4]}}', d8, /tensor "w": data_offsets \[8, 4\) span -4 bytes/);
  await badHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
    new Uint8Array(12), /tensors "a" \[0, 8\) and "b" \[4, 12\) overlap/);
  await badHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
    d8, /truncated: tensor "b" needs bytes \[8, 16\) \(file offset \d+\) but the file has only 8 data bytes/);
  await badHeader('{"a":{"dtype":"F32","shape":[4000000000,4000000000],"data_offsets":[0,8]}}', d8, /tensor "a": shape \[4000000000, 4000000000\] is too large/);
});

test('NaN and inf in data are data, not errors', async () => {
  const file = writeBytes(fresh('nan'), assemble('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32Bytes([NaN, -Infinity])));
  const x = (await readSafetensors(file)).tensors.get('x')!.data;
  assert.ok(Number.isNaN(x[0]!));
  assert.is(x[1], -Infinity);
});

test('a truncated copy of a valid file fails naming the first tensor cut off', async () => {
  const file = fresh('full');
  await writeSafetensors(file, [
    { name: 'conv1.weight', shape: [64], data: randomF32(64, 1) },
    { name: 'bn1.weight', shape: [64], data: randomF32(64, 2) },
    { name: 'fc.weight', shape: [10, 64], data: randomF32(640, 3) },
  ]);
  const full = readFileSync(file);
  const h = await readSafetensorsHeader(file);
  // Cut inside bn1.weight: it and fc.weight are out of range; the first in file order is named.
  const cut = writeBytes(fresh('cut'), full.subarray(0, h.dataStart + 64 * 4 + 10));
  const msg = await rejects(readSafetensors(cut));
  matchAll(msg, new RegExp(`^${reEscape(cut)}: `), /truncated: tensor "bn1\.weight" needs bytes \[256, 512\) \(file offset \d+\) but the file has only 266 data bytes/);
  matchAll(await rejects(readSafetensorsHeader(cut)), /truncated: tensor "bn1\.weight"/);
  // Cut inside the header.
  const cutHeader = writeBytes(fresh('cuth'), full.subarray(0, 20));
  matchAll(await rejects(readSafetensors(cutHeader)), new RegExp(`^${reEscape(cutHeader)}: header length \\d+ at byte offset 0 runs past the end of the 20-byte file`));
});

// ---- writer validation and atomicity

const listDir = (dir: string) => readdirSync(dir).sort();

test('writer rejects bad input before creating anything, naming the tensor', async () => {
  const w = tempDir('wv');
  try {
    const file = w.path('out.safetensors');
    const ok = { name: 'w', shape: [2], data: new Float32Array(2) };
    const cases: Array<[WriteTensor[], RegExp, Record<string, string>?]> = [
      [[ok, { ...ok }], /duplicate tensor name "w"/],
      [[{ ...ok, name: '' }], /tensor names must be non-empty strings/],
      [[{ ...ok, name: '__metadata__' }], /cannot be named "__metadata__"/],
      [[{ ...ok, shape: [3] }], /tensor "w": shape \[3\] has 3 elements but data has 2/],
      [[{ ...ok, shape: [-2] }], /tensor "w": shape must be non-negative integers/],
      [[{ ...ok, dtype: 'F64' }], /tensor "w": cannot write dtype "F64"/],
      [[{ ...ok, data: new Float32Array([1.5, 2]), dtype: 'I64' }], /tensor "w": element 0 = 1\.5 is not representable as I64/],
      [[{ ...ok, data: new Float32Array([2 ** 31, 0]), dtype: 'I32' }], /element 0 = 2147483648 is not representable as I32/],
      [[{ ...ok, data: [1, 2] as unknown as Float32Array }], /tensor "w": data must be a Float32Array/],
      [[ok], /__metadata__ key "n" must be a string/, { n: 3 as unknown as string }],
    ];
    for (const [input, re, meta] of cases) {
      matchAll(await rejects(writeSafetensors(file, input, meta)), new RegExp(`^${reEscape(file)}: `), re);
      assert.equal(listDir(w.dir), []);
    }
  } finally {
    w.cleanup();
  }
});

test('atomic write: a failure midway leaves the old file unchanged and no temp file behind', async () => {
  const w = tempDir('atomic');
  try {
    const file = w.path('model.safetensors');
    await writeSafetensors(file, [{ name: 'w', shape: [3], data: new Float32Array([1, 2, 3]) }], { v: '1' });
    const before = readFileSync(file);
    // Invalid input (length disagrees with shape): rejected before the temp file exists.
    await rejects(writeSafetensors(file, [{ name: 'w', shape: [3], data: new Float32Array([9, 9, 9]) }, { name: 'x', shape: [4], data: new Float32Array(3) }]));
    assert.equal(readFileSync(file), before);
    assert.equal(listDir(w.dir), ['model.safetensors']);
    // A failure after the header and the first tensor are on disk: the second tensor's bytes
    // cannot be produced (a typed array whose buffer access throws, as a failing source would).
    let touched = false;
    const failing = new Proxy(new Float32Array(1000), {
      get(target, prop) {
        if (prop === 'buffer') {
          touched = true;
          throw new Error('disk on fire');
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const msg = await rejects(writeSafetensors(file, [
      { name: 'first', shape: [4096], data: randomF32(4096) },
      { name: 'second', shape: [1000], data: failing },
    ]));
    assert.ok(touched, 'the failure happened during the write');
    matchAll(msg, new RegExp(`^${reEscape(file)}: write failed: disk on fire`));
    assert.equal(readFileSync(file), before);
    assert.equal(listDir(w.dir), ['model.safetensors']);
    assert.equal((await readSafetensors(file)).metadata, { v: '1' });
    // Rename fails (the target is a non-empty directory): temp removed, directory untouched.
    const dirTarget = w.path('taken');
    mkdirSync(dirTarget);
    writeFileSync(w.path('taken/keep'), 'x');
    matchAll(await rejects(writeSafetensors(dirTarget, [{ name: 'w', shape: [], data: new Float32Array(1) }])),
      new RegExp(`^${reEscape(dirTarget)}: cannot move the written file into place`));
    assert.equal(listDir(w.dir), ['model.safetensors', 'taken']);
    assert.equal(listDir(dirTarget), ['keep']);
    // Missing directory: clear error, nothing created.
    const nowhere = w.path('no/such/dir/m.safetensors');
    matchAll(await rejects(writeSafetensors(nowhere, [])), new RegExp(`^${reEscape(nowhere)}: cannot create `));
    // A successful overwrite replaces the whole file (shorter new content leaves no tail).
    await writeSafetensors(file, [{ name: 'z', shape: [], data: new Float32Array([7]) }]);
    assert.equal([...(await readSafetensors(file)).tensors.keys()], ['z']);
    assert.equal(listDir(w.dir), ['model.safetensors', 'taken']);
  } finally {
    w.cleanup();
  }
});

test('temp files: same directory, never the final name, unique; a stale one does not disturb the target', async () => {
  const w = tempDir('tmpname');
  try {
    const file = w.path('ckpt.safetensors');
    const names = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const t = tempPathFor(file);
      assert.is.not(t, file);
      assert.is(dirname(t), dirname(file));
      assert.ok(basename(t).startsWith('ckpt.safetensors.tmp-'));
      names.add(t);
    }
    assert.is(names.size, 100);
    // A crash mid-write leaves only a temp file: the target keeps its last complete version.
    await writeSafetensors(file, [{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }]);
    const stale = tempPathFor(file);
    writeFileSync(stale, new Uint8Array([1, 2, 3]));
    assert.equal(Array.from((await readSafetensors(file)).tensors.get('w')!.data), [1, 2]);
    await writeSafetensors(file, [{ name: 'w', shape: [2], data: new Float32Array([3, 4]) }]);
    assert.equal(Array.from((await readSafetensors(file)).tensors.get('w')!.data), [3, 4]);
    assert.equal(listDir(w.dir), [basename(file), basename(stale)].sort());
  } finally {
    w.cleanup();
  }
});

// ---- streaming

test('`only` skips tensors without reading them (a truncated skipped tail still loads)', async () => {
  const file = fresh('stream');
  const a = randomF32(16, 1);
  const c = randomF32(8, 3);
  await writeSafetensors(file, [
    { name: 'a', shape: [16], data: a },
    { name: 'c', shape: [8], data: c },
    { name: 'queue', shape: [128, 64], data: randomF32(128 * 64, 2) },
  ]);
  const h = await readSafetensorsHeader(file);
  // Cut the file in the middle of the skipped tensor: reading it would fail.
  const cut = writeBytes(fresh('stream-cut'), readFileSync(file).subarray(0, h.dataStart + 96 + 1000));
  matchAll(await rejects(readSafetensors(cut)), /truncated: tensor "queue"/);
  const part = await readSafetensors(cut, { only: (n) => n !== 'queue' });
  assert.equal([...part.tensors.keys()], ['a', 'c']);
  assert.equal(bitsOf(part.tensors.get('a')!.data), bitsOf(a));
  assert.equal(bitsOf(part.tensors.get('c')!.data), bitsOf(c));

  // Every read the reader makes, logged through fs.promises.open: skipped bytes are never requested.
  const { result: only, reads } = await spyReads(() => readSafetensors(file, { only: (n) => n === 'c' }));
  assert.equal([...only.tensors.keys()], ['c']);
  assert.equal(bitsOf(only.tensors.get('c')!.data), bitsOf(c));
  // Length, header, and c's 32 bytes: nothing of a or queue.
  assert.equal(reads, [[0, 8], [8, h.dataStart - 8], [h.dataStart + 64, 32]]);
});

test('a 16 MB F32 tensor is read directly into the result', async () => {
  const file = fresh('big');
  const n = 2048 * 2048;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i += 4099) data[i] = i;
  await writeSafetensors(file, [{ name: 'big', shape: [2048, 2048], data }]);
  const t0 = Date.now();
  const got = (await readSafetensors(file)).tensors.get('big')!;
  const ms = Date.now() - t0;
  assert.equal(got.shape, [2048, 2048]);
  for (let i = 0; i < n; i += 4099) if (got.data[i] !== i) assert.unreachable(`element ${i}`);
  assert.is(got.data.buffer.byteLength, n * 4); // the result owns exactly its bytes: no whole-file buffer behind it
  assert.ok(ms < 5000, `${ms} ms`);
  truncateSync(file, 0);
});

test.run();
