// PyTorch's own files as teachers and weights: ResNet-18/50 (1/16 width) and MobileNet-v2 (0.25) saved by real
// PyTorch in both torch.save formats, as float32, float16 and bfloat16, load by name and reproduce PyTorch's
// eval-mode outputs for a fixed input; MoCo-v2, DINO and SwAV checkpoints give their backbone (and MoCo's
// head); mismatches name the closest keys and the flag to try. Fixtures: scripts/make-torch-fixtures.py.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/nn/registry.js';
import { loadWeights } from '../../src/nn/weights.js';
import { loadTeacher } from '../../src/distill/models.js';
import { Tensor } from '../../src/autograd/tensor.js';
import { noGrad } from '../../src/autograd/scope.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';

const FIX = join(process.cwd(), 'test', 'fixtures', 'torch');
const fx = (n: string) => join(FIX, n);

test.before(setupGpu);
test.after(teardownGpu);

async function input(): Promise<Tensor> {
  const { tensors } = await readSafetensors(fx('input.safetensors'));
  const x = tensors.get('x')!;
  return Tensor.fromArray(x.data, x.shape);
}

/** max |got - want| / max |want|: float32 forward passes of the same weights agree to ~1e-6 of the scale. */
function relErr(got: Float32Array, want: Float32Array): number {
  assert.is(got.length, want.length);
  let d = 0, m = 0;
  for (let i = 0; i < got.length; i++) { d = Math.max(d, Math.abs(got[i]! - want[i]!)); m = Math.max(m, Math.abs(want[i]!)); }
  return d / m;
}

const MODELS: [string, string, number][] = [['resnet18_w16', 'resnet18', 1 / 16], ['resnet50_w16', 'resnet50', 1 / 16], ['mobilenet_v2_w025', 'mobilenet_v2', 0.25]];

for (const [name, arch, width] of MODELS) {
  test(`${name}: PyTorch's files (zip and legacy; f32, f16, bf16) reproduce PyTorch's outputs`, async () => {
    const x = await input();
    const outs = (await readSafetensors(fx(`${name}.out.safetensors`))).tensors;
    for (const [tag, ref] of [['', 'f32'], ['_f16', 'f16'], ['_bf16', 'bf16']] as const) {
      for (const ext of ['.pt', '.pth']) {
        const m = createModel(arch, { widthMultiplier: width, numClasses: 10 });
        const report = await loadWeights(m, fx(`${name}${tag}${ext}`));
        assert.is(report.strip, '');
        m.eval();
        const y = noGrad(() => m.forward(x));
        const err = relErr(await y.read(), outs.get(ref)!.data);
        // F32: PyTorch's own outputs to 1e-5 relative. The F16/BF16 copies are compared with PyTorch's outputs of the
        // same rounded weights, computed in float32: the same bound holds.
        assert.ok(err < 1e-5, `${name}${tag}${ext}: relative error ${err}`);
        console.log(`# ${name}${tag}${ext}: max relative error ${err.toExponential(2)}`);
        y.dispose();
        m.dispose();
      }
    }
    x.dispose();
  });
}

test('a MoCo-v2 .pth.tar (legacy) and its zip twin: query-encoder backbone and its MLP head as the teacher', async () => {
  const x = await input();
  const outs = (await readSafetensors(fx('moco_v2.out.safetensors'))).tensors;
  for (const file of ['moco_v2.pth.tar', 'moco_v2.pth.tar.zip']) {
    const t = await loadTeacher(fx(file), { arch: 'resnet18', widthMultiplier: 1 / 16 });
    assert.match(t.report.layout, /MoCo v1\/v2/);
    assert.is(t.report.key, 'state_dict');
    assert.is(t.report.strip, 'module.encoder_q.');
    assert.ok(t.hasHead, 'fc.0 / fc.2 kept as the projection head');
    assert.ok(t.report.outside > 100, 'encoder_k and the queue are not read');
    const f = noGrad(() => t.encoder.features(x));
    const e = noGrad(() => t.encoder.forward(x));
    assert.ok(relErr(await f.read(), outs.get('features')!.data) < 1e-5, `${file} features`);
    assert.ok(relErr(await e.read(), outs.get('embedding')!.data) < 1e-5, `${file} embedding`);
    for (const v of [f, e]) v.dispose();
    t.encoder.dispose();
  }
  x.dispose();
});

test('DINO (teacher backbone by default, the student with --key) and SwAV checkpoints', async () => {
  const x = await input();
  const want = (await readSafetensors(fx('dino_swav.out.safetensors'))).tensors.get('features')!.data;
  const spec = { arch: 'resnet18', widthMultiplier: 1 / 16 };
  for (const [file, key, layout] of [['dino.pth', undefined, /DINO \(teacher backbone\)/], ['dino.pth', 'student', /DINO \(student backbone\)/], ['swav.pth', undefined, /SwAV/]] as const) {
    const t = await loadTeacher(fx(file), spec, { key });
    assert.match(t.report.layout, layout);
    assert.not.ok(t.hasHead);
    const f = noGrad(() => t.encoder.features(x));
    assert.ok(relErr(await f.read(), want) < 1e-5, `${file} ${key ?? ''}`);
    f.dispose();
    t.encoder.dispose();
  }
  x.dispose();
});

test('mismatches: the wrong architecture, key or prefix is named with the closest keys and the flag to try', async () => {
  const spec = { arch: 'resnet50', widthMultiplier: 1 / 16 };
  try { await loadTeacher(fx('resnet18_w16.pt'), spec); assert.unreachable(); } catch (e) {
    const m = (e as Error).message;
    assert.match(m, /^teacher .*resnet18_w16\.pt does not match resnet50 x0.0625, 3 input channels: /);
    assert.match(m, /missing \d+ key\(s\) the model expects: "layer1\.0\.conv3\.weight"/);
    assert.match(m, /closest names in the file to "layer1\.0\.conv3\.weight": "layer1\.0\.conv\d\.weight"/);
    assert.match(m, /Is the architecture right\?/);
    assert.match(m, /Try --strip/);
  }
  try { await loadTeacher(fx('moco_v2.pth.tar'), { arch: 'resnet18', widthMultiplier: 1 / 16 }, { key: 'nope', role: 'weights' }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, /^weights .*moco_v2\.pth\.tar: --key nope: no key "nope" at the top level \(keys there: epoch, arch, state_dict, optimizer, args\)/);
  }
  try { await loadTeacher(fx('moco_v2.pth.tar'), { arch: 'resnet18', widthMultiplier: 1 / 16 }, { strip: 'module.encoder_k.' }); } catch (e) {
    assert.unreachable(`encoder_k is a valid (if odd) choice: ${(e as Error).message}`);
  }
  try { await loadTeacher(fx('moco_v2.pth.tar'), { arch: 'resnet18', widthMultiplier: 1 / 16 }, { strip: 'encoder.' }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, /--strip "encoder\.": no name starts with it/);
  }
  try { await loadTeacher(fx('dino.pth'), { arch: 'resnet18', widthMultiplier: 1 / 16 }, { key: 'dino_loss' }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, /Try --key \(tensors are found under student \(123\), teacher \(123\), dino_loss \(1\); this used dino_loss\)/);
  }
});

test('num_batches_tracked may be missing or [] / [1] (PyTorch\'s strict load accepts both), in the API as from files', async () => {
  const m = createModel('resnet18', { widthMultiplier: 1 / 16, numClasses: 10 });
  const sd = await m.stateDict();
  const counters = [...sd.keys()].filter((k) => k.endsWith('num_batches_tracked'));
  assert.ok(counters.length > 0);
  const without = new Map([...sd].filter(([k]) => !k.endsWith('num_batches_tracked')));
  m.loadStateDict(without);
  const asOne = new Map([...sd].map(([k, v]) => [k, k.endsWith('num_batches_tracked') ? { ...v, shape: [1] } : v]));
  m.loadStateDict(asOne);
  const asScalar = new Map([...sd].map(([k, v]) => [k, k.endsWith('num_batches_tracked') ? { ...v, shape: [] } : v]));
  m.loadStateDict(asScalar);
  assert.throws(() => m.loadStateDict(new Map([...sd].map(([k, v]) => [k, k === 'fc.weight' ? { ...v, dtype: 'I64' } : v]))), /key "fc\.weight": dtype I64, a floating-point parameter needs F32, F16, BF16 or F64/);
  m.dispose();
});

test.run();
