// The comparison every GPU test uses: NaN and infinities must agree on both sides. A twin that returns NaN where
// the GPU computed a number used to pass (|g - NaN| > tol is false); it must fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compare, assertClose } from '../helpers/gpu.js';

test('compare: NaN on either side alone fails, NaN on both passes, infinities must be equal', () => {
  assert.not.ok(compare([1, 2], [1, NaN], 1e-6, 1e-6).ok, 'finite GPU value vs NaN twin');
  assert.not.ok(compare([NaN], [1], 1e-6, 1e-6).ok, 'NaN GPU value vs finite twin');
  assert.ok(compare([NaN, 3], [NaN, 3], 1e-6, 1e-6).ok);
  assert.not.ok(compare([Infinity], [1e30], 1e-6, 1e-6).ok);
  assert.not.ok(compare([1e30], [Infinity], 1e-6, 1e-6).ok);
  assert.not.ok(compare([-Infinity], [Infinity], 1e-6, 1e-6).ok);
  assert.ok(compare([Infinity, -Infinity], [Infinity, -Infinity], 1e-6, 1e-6).ok);
  assert.ok(compare([1, 2.0000001], [1, 2], 1e-6, 1e-6).ok);
  assert.throws(() => assertClose('twin NaN', [0.5], [NaN], 1, 1), /twin NaN: mismatch \(index 0: got 0\.5, want NaN/);
});

test.run();
