// The SIMD (WebAssembly) augmentation kernels against the TypeScript
// reference path, which test/data/augment.test.ts checks against float64
// definitions: the same draws must give the same images to float32 rounding,
// for every pipeline, channel layout, op order and size, edges included.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Augmenter, Rng, SimdAugment, makePipeline, simdAvailable, type JitterDraw, type PipelineSpec, type RawImage } from '../../src/data/index.js';

function randomRaw(w: number, h: number, c: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(w * h * c);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, width: w, height: h, channels: c };
}

// Output values are normalised ((v - mean) / std with std >= 0.2): 1e-5 is ~2e-6 in [0, 1] units.
const TOL = 1e-5;

/** Render with both kernel sets into an output with a guard band around the slot; return the largest difference. */
function compare(spec: PipelineSpec, src: RawImage, seed: number): { diff: number; guardOk: boolean } {
  const n = spec.channels * spec.height * spec.width;
  const guard = 7;
  const a = new Float32Array(n + 2 * guard).fill(12345);
  const b = new Float32Array(n + 2 * guard).fill(12345);
  const da = new Augmenter(spec, { kernels: 'simd' }).apply(src, new Rng(seed), a, guard);
  const db = new Augmenter(spec, { kernels: 'js' }).apply(src, new Rng(seed), b, guard);
  assert.equal(da, db, 'both kernel sets see the same draws');
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  let guardOk = true;
  for (let i = 0; i < guard; i++) guardOk &&= a[i] === 12345 && a[a.length - 1 - i] === 12345;
  return { diff, guardOk };
}

test('SIMD is available in this Node, and the default', () => {
  assert.ok(simdAvailable());
  assert.is(new Augmenter(makePipeline('weak', { size: 8 })).kernels, 'simd');
  assert.is(new Augmenter(makePipeline('weak', { size: 8 }), { kernels: 'js' }).kernels, 'js');
});

test('SIMD renders equal the reference: random sizes, channels, pipelines, draws', () => {
  const rng = new Rng(2024);
  for (let t = 0; t < 250; t++) {
    const W = 1 + rng.int(70);
    const H = 1 + rng.int(70);
    const srcC = rng.chance(0.25) ? 1 : 3;
    const outC = rng.chance(0.2) ? 1 : 3;
    const name = (['weak', 'strong', 'eval'] as const)[rng.int(3)]!;
    const size: [number, number] = [1 + rng.int(45), 1 + rng.int(45)];
    const mean = outC === 3 ? [0.485, 0.456, 0.406] : [0.45];
    const std = outC === 3 ? [0.229, 0.224, 0.225] : [0.25];
    const spec = makePipeline(name, { size, channels: outC, mean, std, resize: name === 'eval' ? Math.max(...size) + rng.int(10) : undefined });
    // Make every op likely, so most cases exercise jitter, grey and blur together.
    if (spec.jitter) spec.jitter.p = 0.9;
    if (spec.blur) spec.blur.p = 0.7;
    if (spec.name === 'strong') spec.grayscale = 0.3;
    const { diff, guardOk } = compare(spec, randomRaw(W, H, srcC, t), 1000 + t);
    assert.ok(guardOk, `case ${t}: wrote outside its slot`);
    assert.ok(diff < TOL, `case ${t} (${W}x${H}x${srcC} -> ${name} ${size.join('x')}x${outC}): differs by ${diff}`);
  }
});

test('SIMD colour jitter: every op order, contrast first, middle and last, with and without grey', () => {
  const src = randomRaw(37, 29, 3, 5);
  const base = makePipeline('strong', { size: [21, 19], mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] });
  const spec: PipelineSpec = { ...base, blur: undefined, flip: 0 };
  const simd = new SimdAugment(spec.height, spec.width, 0);
  const js = new Augmenter({ ...spec, jitter: undefined, grayscale: 0 }, { kernels: 'js' });
  const perms: number[][] = [];
  const permute = (rest: number[], acc: number[]) => {
    if (rest.length === 0) perms.push(acc);
    rest.forEach((v, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, v]));
  };
  permute([0, 1, 2, 3], []);
  assert.is(perms.length, 24);
  const n = 3 * spec.height * spec.width;
  const box = { x: 3, y: 2, w: 30, h: 25 };
  for (const order of perms) {
    for (const grey of [false, true]) {
      const j = { order, brightness: 1.3, contrast: 0.7, saturation: 1.4, hue: -0.23 } as JitterDraw;
      const a = new Float32Array(n);
      simd.render(src, { box, flip: false, jitter: j, grayscale: grey, blurSigma: 0 }, 3, spec.mean, spec.std, a, 0, 3);
      const b = new Float32Array(n);
      js.render(src, { box, flip: false, jitter: j, grayscale: grey, blurSigma: 0 }, b, 0);
      let diff = 0;
      for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      assert.ok(diff < TOL, `order ${order.join('')} grey ${grey}: differs by ${diff}`);
    }
  }
});

test('SIMD hue: pure colours, greys and sector edges map as the reference does', () => {
  // Every pixel value a multiple of 51 (0, 0.2, ..., 1): many exact ties between channels and exact sector edges.
  const w = 36;
  const h = 6;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    data[3 * i] = 51 * (i % 6);
    data[3 * i + 1] = 51 * (Math.floor(i / 6) % 6);
    data[3 * i + 2] = 51 * (Math.floor(i / 36) % 6);
  }
  const src: RawImage = { data, width: w, height: h, channels: 3 };
  const spec: PipelineSpec = { ...makePipeline('weak', { size: [h, w] }), flip: 0 };
  const simd = new SimdAugment(h, w, 0);
  const js = new Augmenter(spec, { kernels: 'js' });
  const box = { x: 0, y: 0, w, h };
  for (const hue of [-0.5, -1 / 3, -1 / 6, -0.1, 0, 0.05, 1 / 6, 0.25, 1 / 3, 0.5]) {
    const j = { order: [3], brightness: 1, contrast: 1, saturation: 1, hue } as JitterDraw;
    const a = new Float32Array(3 * w * h);
    const b = new Float32Array(3 * w * h);
    simd.render(src, { box, flip: false, jitter: j, grayscale: false, blurSigma: 0 }, 3, spec.mean, spec.std, a, 0, 3);
    js.render(src, { box, flip: false, jitter: j, grayscale: false, blurSigma: 0 }, b, 0);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `hue ${hue}, value ${i}: ${a[i]} vs ${b[i]}`);
  }
});

test('SIMD blur: every radius up to sigma 2.5, images narrower than the kernel, one-pixel sides', () => {
  const base = makePipeline('weak', { size: 8, mean: [0.3, 0.4, 0.5], std: [0.2, 0.3, 0.4] });
  for (const [h, w] of [[1, 1], [1, 9], [9, 1], [2, 2], [3, 7], [5, 4], [17, 13], [40, 41]] as const) {
    const spec: PipelineSpec = { ...base, height: h, width: w, flip: 0 };
    const simd = new SimdAugment(h, w, 2.5);
    const js = new Augmenter(spec, { kernels: 'js' });
    const src = randomRaw(w + 3, h + 2, 3, h * 100 + w);
    const box = { x: 1, y: 1, w, h };
    for (const sigma of [0.1, 0.3, 0.6, 1, 1.4, 1.7, 2, 2.5]) {
      for (const grayscale of [false, true]) {
        const a = new Float32Array(3 * h * w);
        const b = new Float32Array(3 * h * w);
        simd.render(src, { box, flip: false, jitter: null, grayscale, blurSigma: sigma }, 3, spec.mean, spec.std, a, 0, 3);
        js.render(src, { box, flip: false, jitter: null, grayscale, blurSigma: sigma }, b, 0);
        let diff = 0;
        for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        assert.ok(diff < TOL, `${h}x${w} sigma ${sigma} grey ${grayscale}: differs by ${diff}`);
      }
    }
  }
});

test('SIMD: a large source after small ones (memory grows) and small ones after it', () => {
  const spec = makePipeline('strong', { size: 24 });
  spec.blur!.p = 1;
  const simdAug = new Augmenter(spec, { kernels: 'simd' });
  const jsAug = new Augmenter(spec, { kernels: 'js' });
  const sizes = [[20, 16], [900, 700], [31, 33], [1600, 1200], [25, 25]] as const;
  sizes.forEach(([w, h], k) => {
    const src = randomRaw(w, h, 3, k);
    const a = new Float32Array(3 * 24 * 24);
    const b = new Float32Array(3 * 24 * 24);
    simdAug.apply(src, new Rng(k), a, 0);
    jsAug.apply(src, new Rng(k), b, 0);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    assert.ok(diff < TOL, `${w}x${h}: differs by ${diff}`);
  });
});

test('SimdAugment rejects what it was not made for, naming it', () => {
  const simd = new SimdAugment(8, 8, 1);
  const src = randomRaw(10, 10, 3, 1);
  const out = new Float32Array(3 * 64);
  const box = { x: 0, y: 0, w: 10, h: 10 };
  assert.throws(() => simd.render(src, { box, flip: false, jitter: null, grayscale: false, blurSigma: 2 }, 3, [0, 0, 0], [1, 1, 1], out, 0, 3), /sigma 2 .*3-pixel radius/);
  assert.throws(() => simd.render(randomRaw(10, 10, 1, 1), { box, flip: false, jitter: null, grayscale: false, blurSigma: 0 }, 3, [0, 0, 0], [1, 1, 1], out, 0, 3), /3 channel\(s\) from a 1-channel source/);
  assert.throws(() => simd.render({ ...src, data: src.data.subarray(5) }, { box, flip: false, jitter: null, grayscale: false, blurSigma: 0 }, 3, [0, 0, 0], [1, 1, 1], out, 0, 3), /295 bytes, expected 10x10x3/);
  assert.throws(() => simd.render(src, { box, flip: false, jitter: null, grayscale: false, blurSigma: 0 }, 3, [0, 0], [1, 1], out, 0, 3), /mean\/std have 2\/2 entries, expected 3/);
});

test.run();
