// F16 / BF16 <-> F32 conversions: exhaustive over all 16-bit patterns, every rounding boundary,
// and random float32 bit patterns against an independent nearest-value search.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bf16ArrayToF32, bf16ToF32, bf16ToF32Bits, f16ArrayToF32, f16ToF32, f16ToF32Bits, f32ArrayToBf16, f32ArrayToF16,
  f32Bits, f32BitsToBf16, f32BitsToF16, f32FromBits, f32ToBf16, f32ToF16,
} from '../../src/io/index.js';

const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBf = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

// Value of a half from its definition, in float64 arithmetic.
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

test('f16 -> f32 matches the definition for all 65536 patterns', () => {
  for (let h = 0; h < 65536; h++) {
    const v = f16ToF32(h);
    const want = halfValue(h);
    if (Number.isNaN(want)) {
      assert.ok(Number.isNaN(v), `0x${h.toString(16)}`);
    } else if (v !== want || Object.is(v, -0) !== Object.is(want, -0)) {
      assert.unreachable(`0x${h.toString(16)}: got ${v}, want ${want}`);
    }
  }
  assert.is(f16ToF32(0x3c00), 1);
  assert.is(f16ToF32(0xc000), -2);
  assert.is(f16ToF32(0x7bff), 65504);
  assert.is(f16ToF32(0x0001), 2 ** -24);
  assert.is(f16ToF32(0x03ff), 1023 * 2 ** -24);
  assert.is(f16ToF32(0x0400), 2 ** -14);
  assert.is(f16ToF32(0x7c00), Infinity);
  assert.is(f16ToF32(0xfc00), -Infinity);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
});

test('f16 -> f32 -> f16 is the identity on all 65536 patterns (NaN payloads included)', () => {
  for (let h = 0; h < 65536; h++) {
    const back = f32BitsToF16(f16ToF32Bits(h));
    if (back !== h) assert.unreachable(`0x${h.toString(16)} came back as 0x${back.toString(16)}`);
    // The value path too (NaN payloads need not survive a JS number, so compare NaN-ness there).
    const viaValue = f32ToF16(f16ToF32(h));
    if (isNaN16(h) ? !isNaN16(viaValue) : viaValue !== h) assert.unreachable(`value path 0x${h.toString(16)} -> 0x${viaValue.toString(16)}`);
  }
});

test('f32 -> f16 rounds every midpoint to even and its neighbours to the nearer half', () => {
  // Adjacent finite positive halves a < b (including the subnormal range and 65504 -> inf).
  for (let a = 0; a < 0x7c00; a++) {
    const b = a + 1;
    const va = halfValue(a);
    const vb = b === 0x7c00 ? 65536 : halfValue(b); // the would-be next value above 65504
    const mid = (va + vb) / 2; // exact in float32: one bit more than a half mantissa
    const midBits = f32Bits(mid);
    assert.is(f32FromBits(midBits), mid);
    const even = (a & 1) === 0 ? a : b;
    for (const sign of [0, 0x8000]) {
      const s = sign ? 0x80000000 : 0;
      if (f32BitsToF16((midBits | s) >>> 0) !== (even | sign)) assert.unreachable(`midpoint of 0x${a.toString(16)}: want 0x${(even | sign).toString(16)}`);
      if (f32BitsToF16(((midBits - 1) | s) >>> 0) !== (a | sign)) assert.unreachable(`just below midpoint of 0x${a.toString(16)}`);
      if (f32BitsToF16(((midBits + 1) | s) >>> 0) !== (b | sign)) assert.unreachable(`just above midpoint of 0x${a.toString(16)}`);
    }
  }
});

test('f32 -> f16 special cases: overflow, underflow, zeros, NaN, infinities', () => {
  assert.is(f32ToF16(65504), 0x7bff);
  assert.is(f32ToF16(65519.99), 0x7bff);
  assert.is(f32ToF16(65520), 0x7c00);
  assert.is(f32ToF16(3.4e38), 0x7c00);
  assert.is(f32ToF16(-1e10), 0xfc00);
  assert.is(f32ToF16(Infinity), 0x7c00);
  assert.is(f32ToF16(-Infinity), 0xfc00);
  assert.is(f32ToF16(0), 0);
  assert.is(f32ToF16(-0), 0x8000);
  assert.is(f32ToF16(2 ** -25), 0); // tie between 0 and the smallest subnormal: even is 0
  assert.is(f32ToF16(-(2 ** -25)), 0x8000);
  assert.is(f32ToF16(2 ** -25 * (1 + 2 ** -23)), 1);
  assert.is(f32ToF16(3 * 2 ** -25), 2); // tie between 1 and 2 ulps: even is 2
  assert.is(f32ToF16(2 ** -26), 0);
  assert.is(f32ToF16(f32FromBits(1)), 0); // float32 subnormal
  assert.is(f32ToF16(1 / 3), 0x3555);
  assert.ok(isNaN16(f32ToF16(NaN)));
  // A float32 NaN whose payload lives only in the low bits stays NaN (quiet), sign kept.
  assert.is(f32BitsToF16(0x7f800001), 0x7e00);
  assert.is(f32BitsToF16(0xff800001), 0xfe00);
  assert.is(f32BitsToF16(0x7fc00000), 0x7e00);
});

// Independent reference: the nearest finite half by binary search over all positive halves, ties to
// even, overflow to infinity at 65520 (the midpoint to the would-be 65536).
const positives = Array.from({ length: 0x7c00 }, (_, h) => halfValue(h));
function refF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = positives.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (positives[mid]! <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === positives.length - 1) return sign | lo; // between 65504 and 65520: rounds down
  const dLo = a - positives[lo]!;
  const dHi = positives[lo + 1]! - a;
  const pick = dLo < dHi ? lo : dHi < dLo ? lo + 1 : (lo & 1) === 0 ? lo : lo + 1;
  return sign | pick;
}

test('f32 -> f16 agrees with a nearest-value search on 200k random float32 bit patterns', () => {
  let x = 12345;
  for (let i = 0; i < 200000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    // Bias the exponents into and around the half range so most samples are interesting.
    let u = x >>> 0;
    if (i % 2 === 0) u = ((u & 0x807fffff) | ((96 + ((u >>> 23) % 48)) << 23)) >>> 0;
    const v = f32FromBits(u);
    const got = f32BitsToF16(u);
    if (Number.isNaN(v)) {
      if (!isNaN16(got)) assert.unreachable(`NaN 0x${u.toString(16)}`);
      continue;
    }
    const want = refF16(v);
    if (got !== want) assert.unreachable(`0x${u.toString(16)} (${v}): got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  }
});

test('bf16: widening is exact, round trip is the identity on all 65536 patterns', () => {
  for (let h = 0; h < 65536; h++) {
    assert.is(bf16ToF32Bits(h), (h << 16) >>> 0);
    const v = bf16ToF32(h);
    if (!isNaNBf(h) && !Object.is(v, f32FromBits((h << 16) >>> 0))) assert.unreachable(`0x${h.toString(16)}`);
    const back = f32BitsToBf16(bf16ToF32Bits(h));
    if (back !== h) assert.unreachable(`0x${h.toString(16)} came back as 0x${back.toString(16)}`);
  }
});

test('f32 -> bf16 rounds midpoints to even, neighbours to nearest, overflow to inf, NaN stays NaN', () => {
  for (let a = 0; a < 0x7f80; a++) {
    const even = (a & 1) === 0 ? a : a + 1;
    const mid = ((a << 16) + 0x8000) >>> 0;
    for (const s of [0, 0x80000000]) {
      const sign = s ? 0x8000 : 0;
      if (f32BitsToBf16((mid | s) >>> 0) !== (even | sign)) assert.unreachable(`midpoint above 0x${a.toString(16)}`);
      if (f32BitsToBf16(((mid - 1) | s) >>> 0) !== (a | sign)) assert.unreachable(`below midpoint above 0x${a.toString(16)}`);
      if (f32BitsToBf16(((mid + 1) | s) >>> 0) !== ((a + 1) | sign)) assert.unreachable(`above midpoint above 0x${a.toString(16)}`);
    }
  }
  assert.is(f32ToBf16(1), 0x3f80);
  assert.is(f32ToBf16(-2), 0xc000);
  assert.is(f32BitsToBf16(0x7f7fffff), 0x7f80); // float32 max rounds up to inf
  assert.is(f32ToBf16(Infinity), 0x7f80);
  assert.is(f32ToBf16(-0), 0x8000);
  assert.is(f32BitsToBf16(1), 0); // smallest float32 subnormal
  assert.is(f32BitsToBf16(0x7f800001), 0x7fc0); // payload only in the dropped bits: quiet NaN
  assert.is(f32BitsToBf16(0x7fa00000), 0x7fa0); // payload kept
  assert.ok(isNaNBf(f32ToBf16(NaN)));
});

test('array conversions agree with the scalar ones and keep NaN payloads', () => {
  const halves = new Uint16Array(65536).map((_, i) => i);
  const wide = f16ArrayToF32(halves);
  const wideBits = new Uint32Array(wide.buffer);
  for (let h = 0; h < 65536; h++) if (wideBits[h] !== f16ToF32Bits(h)) assert.unreachable(`f16 0x${h.toString(16)}`);
  assert.equal(Array.from(f32ArrayToF16(wide)), Array.from(halves));
  const wideBf = bf16ArrayToF32(halves);
  assert.equal(Array.from(f32ArrayToBf16(wideBf)), Array.from(halves));
  // Subarray views with a byte offset convert the right elements.
  const src = new Float32Array([9, 1, -2, 0.5]).subarray(1);
  assert.equal(Array.from(f32ArrayToF16(src)), [0x3c00, 0xc000, 0x3800]);
  const dst = new Float32Array(5).subarray(2);
  f16ArrayToF32(new Uint16Array([0x3c00, 0xc000, 0x3800]), dst);
  assert.equal(Array.from(dst), [1, -2, 0.5]);
  assert.throws(() => f16ArrayToF32(new Uint16Array(2), new Float32Array(3)), /dst has 3/);
});

test.run();
