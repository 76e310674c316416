// torch.save files read without Python: both formats, every state-dict dtype, views sharing storage, nested
// containers, and the allow-list (hostile pickles refused, nothing run). Fixtures: scripts/make-torch-fixtures.py.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync, rmSync, writeFileSync, mkdtempSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openTorchFile, TorchTensor } from '../../src/io/torch_file.js';
import { PickleError, PyObject } from '../../src/io/pickle.js';

const FIX = join(process.cwd(), 'test', 'fixtures', 'torch');
const fx = (n: string) => join(FIX, n);

const expected = JSON.parse(readFileSync(fx('views.expected.json'), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: number[] }>;
const DT: Record<string, string> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL' };

for (const file of ['views.pt', 'views.pth']) {
  test(`${file}: every dtype, views of one storage (offsets, strides, transpose) and nested containers`, async () => {
    const f = await openTorchFile(fx(file));
    try {
      assert.is(f.format, file.endsWith('.pt') ? 'zip' : 'legacy');
      const root = f.root as Map<string, unknown>;
      const views = root.get('views') as Map<string, TorchTensor>;
      for (const [k, e] of Object.entries(expected)) {
        const t = views.get(k)!;
        assert.instance(t, TorchTensor, k);
        assert.is(t.dtype, DT[e.dtype], `${k} dtype`);
        assert.equal(t.shape, e.shape, `${k} shape`);
        const got = await f.read(t);
        assert.is(got.length, e.values.length, `${k} length`);
        // float32 holds each value's float32 rounding (the int64 -2^40 and the bf16/f16 extremes are exact in float32).
        e.values.forEach((v, i) => assert.is(got[i], Math.fround(v), `${k}[${i}]`));
      }
      assert.ok(views.get('rows')!.storage.key === views.get('base')!.storage.key, 'rows is a view of base');
      const list = root.get('list') as unknown[];
      assert.instance(list[0], TorchTensor);
      assert.equal(list.slice(1), [3, 'x', null, true]);
      const tuple = root.get('tuple') as unknown[];
      assert.is(tuple[0], 1.5);
      assert.equal(Array.from(await f.read(tuple[1] as TorchTensor)), [1.25, 1.375]);
      const deep = ((root.get('nested') as Map<string, unknown>).get('deep') as Map<string, TorchTensor>).get('n')!;
      assert.equal(Array.from(await f.read(deep)), [9]);
      assert.equal(root.get('size'), [2, 3]);
      assert.equal(Array.from(root.get('bytes') as Uint8Array), [0, 255, 97, 98]);
      assert.equal([...(root.get('set') as number[])].sort(), [1, 2]);
    } finally {
      await f.close();
    }
  });
}

test('a MoCo-v2 training checkpoint (legacy .pth.tar and zip): state dict, optimizer state, argparse.Namespace', async () => {
  for (const file of ['moco_v2.pth.tar', 'moco_v2.pth.tar.zip']) {
    const f = await openTorchFile(fx(file));
    try {
      const root = f.root as Map<string, unknown>;
      assert.is(root.get('epoch'), 200);
      assert.is(root.get('arch'), 'resnet18');
      const args = root.get('args') as PyObject;
      assert.instance(args, PyObject);
      assert.is(args.cls, 'argparse.Namespace');
      assert.is(args.attrs.get('moco_t'), 0.2);
      const sd = root.get('state_dict') as Map<string, TorchTensor>;
      assert.ok(sd.has('module.encoder_q.conv1.weight') && sd.has('module.queue'), file);
      assert.equal(sd.get('module.encoder_q.fc.0.weight')!.shape, [32, 32]);
      const opt = root.get('optimizer') as Map<string, unknown>;
      const state = opt.get('state') as Map<number, Map<string, TorchTensor>>;
      assert.ok(state.get(0)!.get('momentum_buffer') instanceof TorchTensor, 'momentum buffers are tensors keyed by number');
    } finally {
      await f.close();
    }
  }
});

for (const file of ['evil_os_system.pt', 'evil_os_system.pth', 'evil_eval.pt', 'evil_eval.pth']) {
  test(`hostile pickle refused, nothing run: ${file}`, async () => {
    const markers = ['/tmp/simreg-pwned-os-system', '/tmp/simreg-pwned-eval'];
    for (const m of markers) rmSync(m, { force: true });
    let err: Error | null = null;
    try { await (await openTorchFile(fx(file))).close(); } catch (e) { err = e as Error; }
    assert.instance(err, PickleError);
    const global = file.includes("os_system") ? /(posix|os)\.system/ : /(__builtin__|builtins)\.eval/;
    assert.match(err!.message, global);
    assert.match(err!.message, /refuses to unpickle the global .*nothing of it was run or built here/);
    assert.ok(err!.message.startsWith(fx(file)), err!.message);
    for (const m of markers) assert.not.ok(existsSync(m), `${m} was created: the pickle ran`);
  });
}

test('a whole pickled nn.Module is refused with what to do instead', async () => {
  try { await openTorchFile(fx('whole_module.pt')); assert.unreachable('should refuse'); } catch (e) {
    assert.match((e as Error).message, /refuses torch\.nn\.modules\.conv\.Conv2d: the file pickles a whole model object, not a state dict; in PyTorch, .*torch\.save\(model\.state_dict\(\), path\)/);
  }
});

const tmp = mkdtempSync(join(tmpdir(), 'simreg-torch-'));
const bytesOf = (n: string) => readFileSync(fx(n));

test('broken archives and pickles give errors naming the file and the problem', async () => {
  const cases: [string, Uint8Array, RegExp][] = [];
  const zip = bytesOf('resnet18_w16.pt'), legacy = bytesOf('resnet18_w16.pth');
  for (const cut of [10, 200, Math.floor(zip.length / 2), zip.length - 30]) cases.push([`zip-cut-${cut}.pt`, zip.subarray(0, cut), /not a readable zip archive|truncated|end of central directory/i]);
  for (const cut of [3, 40, 200, Math.floor(legacy.length / 2), legacy.length - 8]) cases.push([`legacy-cut-${cut}.pth`, legacy.subarray(0, cut), /truncated/]);
  // A wrong magic number: the first pickle's LONG1 payload altered.
  const bad = Uint8Array.from(legacy); bad[5] = bad[5]! ^ 0xff;
  cases.push(['wrong-magic.pth', bad, /wrong magic number .*not a torch\.save file/]);
  cases.push(['not-torch.pt', new TextEncoder().encode('hello, this is not a checkpoint'), /not a torch\.save file/]);
  for (const [name, data, re] of cases) {
    const p = join(tmp, name);
    writeFileSync(p, data);
    let err: Error | null = null;
    try {
      const f = await openTorchFile(p);
      // Truncation late in a legacy file shows when the cut storage is read.
      for (const t of [...((f.root instanceof Map ? f.root : new Map()).values())]) if (t instanceof TorchTensor) await f.read(t);
      await f.close();
    } catch (e) { err = e as Error; }
    assert.ok(err, `${name} was accepted`);
    assert.ok(err!.message.includes(p), `${name}: message does not name the file: ${err!.message}`);
    assert.match(err!.message, re, name);
  }
});

test('a zip with a storage entry missing, and a storage shorter than its tensor', async () => {
  // Rename one data entry inside the archive (same length, so offsets stay valid): data/3 -> data/X.
  const zip = Buffer.from(bytesOf('views.pt'));
  const name = Buffer.from('views/data/3');
  let at = zip.indexOf(name);
  while (at >= 0) { zip[at + name.length - 1] = 'X'.charCodeAt(0); at = zip.indexOf(name, at + 1); }
  const p = join(tmp, 'missing-entry.pt');
  writeFileSync(p, zip);
  try { await openTorchFile(p); assert.unreachable('accepted'); } catch (e) {
    assert.match((e as Error).message, /storage 3 is named in .*data\.pkl but the archive has no entry views\/data\/3/);
  }
  // Legacy: shrink the element count of the last storage by rewriting its 8-byte size (the pickle still says more).
  const src = bytesOf('views.pth');
  const p2 = join(tmp, 'short-storage.pth');
  copyFileSync(fx('views.pth'), p2);
  const f = await openTorchFile(p2);
  await f.close();
  const buf = Buffer.from(src);
  // The storage sizes follow the pickles; find the first by scanning for a little-endian count of the 'base' storage (24).
  const pos = buf.indexOf(Buffer.from([24, 0, 0, 0, 0, 0, 0, 0]));
  assert.ok(pos > 0);
  buf.writeBigInt64LE(23n, pos);
  writeFileSync(p2, buf);
  try { await openTorchFile(p2); assert.unreachable('accepted'); } catch (e) {
    assert.match((e as Error).message, /storage \S+ holds 23 elements, the pickle says 24/);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
