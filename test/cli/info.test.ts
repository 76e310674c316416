// The command line: `simreg info` reports the adapter and exits cleanly (a crash at Dawn teardown fails this),
// unknown commands exit 2 with the usage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');

test('simreg info prints the adapter and exits 0, five times in a row', () => {
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8' });
    assert.is(r.status, 0, `run ${i}: exit ${r.status} signal ${r.signal}\n${r.stderr}`);
    assert.match(r.stdout, /adapter:/);
    assert.match(r.stdout, /maxStorageBufferBindingSize\s+\d+/);
  }
});

test('simreg info lists lavapipe and SwiftShader and the variant tables; SIMREG_ADAPTER picks either', () => {
  for (const [asked, subgroups] of [['lavapipe', '8-8'], ['swiftshader', '4-4']] as const) {
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, SIMREG_ADAPTER: asked } });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\s+\*? ?lavapipe\s+llvmpipe/m);
    assert.match(r.stdout, /^\s+\*? ?swiftshader\s+SwiftShader/m);
    assert.match(r.stdout, new RegExp(`^  \\* ${asked}\\b`, 'm'), `${asked} marked in use:\n${r.stdout}`);
    assert.match(r.stdout, new RegExp(`subgroup sizes ${subgroups}`));
    assert.match(r.stdout, /^\s+gemm\s+sg_v4, sg, tiled, wgtile$/m);
    assert.match(r.stdout, /^\s+conv2d\.bwd_data\s+gemm1x1, igemm_v4, gemm1x1_scatter, igemm_phases, igemm, igemm_dilated, winograd, direct$/m);
  }
  // Without SIMREG_ADAPTER the choice is Dawn's own, whatever the listing exposed: lavapipe here.
  const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8' });
  assert.match(r.stdout, /^  \* lavapipe\b/m, r.stdout);
});

test('SIMREG_ADAPTER naming no adapter exits 1, listing the adapters found', () => {
  const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, SIMREG_ADAPTER: 'no-such-gpu' } });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /SIMREG_ADAPTER=no-such-gpu: no such adapter here; found: .*lavapipe \(llvmpipe/);
  assert.match(r.stderr, /swiftshader \(SwiftShader Device/);
});

test('unknown command exits 2 and prints usage', () => {
  const r = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.match(r.stderr, /usage: simreg/);
});

test('no usable adapter: the error says what to install, exit 1', () => {
  const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, SIMREG_DAWN_TOGGLES: 'adapter=no-such-adapter' } });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /No WebGPU adapter found/);
  assert.match(r.stderr, /mesa-vulkan-drivers/);
});

test.run();
