// Asking for more device memory than the adapter allows gives a DeviceMemoryError naming the size and
// the limit (the command line turns it into exit code 4 with advice), and the pool stays usable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setupGpu, teardownGpu } from '../helpers/gpu.js';
import { pool, DeviceMemoryError } from '../../src/gpu/pool.js';
import { gpuContext } from '../../src/gpu/device.js';
import { Tensor } from '../../src/autograd/tensor.js';

test.before(setupGpu);
test.after(teardownGpu);

test('a buffer over maxBufferSize is refused with the sizes named', async () => {
  const max = Number(gpuContext().limits.maxBufferSize);
  let err: Error | null = null;
  try { pool.acquire(max + 1024); } catch (e) { err = e as Error; }
  assert.ok(err instanceof DeviceMemoryError, String(err));
  assert.match(err!.message, /out of device memory: a [\d.]+ MiB buffer exceeds this adapter's maxBufferSize/);
  let err2: Error | null = null;
  try { Tensor.empty([Math.ceil(max / 4) + 1024]); } catch (e) { err2 = e as Error; }
  assert.ok(err2 instanceof DeviceMemoryError);
  const t = Tensor.fromArray([1, 2, 3], [3]);
  assert.equal(Array.from(await t.read()), [1, 2, 3]);
  t.dispose();
});

test('a tensor larger than the adapter binds at once is refused at creation, naming its shape and the limit', () => {
  const bind = Number(gpuContext().limits.maxStorageBufferBindingSize);
  const rows = Math.ceil(bind / 4 / 1024) + 1;
  const before = pool.stats.bytesAllocated;
  let err: Error | null = null;
  try { Tensor.empty([rows, 1024]); } catch (e) { err = e as Error; }
  assert.ok(err instanceof DeviceMemoryError, String(err));
  assert.match(err!.message, new RegExp(`a \\[${rows}, 1024\\] tensor needs one buffer of \\d+ MiB, more than this adapter binds at once \\(maxStorageBufferBindingSize \\d+ MiB\\)`));
  assert.is(pool.stats.bytesAllocated, before, 'nothing allocated');
});

test.run();
