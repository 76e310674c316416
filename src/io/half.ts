// IEEE binary16 (F16) and bfloat16 (BF16) <-> binary32 (F32) conversions.
//
// Narrowing rounds to nearest, ties to even, on the float32 value (inputs are
// Math.fround-ed first: the data this engine stores are float32, and a direct
// double -> half rounding could differ from float32 -> half by a double
// rounding). Overflow goes to +-infinity, values below half the smallest
// subnormal go to +-0. NaN stays NaN: the top payload bits are kept, and a
// payload that would vanish becomes a quiet NaN. The bulk versions work on
// bit patterns, so float32 NaN payloads survive a widen -> narrow round trip.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of the float32 nearest to x. */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/** The float32 whose bits are u, as a number. */
export function f32FromBits(u: number): number {
  scratchU32[0] = u >>> 0;
  return scratchF32[0]!;
}

/** float32 bits -> binary16 bits, round to nearest even. */
export function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    const payload = mant >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  // Half exponent field for this value when normal (bias 15 vs 127).
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): the half mantissa is m * 2^(e - 14) with the implicit bit restored.
    // Float32 zeros and subnormals (exp 0) are far below 2^-25 and also land in the shift > 24 branch.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let q = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (q & 1) === 1)) q++;
    return sign | q; // q = 0x400 is the smallest normal: the carry is right as is
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is right, up to inf
  return sign | h;
}

/** binary16 bits -> float32 bits (exact). */
export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalise into a float32 normal.
  let m = mant;
  let e = 113; // float32 exponent field of 2^-14
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** float32 bits -> bfloat16 bits, round to nearest even. */
export function f32BitsToBf16(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) {
    const h = u >>> 16;
    return (h & 0x7f) === 0 ? h | 0x40 : h;
  }
  // Adding 0x7fff plus the kept lsb rounds to nearest even; overflow carries into inf.
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits -> float32 bits (exact: bf16 is the top half of a float32). */
export function bf16ToF32Bits(h: number): number {
  return ((h & 0xffff) << 16) >>> 0;
}

/** binary16 bits -> value. */
export function f16ToF32(h: number): number {
  return f32FromBits(f16ToF32Bits(h));
}

/** Value (rounded to float32 first) -> binary16 bits. */
export function f32ToF16(x: number): number {
  return f32BitsToF16(f32Bits(x));
}

/** bfloat16 bits -> value. */
export function bf16ToF32(h: number): number {
  return f32FromBits(bf16ToF32Bits(h));
}

/** Value (rounded to float32 first) -> bfloat16 bits. */
export function f32ToBf16(x: number): number {
  return f32BitsToBf16(f32Bits(x));
}

// A 256 KB table makes bulk F16 decoding a single lookup per element.
let f16Table: Uint32Array | null = null;
function f16Lut(): Uint32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32Bits(h);
  }
  return f16Table;
}

/** Widen binary16 bit patterns into dst (bit-exact, NaN payloads kept). */
export function f16ArrayToF32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  if (dst.length !== src.length) throw new RangeError(`f16ArrayToF32: dst has ${dst.length} elements, src ${src.length}`);
  const lut = f16Lut();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]!]!;
  return dst;
}

/** Widen bfloat16 bit patterns into dst (bit-exact). */
export function bf16ArrayToF32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  if (dst.length !== src.length) throw new RangeError(`bf16ArrayToF32: dst has ${dst.length} elements, src ${src.length}`);
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
  return dst;
}

/** Narrow float32 values to binary16 bit patterns (round to nearest even). */
export function f32ArrayToF16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  if (dst.length !== src.length) throw new RangeError(`f32ArrayToF16: dst has ${dst.length} elements, src ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToF16(bits[i]!);
  return dst;
}

/** Narrow float32 values to bfloat16 bit patterns (round to nearest even). */
export function f32ArrayToBf16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  if (dst.length !== src.length) throw new RangeError(`f32ArrayToBf16: dst has ${dst.length} elements, src ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToBf16(bits[i]!);
  return dst;
}
