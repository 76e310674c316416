import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  conv2dBwdBias, conv2dBwdData, conv2dBwdWeight, conv2dFwd, convOut, type ConvShape,
} from '../../src/ref/conv2d.js';
import { matmul } from '../../src/ref/gemm.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

function shape(p: Partial<ConvShape>): ConvShape {
  return { n: 1, c: 1, h: 3, w: 3, k: 1, kh: 3, kw: 3, sh: 1, sw: 1, ph: 0, pw: 0, groups: 1, ...p };
}

function sizes(s: ConvShape): { x: number; w: number; y: number } {
  const { ho, wo } = convOut(s);
  return { x: s.n * s.c * s.h * s.w, w: s.k * (s.c / s.groups) * s.kh * s.kw, y: s.n * s.k * ho * wo };
}

// x(i,j) = 3i + j + 1, i.e. 1..9; kernel diag(1, 2, 3).
const X9 = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
const KDIAG = Float64Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3]);

test('convOut: floor formula', () => {
  assert.equal(convOut(shape({ h: 7, w: 6, sh: 2, sw: 2, ph: 1, pw: 1 })), { ho: 4, wo: 3 });
  assert.equal(convOut(shape({ h: 224, w: 224, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3 })), { ho: 112, wo: 112 });
});

test('conv2dFwd: 1x1x3x3, no padding, by hand', () => {
  // 1*x(0,0) + 2*x(1,1) + 3*x(2,2) = 1 + 10 + 27
  assertClose(conv2dFwd(X9, KDIAG, null, shape({})), [38], 0, 'valid');
  assertClose(conv2dFwd(X9, KDIAG, Float64Array.from([0.5]), shape({})), [38.5], 0, 'bias');
});

test('conv2dFwd: 1x1x3x3, padding 1, stride 1 and 2, by hand', () => {
  // y(oh,ow) = x(oh-1,ow-1) + 2 x(oh,ow) + 3 x(oh+1,ow+1), zero outside.
  const full = [17, 22, 6, 32, 38, 14, 14, 20, 23];
  assertClose(conv2dFwd(X9, KDIAG, null, shape({ ph: 1, pw: 1 })), full, 0, 'pad1');
  assertClose(conv2dFwd(X9, KDIAG, null, shape({ ph: 1, pw: 1, sh: 2, sw: 2 })), [17, 6, 14, 23], 0, 'pad1 stride2');
  // Stride only along w: rows 0..2, columns 0 and 2.
  assertClose(conv2dFwd(X9, KDIAG, null, shape({ ph: 1, pw: 1, sw: 2 })), [17, 6, 32, 14, 14, 23], 0, 'sw=2');
});

test('conv2dFwd: two input channels, two filters, by hand', () => {
  // n=1, c=2, 2x2 images, 1x1... use a 2x2 kernel: one output pixel per filter.
  const x = Float64Array.from([1, 2, 3, 4, 10, 20, 30, 40]);
  const w = Float64Array.from([1, 0, 0, 0, 0, 0, 0, 1, /* filter 1 */ 1, 1, 1, 1, -1, 0, 0, 0]);
  const s = shape({ c: 2, h: 2, w: 2, k: 2, kh: 2, kw: 2 });
  // filter 0: x0(0,0) + x1(1,1) = 1 + 40; filter 1: sum(x0) - x1(0,0) = 10 - 10
  assertClose(conv2dFwd(x, w, Float64Array.from([0, 1]), s), [41, 1], 0, 'c2k2');
});

test('conv2dFwd: groups = c equals per-channel convolutions (depthwise)', () => {
  const rng = new Rng(21);
  const s = shape({ n: 2, c: 3, h: 5, w: 6, k: 3, sh: 2, sw: 1, ph: 1, pw: 1, groups: 3 });
  const x = rng.normals(sizes(s).x), w = rng.normals(sizes(s).w), b = rng.normals(3);
  const y = conv2dFwd(x, w, b, s);
  const { ho, wo } = convOut(s);
  const one = { ...s, n: 1, c: 1, k: 1, groups: 1 };
  for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) {
    const xc = x.subarray((n * 3 + c) * 30, (n * 3 + c + 1) * 30);
    const yc = conv2dFwd(xc, w.subarray(c * 9, c * 9 + 9), b.subarray(c, c + 1), one);
    assertClose(y.subarray((n * 3 + c) * ho * wo, (n * 3 + c + 1) * ho * wo), yc, 1e-14, `n${n} c${c}`);
  }
});

test('conv2dFwd: groups = 2 equals two independent convolutions', () => {
  const rng = new Rng(22);
  const s = shape({ n: 1, c: 4, h: 4, w: 5, k: 6, ph: 1, pw: 1, groups: 2 });
  const x = rng.normals(sizes(s).x), w = rng.normals(sizes(s).w);
  const y = conv2dFwd(x, w, null, s);
  const half = { ...s, c: 2, k: 3, groups: 1 };
  const plane = 4 * 5, wPer = 3 * 2 * 9, yPer = 3 * 4 * 5;
  for (let g = 0; g < 2; g++) {
    const yg = conv2dFwd(x.subarray(g * 2 * plane, (g + 1) * 2 * plane), w.subarray(g * wPer, (g + 1) * wPer), null, half);
    assertClose(y.subarray(g * yPer, (g + 1) * yPer), yg, 1e-14, `group ${g}`);
  }
});

test('conv2dFwd: 1x1 convolution equals W @ x per image', () => {
  const rng = new Rng(23);
  const s = shape({ n: 2, c: 5, h: 3, w: 4, k: 3, kh: 1, kw: 1 });
  const x = rng.normals(sizes(s).x), w = rng.normals(sizes(s).w);
  const y = conv2dFwd(x, w, null, s);
  for (let n = 0; n < 2; n++) {
    const yn = matmul(w, x.subarray(n * 60, (n + 1) * 60), 3, 5, 12);
    assertClose(y.subarray(n * 36, (n + 1) * 36), yn, 1e-14, `image ${n}`);
  }
});

/** Independent forward: explicit im2col per image and group, then a GEMM. */
function convIm2col(x: Float64Array, w: Float64Array, s: ConvShape): Float64Array {
  const { ho, wo } = convOut(s);
  const cg = s.c / s.groups, kg = s.k / s.groups, rows = cg * s.kh * s.kw, cols = ho * wo;
  const y = new Float64Array(s.n * s.k * cols);
  for (let n = 0; n < s.n; n++) for (let g = 0; g < s.groups; g++) {
    const col = new Float64Array(rows * cols);
    for (let ci = 0; ci < cg; ci++) for (let r = 0; r < s.kh; r++) for (let q = 0; q < s.kw; q++) {
      const row = (ci * s.kh + r) * s.kw + q;
      for (let oh = 0; oh < ho; oh++) for (let ow = 0; ow < wo; ow++) {
        const ih = oh * s.sh - s.ph + r, iw = ow * s.sw - s.pw + q;
        const inside = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w;
        col[row * cols + oh * wo + ow] = inside ? x[((n * s.c + g * cg + ci) * s.h + ih) * s.w + iw]! : 0;
      }
    }
    const yg = matmul(w.subarray(g * kg * rows, (g + 1) * kg * rows), col, kg, rows, cols);
    y.set(yg, (n * s.k + g * kg) * cols);
  }
  return y;
}

test('conv2d backward: by hand on 1x1x3x3 with padding 1', () => {
  const s = shape({ ph: 1, pw: 1 });
  const dy = new Float64Array(9);
  dy[4] = 1; // only the centre output: its taps are x(0,0), x(1,1), x(2,2) with weights 1, 2, 3
  assertClose(conv2dBwdData(dy, KDIAG, s), [1, 0, 0, 0, 2, 0, 0, 0, 3], 0, 'dx');
  // dw(r,q) = x(r, q) for the centre output, since ih = 1 - 1 + r.
  assertClose(conv2dBwdWeight(X9, dy, s), X9, 0, 'dw');
  assertClose(conv2dBwdBias(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), s), [45], 0, 'db');
});

const GRAD_CASES: [string, Partial<ConvShape>][] = [
  ['3x3 s2 p1 g1', { n: 2, c: 3, h: 7, w: 6, k: 4, sh: 2, sw: 2, ph: 1, pw: 1 }],
  ['3x3 s1 p1 groups 2', { n: 1, c: 4, h: 5, w: 5, k: 6, ph: 1, pw: 1, groups: 2 }],
  ['depthwise 3x3 s2 p1', { n: 2, c: 3, h: 6, w: 5, k: 3, sh: 2, sw: 2, ph: 1, pw: 1, groups: 3 }],
  ['depthwise x2 multiplier', { n: 1, c: 2, h: 4, w: 3, k: 4, ph: 1, pw: 1, groups: 2 }],
  ['1x1', { n: 3, c: 5, h: 4, w: 3, k: 2, kh: 1, kw: 1 }],
  ['1x1 s2', { n: 1, c: 3, h: 5, w: 5, k: 4, kh: 1, kw: 1, sh: 2, sw: 2 }],
  ['7x7 s2 p3', { n: 1, c: 2, h: 11, w: 9, k: 3, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3 }],
  ['3x2 kernel, mixed stride/pad', { n: 2, c: 2, h: 5, w: 7, k: 3, kh: 3, kw: 2, sh: 1, sw: 2, ph: 0, pw: 1 }],
  ['batch 1, 1 channel, 1x1 image', { n: 1, c: 1, h: 1, w: 1, k: 1, kh: 3, kw: 3, ph: 1, pw: 1 }],
];

test('conv2d backward (data, weight, bias) vs central differences', async () => {
  const rng = new Rng(24);
  for (const [label, p] of GRAD_CASES) {
    const s = shape(p);
    const z = sizes(s);
    await checkGrad(`conv ${label}`,
      ([x, w, b]) => conv2dFwd(x!, w!, b!, s),
      ([x, w], r) => [conv2dBwdData(r, w!, s), conv2dBwdWeight(x!, r, s), conv2dBwdBias(r, s)],
      [rng.normals(z.x), rng.normals(z.w), rng.normals(s.k)]);
  }
});

test('conv2dFwd equals an independent im2col + GEMM on every gradient-check shape', () => {
  const rng = new Rng(25);
  for (const [label, p] of GRAD_CASES) {
    const s = shape(p);
    const z = sizes(s);
    const x = rng.normals(z.x), w = rng.normals(z.w);
    assertClose(conv2dFwd(x, w, null, s), convIm2col(x, w, s), 1e-13, label);
  }
});

test('conv2d: bad shapes throw naming the function', () => {
  const s = shape({ n: 1, c: 2, h: 4, w: 4, k: 2 });
  const z = sizes(s);
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => conv2dFwd(a(z.x - 1), a(z.w), null, s), 'conv2dFwd');
  assertThrowsNamed(() => conv2dFwd(a(z.x), a(z.w + 1), null, s), 'conv2dFwd');
  assertThrowsNamed(() => conv2dFwd(a(z.x), a(z.w), a(3), s), 'conv2dFwd');
  assertThrowsNamed(() => conv2dFwd(a(z.x), a(z.w), null, { ...s, groups: 3 }), 'conv2dFwd');
  assertThrowsNamed(() => conv2dFwd(a(z.x), a(z.w), null, { ...s, kh: 7 }), 'conv2dFwd');
  assertThrowsNamed(() => conv2dBwdData(a(z.y + 1), a(z.w), s), 'conv2dBwdData');
  assertThrowsNamed(() => conv2dBwdWeight(a(z.x), a(z.y - 1), s), 'conv2dBwdWeight');
  assertThrowsNamed(() => conv2dBwdBias(a(z.y + 2), s), 'conv2dBwdBias');
  assertThrowsNamed(() => conv2dBwdBias(a(z.y), { ...s, sh: 0 }), 'conv2dBwdBias');
});

test.run();
