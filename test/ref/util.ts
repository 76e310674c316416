// Assertions shared by the ref tests.
import * as assert from 'uvu/assert';
import { assertGradOk, gradcheck, type GradcheckOptions } from '../helpers/gradcheck.js';

/** Element-wise |a - e| <= tol * max(1, |e|); the message names the first bad index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12, label = ''): void {
  assert.is(actual.length, expected.length, `${label}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      assert.unreachable(`${label}: index ${i}: got ${a}, expected ${e} (tol ${tol})`);
    }
  }
}

export function assertNum(actual: number, expected: number, tol = 1e-12, label = ''): void {
  assertClose([actual], [expected], tol, label);
}

/** Expects `fn` to throw an Error whose message contains `name` (the function's name). */
export function assertThrowsNamed(fn: () => unknown, name: string): void {
  let msg: string | null = null;
  try { fn(); } catch (e) { msg = e instanceof Error ? e.message : String(e); }
  if (msg === null) assert.unreachable(`expected ${name} to throw`);
  else assert.ok(msg.includes(name), `error message should name ${name}: "${msg}"`);
}

/** Runs gradcheck with the float64 defaults (or opts) and fails with the worst coordinate. */
export async function checkGrad(
  label: string,
  f: (xs: Float64Array[]) => ArrayLike<number>,
  grad: (xs: Float64Array[], r: Float64Array) => ArrayLike<number>[],
  xs: Float64Array[],
  opts: GradcheckOptions = {},
): Promise<void> {
  const res = await gradcheck(f, grad, xs, opts);
  assertGradOk(res, label);
  // Guard against a vacuous pass: something was actually compared.
  assert.ok(res.checked > 0, `${label}: no coordinates checked`);
}
