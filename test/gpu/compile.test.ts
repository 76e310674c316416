// Every reflected kernel compiles on this adapter with its default overrides (errors name kernel and line),
// and the generated specs agree with the conventions build.mjs enforces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernels } from '../../src/gen/kernels.gen.js';
import type { KernelSpec } from '../../src/gpu/spec.js';
import { getPipeline, stream } from '../../src/gpu/stream.js';
import { gpuContext } from '../../src/gpu/device.js';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';

test.before(setupGpu);
test.after(teardownGpu);

const specs = Object.values(kernels) as KernelSpec[];

test('specs: binding 0 is Params, inputs read-only before outputs, names match files', () => {
  assert.ok(specs.length >= 25, `only ${specs.length} kernels reflected`);
  for (const s of specs) {
    assert.is(s.bindings[0]!.type, 'uniform', s.name);
    const types = s.bindings.slice(1).map((b) => b.type);
    const firstOut = types.indexOf('storage');
    assert.ok(firstOut >= 0, `${s.name} has no output`);
    assert.ok(types.slice(firstOut).every((t) => t === 'storage'), `${s.name}: an input follows an output`);
    assert.ok(s.file.endsWith(`/${s.name}.wgsl`), `${s.name} lives in ${s.file}`);
    assert.ok(s.params.size % 16 === 0 && s.params.size >= 16, `${s.name} params size ${s.params.size}`);
  }
});

test('every kernel compiles and builds a pipeline with its defaults', async () => {
  const sub = gpuContext().features.has('subgroups');
  let built = 0;
  for (const s of specs) {
    if (/enable subgroups/.test(s.source) && !sub) continue;
    getPipeline(s.name as keyof typeof kernels);
    built++;
  }
  await stream.sync();
  assert.ok(built >= (sub ? specs.length : 1));
});

test.run();
