// Host-side augmentation kernels, written in AssemblyScript with 128-bit SIMD
// (four f32 lanes) and compiled by build.mjs into src/gen/augment_wasm.gen.ts.
// src/data/simd.ts owns the memory layout and calls these; the plain
// TypeScript functions of src/data/augment.ts are the reference they are
// tested against (test/data/simd.test.ts).
//
// Images are float planes (CHW) in [0, 1]; a plane holds H*W floats and
// planes sit `np` floats apart (np = H*W rounded up to a multiple of 4, so
// a 4-lane vector never straddles two planes). Sources are 8-bit HWC with
// at least 3 readable bytes after the last pixel (a 4-byte load per pixel).
// Every pointer is a byte address in this module's memory.

// ITU-R 601 luma weights (torchvision's rgb_to_grayscale).
const GR: f32 = 0.299;
const GG: f32 = 0.587;
const GB: f32 = 0.114;

/** First free byte after this module's own data: the host lays its buffers out from here. */
export function heapBase(): usize {
  return __heap_base;
}

// --------------------------------------------------------------- resample

@inline
function rgbx(p: usize): v128 {
  // Four bytes (R, G, B and the next pixel's first) to four floats.
  return f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p))));
}

/**
 * Bilinear resample of rows of an 8-bit HWC source (srcC 1 or 3) into outC
 * float planes (outC 3 from srcC 3; 1 from 3 as grey; 1 from 1), scaled
 * to [0, 1]. Column taps come precomputed: for each output column ox the
 * byte offsets i0[ox], i1[ox] of its two source pixels within a row and the
 * weight f[ox] of the second (a flip is already folded in). Rows are placed
 * like torchvision's bilinear (half-pixel centres, clamped at the edges).
 */
export function resample(
  src: usize, W: i32, H: i32, srcC: i32, outC: i32,
  i0: usize, i1: usize, f: usize, outW: i32, outH: i32,
  boxY: f64, stepY: f64, out: usize, np: i32,
): void {
  const rowStride = W * srcC;
  const planeBytes = <usize>np << 2;
  for (let oy = 0; oy < outH; oy++) {
    let sy = boxY + (<f64>oy + 0.5) * stepY - 0.5;
    if (sy < 0) sy = 0;
    if (sy > <f64>(H - 1)) sy = <f64>(H - 1);
    const y0 = <i32>Math.floor(sy);
    const y1 = y0 + 1 < H ? y0 + 1 : y0;
    const fy = sy - <f64>y0;
    // The 1/255 scale rides on the row weights.
    const wTop = <f32>((1 - fy) / 255);
    const wBot = <f32>(fy / 255);
    const r0 = src + <usize>(y0 * rowStride);
    const dr = <usize>((y1 - y0) * rowStride);
    const o = out + (<usize>(oy * outW) << 2);
    if (srcC == 3) {
      const vTop = f32x4.splat(wTop);
      const vBot = f32x4.splat(wBot);
      for (let ox = 0; ox < outW; ox++) {
        const k = <usize>ox << 2;
        const a = r0 + <usize>load<i32>(i0 + k);
        const b = r0 + <usize>load<i32>(i1 + k);
        const fx = load<f32>(f + k);
        const vf = f32x4.splat(fx);
        const vg = f32x4.splat(1 - fx);
        const top = f32x4.add(f32x4.mul(vg, rgbx(a)), f32x4.mul(vf, rgbx(b)));
        const bot = f32x4.add(f32x4.mul(vg, rgbx(a + dr)), f32x4.mul(vf, rgbx(b + dr)));
        const v = f32x4.add(f32x4.mul(top, vTop), f32x4.mul(bot, vBot));
        const r = f32x4.extract_lane(v, 0);
        const g = f32x4.extract_lane(v, 1);
        const bl = f32x4.extract_lane(v, 2);
        if (outC == 3) {
          store<f32>(o + k, r);
          store<f32>(o + k + planeBytes, g);
          store<f32>(o + k + 2 * planeBytes, bl);
        } else {
          store<f32>(o + k, GR * r + GG * g + GB * bl);
        }
      }
    } else {
      for (let ox = 0; ox < outW; ox++) {
        const k = <usize>ox << 2;
        const a = r0 + <usize>load<i32>(i0 + k);
        const b = r0 + <usize>load<i32>(i1 + k);
        const fx = load<f32>(f + k);
        const gx: f32 = 1 - fx;
        const top = gx * <f32>load<u8>(a) + fx * <f32>load<u8>(b);
        const bot = gx * <f32>load<u8>(a + dr) + fx * <f32>load<u8>(b + dr);
        store<f32>(o + k, top * wTop + bot * wBot);
      }
    }
  }
}

// ----------------------------------------------------------- colour jitter

// Op codes, as JitterOp in src/data/augment.ts.
const BRIGHTNESS = 0;
const SATURATION = 2;
const HUE = 3;

@inline
function clamp01(v: v128): v128 {
  return f32x4.pmin(f32x4.splat(1), f32x4.pmax(f32x4.splat(0), v));
}

/**
 * One sweep of colour jitter over the three planes at `p` (n pixels each,
 * planes np floats apart), in place: optional contrast first (x -> cf x +
 * coff, clamped), then `count` ops (brightness, saturation, hue), one per
 * byte of `ops` from the lowest, then optional grey. Returns the sum of the
 * result's grey values when `wantSum` (the contrast reference of a later sweep).
 */
export function jitter(
  p: usize, n: i32, np: i32,
  contrast: bool, cf: f32, coff: f32,
  ops: i32, count: i32,
  bf: f32, sf: f32, hueShift6: f32,
  grey: bool, wantSum: bool,
): f64 {
  const planeBytes = <usize>np << 2;
  const vbf = f32x4.splat(bf);
  const vsf = f32x4.splat(sf);
  const wr = f32x4.splat((1 - sf) * GR);
  const wg = f32x4.splat((1 - sf) * GG);
  const wb = f32x4.splat((1 - sf) * GB);
  const s6 = f32x4.splat(hueShift6);
  const vcf = f32x4.splat(cf);
  const vco = f32x4.splat(coff);
  const gr = f32x4.splat(GR);
  const gg = f32x4.splat(GG);
  const gb = f32x4.splat(GB);
  const zero = f32x4.splat(0);
  const six = f32x4.splat(6);
  const lane = i32x4(0, 1, 2, 3);
  let total: f64 = 0;
  let part = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const a = p + (<usize>i << 2);
    let R = v128.load(a);
    let G = v128.load(a + planeBytes);
    let B = v128.load(a + 2 * planeBytes);
    if (contrast) {
      R = clamp01(f32x4.add(f32x4.mul(vcf, R), vco));
      G = clamp01(f32x4.add(f32x4.mul(vcf, G), vco));
      B = clamp01(f32x4.add(f32x4.mul(vcf, B), vco));
    }
    // The same ops in the same order for every pixel of an image: the
    // branches below are predicted perfectly.
    for (let s = 0; s < count; s++) {
      const op = (ops >> (s << 3)) & 0xff;
      if (op == BRIGHTNESS) {
        R = clamp01(f32x4.mul(R, vbf));
        G = clamp01(f32x4.mul(G, vbf));
        B = clamp01(f32x4.mul(B, vbf));
      } else if (op == SATURATION) {
        const y = f32x4.add(f32x4.add(f32x4.mul(wr, R), f32x4.mul(wg, G)), f32x4.mul(wb, B));
        R = clamp01(f32x4.add(f32x4.mul(vsf, R), y));
        G = clamp01(f32x4.add(f32x4.mul(vsf, G), y));
        B = clamp01(f32x4.add(f32x4.mul(vsf, B), y));
      } else if (op == HUE) {
        // A pixel keeps its largest (hi) and smallest (lo) channel; the hue,
        // in sixths of a turn, picks which channel holds them and the middle value.
        const hi = f32x4.pmax(R, f32x4.pmax(G, B));
        const lo = f32x4.pmin(R, f32x4.pmin(G, B));
        const c = f32x4.sub(hi, lo);
        const hR = f32x4.div(f32x4.sub(G, B), c);
        const hG = f32x4.add(f32x4.splat(2), f32x4.div(f32x4.sub(B, R), c));
        const hB = f32x4.add(f32x4.splat(4), f32x4.div(f32x4.sub(R, G), c));
        let h = v128.bitselect(hR, v128.bitselect(hG, hB, f32x4.eq(hi, G)), f32x4.eq(hi, R));
        h = f32x4.add(h, s6);
        h = f32x4.sub(h, f32x4.mul(six, f32x4.floor(f32x4.div(h, six))));
        h = v128.bitselect(zero, h, f32x4.ge(h, six)); // rounding at the wrap
        const sector = f32x4.floor(h);
        const x = f32x4.mul(c, f32x4.sub(h, sector));
        const hix = f32x4.sub(hi, x);
        const lox = f32x4.add(lo, x);
        const s1 = f32x4.lt(sector, f32x4.splat(1));
        const s2 = f32x4.lt(sector, f32x4.splat(2));
        const s3 = f32x4.lt(sector, f32x4.splat(3));
        const s4 = f32x4.lt(sector, f32x4.splat(4));
        const s5 = f32x4.lt(sector, f32x4.splat(5));
        // Sectors 0..5: r = hi, hi-x, lo, lo, lo+x, hi; g = lo+x, hi, hi, hi-x, lo, lo; b = lo, lo, lo+x, hi, hi, hi-x.
        const r = v128.bitselect(hi, v128.bitselect(hix, v128.bitselect(lo, v128.bitselect(lox, hi, s5), s4), s2), s1);
        const g = v128.bitselect(lox, v128.bitselect(hi, v128.bitselect(hix, lo, s4), s3), s1);
        const b = v128.bitselect(lo, v128.bitselect(lox, v128.bitselect(hi, hix, s5), s3), s2);
        // Grey pixels (hi == lo) have no hue and stay as they are.
        const flat = f32x4.eq(c, zero);
        R = v128.bitselect(R, r, flat);
        G = v128.bitselect(G, g, flat);
        B = v128.bitselect(B, b, flat);
      }
    }
    if (grey) {
      const y = f32x4.add(f32x4.add(f32x4.mul(gr, R), f32x4.mul(gg, G)), f32x4.mul(gb, B));
      R = y;
      G = y;
      B = y;
    }
    v128.store(a, R);
    v128.store(a + planeBytes, G);
    v128.store(a + 2 * planeBytes, B);
    if (wantSum) {
      let y = f32x4.add(f32x4.add(f32x4.mul(gr, R), f32x4.mul(gg, G)), f32x4.mul(gb, B));
      // Padding lanes past n do not count.
      if (i + 4 > n) y = v128.and(y, i32x4.lt_s(i32x4.add(lane, i32x4.splat(i)), i32x4.splat(n)));
      part = f32x4.add(part, y);
      // Into the double total every 256 pixels, so long sums keep their precision.
      if ((i & 255) == 252 || i + 4 >= n) {
        total += <f64>f32x4.extract_lane(part, 0) + <f64>f32x4.extract_lane(part, 1) + <f64>f32x4.extract_lane(part, 2) + <f64>f32x4.extract_lane(part, 3);
        part = f32x4.splat(0);
      }
    }
  }
  return total;
}

// ------------------------------------------------------------------- blur

/**
 * Separable Gaussian blur of the W x H plane at `src`, then dst = scale *
 * blurred + shift (dst may be src). Taps w[0..r] (f32, w[k] for offsets
 * +-k); rx[i] is the reflected column of i - r for i in [0, W + 2r), ry the
 * reflected row of i - r for i in [0, H + 2r) (torchvision's 'reflect');
 * tmp holds W*H floats; taps (2r + 2 i32) is scratch for row offsets.
 */
export function blur(
  src: usize, dst: usize, tmp: usize, W: i32, H: i32,
  w: usize, r: i32, rx: usize, ry: usize, taps: usize,
  scale: f32, shift: f32,
): void {
  const w0 = load<f32>(w);
  if (r == 0 || W < 2 || H < 2) {
    // One tap (tiny sigma) or a degenerate image: only the affine map is left.
    const k = w0 * scale;
    for (let i = 0; i < W * H; i++) store<f32>(dst + (<usize>i << 2), k * load<f32>(src + (<usize>i << 2)) + shift);
    return;
  }
  const vw0 = f32x4.splat(w0);
  const lo = r < W ? r : W;
  const hi = W - r > lo ? W - r : lo;
  const rowBytes = <usize>W << 2;
  // Rows: src -> tmp.
  for (let y = 0; y < H; y++) {
    const row = src + <usize>y * rowBytes;
    const o = tmp + <usize>y * rowBytes;
    let x = lo;
    for (; x + 4 <= hi; x += 4) {
      const c = row + (<usize>x << 2);
      let acc = f32x4.mul(vw0, v128.load(c));
      for (let k = 1; k <= r; k++) {
        const kb = <usize>k << 2;
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(w + kb), f32x4.add(v128.load(c - kb), v128.load(c + kb))));
      }
      v128.store(o + (<usize>x << 2), acc);
    }
    for (; x < hi; x++) {
      const c = row + (<usize>x << 2);
      let acc = w0 * load<f32>(c);
      for (let k = 1; k <= r; k++) {
        const kb = <usize>k << 2;
        acc += load<f32>(w + kb) * (load<f32>(c - kb) + load<f32>(c + kb));
      }
      store<f32>(o + (<usize>x << 2), acc);
    }
    // The first and last r columns: reflected taps.
    for (let x = 0; x < W; x++) {
      if (x == lo) x = hi;
      if (x >= W) break;
      let acc = w0 * load<f32>(row + (<usize>x << 2));
      for (let k = 1; k <= r; k++) {
        const left = load<i32>(rx + (<usize>(x - k + r) << 2));
        const right = load<i32>(rx + (<usize>(x + k + r) << 2));
        acc += load<f32>(w + (<usize>k << 2)) * (load<f32>(row + (<usize>left << 2)) + load<f32>(row + (<usize>right << 2)));
      }
      store<f32>(o + (<usize>x << 2), acc);
    }
  }
  // Columns: tmp -> dst, whole rows as taps, then the affine map.
  const vs = f32x4.splat(scale);
  const vt = f32x4.splat(shift);
  for (let y = 0; y < H; y++) {
    for (let k = 1; k <= r; k++) {
      store<i32>(taps + (<usize>(2 * k) << 2), load<i32>(ry + (<usize>(y - k + r) << 2)) * W);
      store<i32>(taps + (<usize>(2 * k + 1) << 2), load<i32>(ry + (<usize>(y + k + r) << 2)) * W);
    }
    const c = tmp + <usize>y * rowBytes;
    const o = dst + <usize>y * rowBytes;
    let x = 0;
    for (; x + 4 <= W; x += 4) {
      const xb = <usize>x << 2;
      let acc = f32x4.mul(vw0, v128.load(c + xb));
      for (let k = 1; k <= r; k++) {
        const up = tmp + (<usize>load<i32>(taps + (<usize>(2 * k) << 2)) << 2) + xb;
        const dn = tmp + (<usize>load<i32>(taps + (<usize>(2 * k + 1) << 2)) << 2) + xb;
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(w + (<usize>k << 2)), f32x4.add(v128.load(up), v128.load(dn))));
      }
      v128.store(o + xb, f32x4.add(f32x4.mul(acc, vs), vt));
    }
    for (; x < W; x++) {
      const xb = <usize>x << 2;
      let acc = w0 * load<f32>(c + xb);
      for (let k = 1; k <= r; k++) {
        const up = tmp + (<usize>load<i32>(taps + (<usize>(2 * k) << 2)) << 2) + xb;
        const dn = tmp + (<usize>load<i32>(taps + (<usize>(2 * k + 1) << 2)) << 2) + xb;
        acc += load<f32>(w + (<usize>k << 2)) * (load<f32>(up) + load<f32>(dn));
      }
      store<f32>(o + xb, acc * scale + shift);
    }
  }
}

// ---------------------------------------------------------- normalisation

/** dst[i] = (src[i] - mean) * inv for i < n rounded up to 4 (both buffers hold that many). */
export function normalize(src: usize, dst: usize, n: i32, mean: f32, inv: f32): void {
  const vm = f32x4.splat(mean);
  const vi = f32x4.splat(inv);
  for (let i = 0; i < n; i += 4) {
    const b = <usize>i << 2;
    v128.store(dst + b, f32x4.mul(f32x4.sub(v128.load(src + b), vm), vi));
  }
}
