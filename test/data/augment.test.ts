// Augmentation invariants, and the fast loops against plain float64
// reference implementations written here from the definitions (torchvision's
// formulas for bilinear sampling, HSV hue and the colour blends).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ArrayDataset,
  Augmenter,
  GREY_B,
  GREY_G,
  GREY_R,
  Rng,
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  centerCropBox,
  channelStats,
  checkPipeline,
  colorJitter,
  colorJitterFused,
  gaussianBlur,
  gaussianBlurNormalizeInto,
  gaussianWeights,
  hflip,
  makePipeline,
  normalizeInto,
  resizedCrop,
  roundHalfEven,
  sampleJitter,
  sampleResizedCrop,
  toFloatImage,
  toGrayscale,
  type CropBox,
  type FloatImage,
  type PipelineSpec,
  type RawImage,
} from '../../src/data/index.js';

// ------------------------------------------------------------- helpers

function randomRaw(w: number, h: number, channels: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(w * h * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, width: w, height: h, channels };
}

/** A smooth colour image (hue varies slowly, like a photo). */
function smoothRaw(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = 128 + 100 * Math.sin(x / 7);
      data[o + 1] = 128 + 100 * Math.cos(y / 5);
      data[o + 2] = 128 + 90 * Math.sin((x + y) / 9);
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

function randomFloat(w: number, h: number, channels: number, seed: number): FloatImage {
  const rng = new Rng(seed);
  const data = new Float32Array(w * h * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
  return { data, width: w, height: h, channels };
}

const copy = (img: FloatImage): FloatImage => ({ ...img, data: img.data.slice() });

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Bilinear resampling, align_corners=False, edge-clamped: the textbook definition in float64. */
function refResizedCrop(src: RawImage, box: CropBox, oh: number, ow: number, flip: boolean): Float64Array {
  const C = src.channels;
  const out = new Float64Array(C * oh * ow);
  const at = (x: number, y: number, c: number) => src.data[(y * src.width + x) * C + c]! / 255;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const sx = Math.min(Math.max(box.x + ((ox + 0.5) * box.w) / ow - 0.5, 0), src.width - 1);
      const sy = Math.min(Math.max(box.y + ((oy + 0.5) * box.h) / oh - 0.5, 0), src.height - 1);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, src.width - 1);
      const y1 = Math.min(y0 + 1, src.height - 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const px = flip ? ow - 1 - ox : ox;
      for (let c = 0; c < C; c++) {
        const top = at(x0, y0, c) * (1 - fx) + at(x1, y0, c) * fx;
        const bot = at(x0, y1, c) * (1 - fx) + at(x1, y1, c) * fx;
        out[c * oh * ow + oy * ow + px] = top * (1 - fy) + bot * fy;
      }
    }
  }
  return out;
}

/** torchvision's _rgb2hsv / _hsv2rgb round trip with the hue shifted, per pixel, float64. */
function refHue(img: FloatImage, shift: number): Float64Array {
  const n = img.width * img.height;
  const d = img.data;
  const out = new Float64Array(d.length);
  for (let i = 0; i < n; i++) {
    const r = d[i]!;
    const g = d[n + i]!;
    const b = d[2 * n + i]!;
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const eqc = maxc === minc;
    const cr = maxc - minc;
    const s = cr / (eqc ? 1 : maxc);
    const crd = eqc ? 1 : cr;
    const rc = (maxc - r) / crd;
    const gc = (maxc - g) / crd;
    const bc = (maxc - b) / crd;
    const hr = maxc === r ? bc - gc : 0;
    const hg = maxc === g && maxc !== r ? 2 + rc - bc : 0;
    const hb = maxc !== g && maxc !== r ? 4 + gc - rc : 0;
    let h = ((hr + hg + hb) / 6 + 1) % 1;
    h = (((h + shift) % 1) + 1) % 1;
    const v = maxc;
    const k = Math.floor(h * 6);
    const f = h * 6 - k;
    const p = Math.min(Math.max(v * (1 - s), 0), 1);
    const q = Math.min(Math.max(v * (1 - s * f), 0), 1);
    const t = Math.min(Math.max(v * (1 - s * (1 - f)), 0), 1);
    const rgb = [
      [v, t, p],
      [q, v, p],
      [p, v, t],
      [p, q, v],
      [t, p, v],
      [v, p, q],
    ][k % 6]!;
    out[i] = rgb[0]!;
    out[n + i] = rgb[1]!;
    out[2 * n + i] = rgb[2]!;
  }
  return out;
}

/** Direct 2-D Gaussian convolution (radius ceil(3 sigma), reflected borders), float64. */
function refBlur(img: FloatImage, sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const w: number[] = [];
  let sum = 0;
  for (let k = -r; k <= r; k++) {
    w.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
    sum += w[w.length - 1]!;
  }
  const norm = w.map((v) => v / sum);
  const reflect = (i: number, n: number) => {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  const { width: W, height: H } = img;
  const out = new Float64Array(img.data.length);
  for (let c = 0; c < img.channels; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let acc = 0;
        for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) acc += norm[dy + r]! * norm[dx + r]! * img.data[c * W * H + reflect(y + dy, H) * W + reflect(x + dx, W)]!;
        }
        out[c * W * H + y * W + x] = acc;
      }
    }
  }
  return out;
}

// -------------------------------------------------------------- geometry

test('random resized crop boxes are integer and inside the image, for all shapes', () => {
  const rng = new Rng(11);
  const shapes = [[1, 1], [1, 100], [100, 1], [7, 3], [32, 32], [28, 28], [500, 375], [375, 500], [4000, 3]];
  const ranges: [[number, number], [number, number]][] = [
    [[0.2, 1], [3 / 4, 4 / 3]],
    [[0.08, 1], [3 / 4, 4 / 3]],
    [[1, 1], [1, 1]],
    [[0.5, 0.5], [2, 3]],
  ];
  for (const [w, h] of shapes) {
    for (const [scale, ratio] of ranges) {
      for (let t = 0; t < 200; t++) {
        const b = sampleResizedCrop(rng, w!, h!, scale, ratio);
        assert.ok(Number.isInteger(b.x) && Number.isInteger(b.y) && Number.isInteger(b.w) && Number.isInteger(b.h), JSON.stringify(b));
        assert.ok(b.w >= 1 && b.h >= 1 && b.x >= 0 && b.y >= 0 && b.x + b.w <= w! && b.y + b.h <= h!, `${w}x${h}: ${JSON.stringify(b)}`);
      }
    }
  }
  // On a 4:3 image the mean area share is 0.495 (torchvision's sampler, simulated in Python with
  // 200000 draws: large tall crops are rejected and redrawn) and the ratio stays in range.
  let share = 0;
  const N = 2000;
  for (let t = 0; t < N; t++) {
    const b = sampleResizedCrop(rng, 500, 375, [0.2, 1], [3 / 4, 4 / 3]);
    share += (b.w * b.h) / (500 * 375);
    const r = b.w / b.h;
    assert.ok((r > 0.7 && r < 1.4) || b.w === 500 || b.h === 375, `ratio ${r}`);
  }
  assert.ok(Math.abs(share / N - 0.495) < 0.015, `mean area share ${share / N}`);
});

test('centre-crop box: torchvision resize-then-centre-crop arithmetic', () => {
  // 500x375, shorter side to 256 -> 341x256; crop 224 at (round-half-even(58.5) = 58, 16).
  const b = centerCropBox(500, 375, 256, 224, 224);
  const s = 256 / 375;
  assert.ok(Math.abs(b.x - 58 / (341 / 500)) < 1e-9, JSON.stringify(b));
  assert.ok(Math.abs(b.y - 16 / s) < 1e-9);
  assert.ok(Math.abs(b.w - 224 / (341 / 500)) < 1e-9);
  assert.is(roundHalfEven(58.5), 58);
  assert.is(roundHalfEven(59.5), 60);
  // Crop equal to the image: the whole image, no offset.
  assert.equal(centerCropBox(32, 32, 32, 32, 32), { x: 0, y: 0, w: 32, h: 32 });
  assert.throws(() => centerCropBox(32, 32, 24, 32, 32), /larger than the resized image/);
});

test('resizedCrop: identity box copies pixels; matches the bilinear definition; flip is a mirror', () => {
  const src = randomRaw(23, 17, 3, 1);
  const same = resizedCrop(src, { x: 0, y: 0, w: 23, h: 17 }, 17, 23);
  const want = new Float32Array(3 * 23 * 17);
  for (let y = 0; y < 17; y++) for (let x = 0; x < 23; x++) for (let c = 0; c < 3; c++) want[c * 391 + y * 23 + x] = src.data[(y * 23 + x) * 3 + c]! / 255;
  assert.ok(maxDiff(same.data, want) < 1e-7, 'identity');
  const rng = new Rng(3);
  for (let t = 0; t < 30; t++) {
    const box = sampleResizedCrop(rng, 23, 17, [0.05, 1], [0.5, 2]);
    // Fractional boxes too (evaluation crops are fractional).
    if (t % 3 === 0) Object.assign(box, { x: box.x + 0.3, w: Math.max(0.5, box.w - 0.6) });
    const [oh, ow] = [5 + (t % 9), 31 - (t % 13)];
    const flip = t % 2 === 1;
    const got = resizedCrop(src, box, oh, ow, { flip });
    assert.is(got.data.length, 3 * oh * ow);
    assert.ok(maxDiff(got.data, refResizedCrop(src, box, oh, ow, flip)) < 2e-6, `box ${JSON.stringify(box)} -> ${oh}x${ow}`);
  }
  const box = { x: 2, y: 1, w: 15, h: 12 };
  const plain = resizedCrop(src, box, 9, 11);
  const flipped = resizedCrop(src, box, 9, 11, { flip: true });
  assert.equal(Array.from(hflip(plain).data), Array.from(flipped.data));
});

test('flip twice is the identity; flip changes an asymmetric image', () => {
  const img = randomFloat(13, 6, 3, 2);
  const once = hflip(img);
  assert.ok(maxDiff(once.data, img.data) > 0.1);
  assert.equal(Array.from(hflip(once).data), Array.from(img.data));
});

test('channel conversion: grey replicated to 3, colour to grey by ITU-R 601', () => {
  const grey = randomRaw(9, 8, 1, 4);
  const g3 = resizedCrop(grey, { x: 1, y: 1, w: 7, h: 6 }, 5, 5, { channels: 3 });
  const g1 = resizedCrop(grey, { x: 1, y: 1, w: 7, h: 6 }, 5, 5);
  assert.is(g3.channels, 3);
  for (let c = 0; c < 3; c++) assert.equal(Array.from(g3.data.subarray(c * 25, (c + 1) * 25)), Array.from(g1.data));
  const rgb = randomRaw(9, 8, 3, 5);
  const c1 = resizedCrop(rgb, { x: 0, y: 0, w: 9, h: 8 }, 8, 9, { channels: 1 });
  const c3 = toFloatImage(rgb);
  for (let i = 0; i < 72; i++) {
    assert.ok(Math.abs(c1.data[i]! - (GREY_R * c3.data[i]! + GREY_G * c3.data[72 + i]! + GREY_B * c3.data[144 + i]!)) < 1e-6);
  }
});

// ---------------------------------------------------------------- colour

test('jitter of strength 0 (factors 1, hue 0) is the identity', () => {
  const img = randomFloat(16, 11, 3, 6);
  const a = copy(img);
  adjustBrightness(a, 1);
  adjustContrast(a, 1);
  adjustSaturation(a, 1);
  assert.equal(Array.from(a.data), Array.from(img.data));
  adjustHue(a, 0);
  assert.ok(maxDiff(a.data, img.data) < 1e-6);
  const none = sampleJitter(new Rng(1), { brightness: 0, contrast: 0, saturation: 0, hue: 0 });
  assert.equal(none.order, []);
  const b = copy(img);
  colorJitter(b, none);
  colorJitterFused(b, none);
  assert.equal(Array.from(b.data), Array.from(img.data));
  // A whole pipeline with zero-strength jitter applied always equals the same pipeline without it.
  const src = randomRaw(40, 30, 3, 7);
  const base = makePipeline('weak', { size: 16 });
  const zeroJitter: PipelineSpec = { ...base, jitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0, p: 1 } };
  const o1 = new Float32Array(3 * 256);
  const o2 = new Float32Array(3 * 256);
  for (let s = 0; s < 10; s++) {
    new Augmenter(base).apply(src, new Rng(s), o1, 0);
    new Augmenter(zeroJitter).apply(src, new Rng(s), o2, 0);
    assert.equal(Array.from(o2), Array.from(o1));
  }
});

test('brightness, contrast, saturation follow their definitions (and clamp)', () => {
  const img = randomFloat(10, 7, 3, 8);
  const n = 70;
  const b = copy(img);
  adjustBrightness(b, 1.3);
  for (let i = 0; i < 3 * n; i++) assert.ok(Math.abs(b.data[i]! - Math.min(1, img.data[i]! * 1.3)) < 1e-6);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += GREY_R * img.data[i]! + GREY_G * img.data[n + i]! + GREY_B * img.data[2 * n + i]!;
  mean /= n;
  const c = copy(img);
  adjustContrast(c, 0.6);
  for (let i = 0; i < 3 * n; i++) assert.ok(Math.abs(c.data[i]! - (0.6 * img.data[i]! + 0.4 * mean)) < 1e-6);
  const s = copy(img);
  adjustSaturation(s, 1.4);
  for (let i = 0; i < n; i++) {
    const y = GREY_R * img.data[i]! + GREY_G * img.data[n + i]! + GREY_B * img.data[2 * n + i]!;
    for (let ch = 0; ch < 3; ch++) {
      const want = Math.min(1, Math.max(0, 1.4 * img.data[ch * n + i]! - 0.4 * y));
      assert.ok(Math.abs(s.data[ch * n + i]! - want) < 1e-6);
    }
  }
  const zero = copy(img);
  adjustSaturation(zero, 0);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(zero.data[i]! - zero.data[n + i]!) < 1e-6, 'saturation 0 is grey');
});

test('hue shift equals torchvision HSV round trip; full turns cancel', () => {
  const img = toFloatImage(randomRaw(31, 9, 3, 9));
  for (const shift of [0.1, -0.1, 0.37, -0.5, 0.5, 0.0001]) {
    const a = copy(img);
    adjustHue(a, shift);
    assert.ok(maxDiff(a.data, refHue(img, shift)) < 1e-5, `shift ${shift}`);
  }
  const a = copy(img);
  adjustHue(a, 0.25);
  adjustHue(a, -0.25);
  assert.ok(maxDiff(a.data, img.data) < 1e-5, 'there and back');
  // Grey pixels have no hue.
  const grey = toFloatImage({ data: new Uint8Array(3 * 4).fill(77), width: 2, height: 2, channels: 3 });
  const g = copy(grey);
  adjustHue(g, 0.3);
  assert.equal(Array.from(g.data), Array.from(grey.data));
});

test('fused jitter (+ grayscale) equals the op-by-op reference for every order', () => {
  const rng = new Rng(10);
  const src = toFloatImage(smoothRaw(37, 21));
  const noisy = toFloatImage(randomRaw(37, 21, 3, 12));
  let worst = 0;
  for (let t = 0; t < 300; t++) {
    const j = sampleJitter(rng, { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 });
    const grey = t % 4 === 0;
    const img = t % 2 ? src : noisy;
    const a = copy(img);
    colorJitter(a, j);
    if (grey) toGrayscale(a);
    const b = copy(img);
    colorJitterFused(b, j, grey);
    worst = Math.max(worst, maxDiff(a.data, b.data));
  }
  // The reference rounds to float32 between ops, the fused path does not.
  assert.ok(worst < 2e-6, `worst difference ${worst}`);
  // All 24 orders occur.
  const orders = new Set<string>();
  for (let t = 0; t < 2000; t++) orders.add(sampleJitter(rng, { brightness: 1, contrast: 1, saturation: 1, hue: 0.5 }).order.join(''));
  assert.is(orders.size, 24);
});

test('grayscale: equal channels, weights sum to one', () => {
  const img = randomFloat(8, 8, 3, 13);
  const g = copy(img);
  toGrayscale(g);
  for (let i = 0; i < 64; i++) {
    assert.is(g.data[i], g.data[64 + i]);
    assert.is(g.data[i], g.data[128 + i]);
  }
  assert.ok(Math.abs(GREY_R + GREY_G + GREY_B - 1) < 1e-12);
});

// ------------------------------------------------------------------ blur

test('Gaussian blur equals direct 2-D convolution; constants stay; tiny sigma is identity', () => {
  for (const [w, h, sigma] of [[17, 12, 0.7], [40, 9, 2], [5, 5, 1.3], [3, 30, 0.4], [30, 25, 2.6]] as const) {
    const img = randomFloat(w, h, 3, 14);
    const a = copy(img);
    gaussianBlur(a, sigma);
    assert.ok(maxDiff(a.data, refBlur(img, sigma)) < 1e-5, `${w}x${h} sigma ${sigma}`);
  }
  const flat: FloatImage = { data: new Float32Array(3 * 100).fill(0.42), width: 10, height: 10, channels: 3 };
  gaussianBlur(flat, 1.5);
  for (const v of flat.data) assert.ok(Math.abs(v - 0.42) < 1e-6);
  const img = randomFloat(12, 12, 3, 15);
  const tiny = copy(img);
  gaussianBlur(tiny, 0.1);
  assert.equal(Array.from(tiny.data), Array.from(img.data));
  // The weights are symmetric-normalised.
  const wts = gaussianWeights(1.7);
  let sum = wts[0]!;
  for (let k = 1; k < wts.length; k++) sum += 2 * wts[k]!;
  assert.ok(Math.abs(sum - 1) < 1e-6);
});

test('blur fused with normalisation equals blur then normalise (incl. grey to 3 channels)', () => {
  const mean = [0.4, 0.5, 0.6];
  const std = [0.2, 0.25, 0.3];
  for (const channels of [3, 1]) {
    const img = randomFloat(19, 14, channels, 16);
    const a = copy(img);
    gaussianBlur(a, 1.1);
    const want = new Float32Array(3 * 19 * 14 + 7);
    normalizeInto(a, mean, std, want, 7, 3);
    const got = new Float32Array(3 * 19 * 14 + 7);
    gaussianBlurNormalizeInto(copy(img), 1.1, mean, std, got, 7, 3);
    assert.ok(maxDiff(got, want) < 1e-5, `channels ${channels}`);
  }
});

// --------------------------------------------------------- normalisation

test('normalisation with the data set statistics gives mean 0 and std 1 per channel', () => {
  const n = 200;
  const w = 12;
  const pixels = new Uint8Array(n * w * w * 3);
  const rng = new Rng(17);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i % 3) * 60 + rng.int(120);
  const ds = new ArrayDataset({ name: 'synthetic', pixels, labels: new Int32Array(n), width: w, height: w, channels: 3 });
  const stats = channelStats(Array.from({ length: n }, (_, i) => ds.image(i)));
  assert.is(stats.count, n * w * w);
  // Evaluation geometry at the native size is the identity, so the output statistics are exact.
  const aug = new Augmenter(makePipeline('eval', { size: w, mean: stats.mean, std: stats.std }));
  const out = new Float32Array(n * aug.sampleSize);
  for (let i = 0; i < n; i++) aug.apply(ds.image(i), new Rng(i), out, i * aug.sampleSize);
  const plane = w * w;
  for (let c = 0; c < 3; c++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < plane; p++) {
        const v = out[i * 3 * plane + c * plane + p]!;
        s += v;
        s2 += v * v;
      }
    }
    const m = s / (n * plane);
    const sd = Math.sqrt(s2 / (n * plane) - m * m);
    assert.ok(Math.abs(m) < 1e-4, `channel ${c} mean ${m}`);
    assert.ok(Math.abs(sd - 1) < 1e-4, `channel ${c} std ${sd}`);
  }
  assert.throws(() => normalizeInto(randomFloat(2, 2, 3, 1), [0, 0], [1, 1], new Float32Array(12), 0), /expected 3/);
});

// ------------------------------------------------------------- pipelines

test('named pipelines: settings from the papers, output shapes, determinism per seed', () => {
  const strong = makePipeline('strong', { size: 24 });
  assert.equal(strong.crop, { type: 'random-resized', scale: [0.2, 1], ratio: [3 / 4, 4 / 3] });
  assert.equal(strong.jitter, { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 });
  assert.is(strong.grayscale, 0.2);
  assert.equal(strong.blur, { p: 0.5, sigma: [0.1, 2] });
  assert.is(strong.flip, 0.5);
  const weak = makePipeline('weak', { size: 24 });
  assert.equal(weak.crop, strong.crop);
  assert.is(weak.flip, 0.5);
  assert.is(weak.jitter, undefined);
  assert.is(weak.blur, undefined);
  assert.is(weak.grayscale, 0);
  assert.equal(makePipeline('eval', { size: 224 }).crop, { type: 'center', resize: 256 });
  assert.equal(makePipeline('eval', { size: 32 }).crop, { type: 'center', resize: 32 });

  const src = smoothRaw(50, 40);
  const grey = randomRaw(28, 28, 1, 18);
  for (const spec of [strong, weak, makePipeline('eval', { size: [20, 30], channels: 1 })]) {
    const aug = new Augmenter(spec);
    assert.is(aug.sampleSize, spec.channels * spec.height * spec.width);
    for (const img of [src, grey]) {
      const a = new Float32Array(aug.sampleSize + 5).fill(NaN);
      const b = new Float32Array(aug.sampleSize + 5).fill(NaN);
      aug.apply(img, new Rng(99), a, 5);
      aug.apply(img, new Rng(99), b, 5);
      assert.equal(Array.from(a), Array.from(b), 'same seed, same output');
      assert.ok(Number.isNaN(a[4]!) && a.subarray(5).every((v) => Number.isFinite(v)), 'writes exactly its slot');
    }
  }
  // Different seeds give different strong views.
  const aug = new Augmenter(strong);
  const a = new Float32Array(aug.sampleSize);
  const b = new Float32Array(aug.sampleSize);
  aug.apply(src, new Rng(1), a, 0);
  aug.apply(src, new Rng(2), b, 0);
  assert.ok(maxDiff(a, b) > 0.1);
  // Over many draws each random step happens at about its probability.
  let flips = 0;
  let jitters = 0;
  let greys = 0;
  let blurs = 0;
  const N = 2000;
  for (let s = 0; s < N; s++) {
    const d = aug.draw(new Rng(s), 50, 40);
    flips += +d.flip;
    jitters += +(d.jitter !== null);
    greys += +d.grayscale;
    blurs += +(d.blurSigma > 0);
    if (d.blurSigma > 0) assert.ok(d.blurSigma >= 0.1 && d.blurSigma <= 2);
  }
  for (const [count, p, what] of [[flips, 0.5, 'flip'], [jitters, 0.8, 'jitter'], [greys, 0.2, 'grayscale'], [blurs, 0.5, 'blur']] as const) {
    assert.ok(Math.abs(count / N - p) < 0.04, `${what}: ${count / N} vs ${p}`);
  }
});

test('grey source, 3-channel model: three identical planes after every op', () => {
  const aug = new Augmenter(makePipeline('strong', { size: 16, mean: [0.1, 0.1, 0.1], std: [0.5, 0.5, 0.5] }));
  const out = new Float32Array(aug.sampleSize);
  for (let s = 0; s < 20; s++) {
    aug.apply(randomRaw(28, 28, 1, s), new Rng(s), out, 0);
    assert.equal(Array.from(out.subarray(0, 256)), Array.from(out.subarray(256, 512)));
    assert.equal(Array.from(out.subarray(0, 256)), Array.from(out.subarray(512)));
  }
});

test('rendering a decoded region (with its origin) equals rendering the full image', () => {
  const full = smoothRaw(60, 45);
  const aug = new Augmenter(makePipeline('strong', { size: 30 }));
  for (let s = 0; s < 20; s++) {
    const draws = [aug.draw(new Rng(s), 60, 45), aug.draw(new Rng(s + 100), 60, 45)];
    const req = aug.regionFor(draws, 60, 45);
    assert.is(req.width, undefined, 'no shrink: boxes are not twice the output');
    const { x, y, w, h } = req.box;
    const region = new Uint8Array(w * h * 3);
    for (let r = 0; r < h; r++) region.set(full.data.subarray(((y + r) * 60 + x) * 3, ((y + r) * 60 + x + w) * 3), r * w * 3);
    for (const d of draws) {
      const a = new Float32Array(aug.sampleSize);
      const b = new Float32Array(aug.sampleSize);
      aug.render(full, d, a, 0);
      aug.render({ data: region, width: w, height: h, channels: 3 }, d, b, 0, { x, y, scaleX: 1, scaleY: 1 });
      assert.ok(maxDiff(a, b) < 1e-5, `seed ${s}`);
    }
  }
  // Large crops for a small output ask for a filtered shrink.
  const small = new Augmenter(makePipeline('weak', { size: 8, scale: [0.9, 1] }));
  const req = small.regionFor([small.draw(new Rng(1), 400, 300)], 400, 300);
  assert.ok(req.width !== undefined && req.width < req.box.w / 2 + 1, JSON.stringify(req));
});

test('pipeline validation names the bad field', () => {
  const p = makePipeline('strong', { size: 8 });
  assert.throws(() => checkPipeline({ ...p, flip: 1.5 }), /flip probability 1.5/);
  assert.throws(() => checkPipeline({ ...p, mean: [0, 0] }), /mean and std need 3 entries/);
  assert.throws(() => checkPipeline({ ...p, std: [1, 0, 1] }), /std entries must be > 0/);
  assert.throws(() => checkPipeline({ ...p, crop: { type: 'random-resized', scale: [0, 1], ratio: [1, 1] } }), /crop scale/);
  assert.throws(() => checkPipeline({ ...p, blur: { p: 0.5, sigma: [2, 1] } }), /blur sigma range/);
  assert.throws(() => makePipeline('eval', { size: 64, resize: 32 }), /smaller than the crop/);
  assert.throws(() => makePipeline('fancy' as 'weak', { size: 8 }), /unknown pipeline 'fancy'/);
});

test.run();
