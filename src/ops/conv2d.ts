// conv2d, NCHW, weight [K, C/groups, kh, kw]: forward, input gradient, weight gradient and bias gradient as
// separate launches. Variant by shape: 1x1 stride-1 unpadded -> batched GEMM; groups = 1 with small kernels ->
// implicit GEMM (subgroup kernels); everything else (groups, depthwise, large strides) -> direct kernels.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { noGrad } from '../autograd/scope.js';
import { stream, grid1d } from '../gpu/stream.js';
import { gpuContext } from '../gpu/device.js';
import { tuned, knob } from '../gpu/tuning.js';
import { kernels, type KernelName } from '../gen/kernels.gen.js';
import type { KernelSpec } from '../gpu/spec.js';
import { checkTensor, checkF32, checkRank, opError, dummyTensor } from './util.js';
import { gemm, foldRows } from './gemm.js';
import { sum } from './reduce.js';
import { fillInPlace } from './accumulate.js';

export interface ConvGeom {
  n: number; c: number; h: number; w: number; k: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; groups: number; ho: number; wo: number;
}

export interface Conv2dOptions { stride?: number | [number, number]; padding?: number | [number, number]; groups?: number }

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);


const hasSubgroups = () => gpuContext().features.has('subgroups');
const is1x1 = (g: ConvGeom) => g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0 && g.groups === 1;
const igemmOk = (g: ConvGeom) => hasSubgroups() && g.groups === 1 && g.kw <= 8 && 4 * g.sw + g.kw - 1 <= 16;

/** The kernel's Params, picked by name from the geometry and the extra fields (the reflected struct decides). */
function params(name: KernelName, g: ConvGeom, extra: Record<string, number>): Record<string, number> {
  const all: Record<string, number> = {
    N: g.n, C: g.c, H: g.h, W: g.w, K: g.k, Ho: g.ho, Wo: g.wo, groups: g.groups,
    kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, ...extra,
  };
  const spec = kernels[name] as KernelSpec;
  const out: Record<string, number> = {};
  for (const f of Object.keys(spec.params.fields)) {
    if (all[f] === undefined) throw new Error(`conv2d: no value for ${name} Params.${f}`);
    out[f] = all[f]!;
  }
  return out;
}

function need(name: string): KernelName {
  if (!(name in kernels)) throw new Error(`conv2d: kernel ${name} is not built (kernels/conv2d/${name}.wgsl missing)`);
  return name as KernelName;
}

const convFlops = (g: ConvGeom) => 2 * g.n * g.ho * g.wo * g.k * (g.c / g.groups) * g.kh * g.kw;

/** Raw launches (no tape); outputs are written (=). */
export const conv2dRaw = {
  forward(x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): void {
    const cost = { flops: convFlops(g), bytes: 4 * (x.size + w.size + y.size) };
    if (is1x1(g) && hasSubgroups() && !bias) {
      const hw = g.h * g.w;
      gemm({ a: w, b: x, c: y, m: g.k, n: hw, k: g.c, batch: g.n, strideA: 0, strideB: g.c * hw, strideC: g.k * hw });
      return;
    }
    if (igemmOk(g)) {
      const name = need('conv2d_fwd_igemm');
      const ov: Record<string, number> = { ...tuned(name), KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw };
      const wg = ov.WG ?? 8;
      const spi = g.ho * Math.ceil(g.wo / 4);
      const nper = imagesPerSlice(spi, g.n, wg);
      const { ygrid, zfold } = foldRows(Math.ceil(g.k / 16), Math.ceil(g.n / nper));
      stream.dispatch(name, ov, params(name, g, { use_bias: bias ? 1 : 0, accumulate: 0, ygrid, zfold, nper }),
        [x.binding, w.binding, (bias ?? dummyTensor()).binding, y.binding], [Math.ceil((nper * spi) / wg), ygrid, Math.ceil(g.n / nper) * zfold], cost);
      return;
    }
    const name = need('conv2d_fwd_direct');
    const d = directDispatch(name, g, 'fwd');
    stream.dispatch(name, d.ov, params(name, g, { use_bias: bias ? 1 : 0, accumulate: 0, ...d.extra }),
      [x.binding, w.binding, (bias ?? dummyTensor()).binding, y.binding], d.grid, cost);
  },

  backwardData(dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeom): void {
    const cost = { flops: convFlops(g), bytes: 4 * (dy.size + w.size + dx.size) };
    if (is1x1(g) && hasSubgroups()) {
      const hw = g.h * g.w;
      gemm({ a: w, b: dy, c: dx, m: g.c, n: hw, k: g.k, transA: true, batch: g.n, strideA: 0, strideB: g.k * hw, strideC: g.c * hw });
      return;
    }
    if (g.kh === 1 && g.kw === 1 && g.ph === 0 && g.pw === 0 && g.groups === 1) {
      // Strided 1x1 (ResNet's downsample): W^T dy per image by GEMM, then scattered to every s-th pixel of dx
      // (zeros elsewhere); no work is spent on the zeros.
      const ohw = g.ho * g.wo;
      const tmp = Tensor.empty([g.n, g.c, g.ho, g.wo]);
      gemm({ a: w, b: dy, c: tmp, m: g.c, n: ohw, k: g.k, transA: true, batch: g.n, strideA: 0, strideB: g.k * ohw, strideC: g.c * ohw });
      stream.dispatch('dilate_zero', {}, { planes: g.n * g.c, ho: g.ho, wo: g.wo, hd: g.h, wd: g.w, sh: g.sh, sw: g.sw }, [tmp.binding, dx.binding],
        grid1d(Math.ceil((g.n * g.c * g.h * g.w) / 256)), { bytes: 4 * (tmp.size + dx.size) });
      tmp.dispose();
      return;
    }
    if (igemmOk(g) && (g.sh > 1 || g.sw > 1) && phasesOk(g)) {
      // Strided: split dx into sh x sw phases; each is a stride-1 input gradient over dy with that phase's taps
      // (weight_phase), written into its positions of dx (phase_scatter). No work on the zeros a dilation adds.
      const name = need('conv2d_bwd_data_igemm');
      const phases = stridePhases(g);
      if (phases.some((q) => q.empty)) fillInPlace(dx, 0);
      for (const q of phases) {
        if (q.empty) continue;
        const wp = Tensor.empty([g.k, g.c, q.kh, q.kw]);
        stream.dispatch('weight_phase', {}, { kc: g.k * g.c, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, r0: q.r0, s0: q.s0, khp: q.kh, kwp: q.kw },
          [w.binding, wp.binding], grid1d(Math.ceil(wp.size / 256)), { bytes: 8 * wp.size });
        const sub: ConvGeom = { ...g, h: q.h, w: q.w, kh: q.kh, kw: q.kw, sh: 1, sw: 1, ph: q.ph, pw: q.pw };
        const part = Tensor.empty([g.n, g.c, q.h, q.w]);
        const ov: Record<string, number> = { ...tuned(name), KH: q.kh, KW: q.kw };
        const wg = ov.WG ?? 8;
        const spi = q.h * Math.ceil(q.w / 4);
        const nper = imagesPerSlice(spi, g.n, wg);
        const { ygrid, zfold } = foldRows(Math.ceil(g.c / 16), Math.ceil(g.n / nper));
        stream.dispatch(name, ov, params(name, sub, { accumulate: 0, ygrid, zfold, nper }),
          [dy.binding, wp.binding, part.binding], [Math.ceil((nper * spi) / wg), ygrid, Math.ceil(g.n / nper) * zfold],
          { flops: 2 * g.n * q.h * q.w * g.c * g.k * q.kh * q.kw, bytes: 4 * (dy.size + wp.size + part.size) });
        stream.dispatch('phase_scatter', {}, { planes: g.n * g.c, hp: q.h, wp: q.w, h: g.h, w: g.w, sh: g.sh, sw: g.sw, a: q.a, b: q.b },
          [part.binding, dx.binding], grid1d(Math.ceil(part.size / 256)), { bytes: 8 * part.size });
        wp.dispose();
        part.dispose();
      }
      return;
    }
    if (igemmOk(g) && g.kw <= 8 && g.ph < g.kh && g.pw < g.kw) {
      // Stride 1, or strides whose phases the kernel cannot take. Strided: zero-insert dy (stride s -> 1) so the stride-1 implicit GEMM applies. It multiplies zeros
      // (s^2 more work), still far ahead of the direct kernel on lavapipe (measured: 0.08 vs ~6 GF/s effective).
      let src = dy, geo = g, tmp: Tensor | null = null;
      if (g.sh !== 1 || g.sw !== 1) {
        const hd = (g.ho - 1) * g.sh + 1, wd = (g.wo - 1) * g.sw + 1;
        tmp = Tensor.empty([g.n, g.k, hd, wd]);
        stream.dispatch('dilate_zero', {}, { planes: g.n * g.k, ho: g.ho, wo: g.wo, hd, wd, sh: g.sh, sw: g.sw }, [dy.binding, tmp.binding],
          grid1d(Math.ceil((g.n * g.k * hd * wd) / 256)), { bytes: 4 * (dy.size + tmp.size) });
        src = tmp;
        geo = { ...g, ho: hd, wo: wd, sh: 1, sw: 1 };
      }
      const name = need('conv2d_bwd_data_igemm');
      const ov: Record<string, number> = { ...tuned(name), KH: g.kh, KW: g.kw };
      const wg = ov.WG ?? 8;
      const spi = g.h * Math.ceil(g.w / 4);
      const nper = imagesPerSlice(spi, g.n, wg);
      const { ygrid, zfold } = foldRows(Math.ceil(g.c / 16), Math.ceil(g.n / nper));
      stream.dispatch(name, ov, params(name, geo, { accumulate: 0, ygrid, zfold, nper }),
        [src.binding, w.binding, dx.binding], [Math.ceil((nper * spi) / wg), ygrid, Math.ceil(g.n / nper) * zfold], cost);
      tmp?.dispose();
      return;
    }
    const name = need('conv2d_bwd_data_direct');
    const d = directDispatch(name, g, 'data');
    stream.dispatch(name, d.ov, params(name, g, { accumulate: 0, ...d.extra }), [dy.binding, w.binding, dx.binding], d.grid, cost);
  },

  backwardWeight(x: Tensor, dy: Tensor, dw: Tensor, g: ConvGeom): void {
    const cost = { flops: convFlops(g), bytes: 4 * (x.size + dy.size + dw.size) };
    // 1x1 convolutions take the implicit-GEMM path too: a GEMM over N*HW cannot be one strided view of NCHW.
    if (igemmOk(g)) {
      const name = need('conv2d_bwd_weight_igemm');
      const ov: Record<string, number> = { ...tuned(name), KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw };
      const wg = ov.WG ?? 8;
      const grid: [number, number, number] = [Math.ceil((g.c * g.kh) / wg), Math.ceil(g.k / 16), 1];
      splitWeightGrad(g, dw, grid[0] * grid[1], (nsplit, nper, out) => {
        stream.dispatch(name, ov, params(name, g, { accumulate: 0, nsplit, nper }), [x.binding, dy.binding, out.binding], [grid[0], grid[1], nsplit], cost);
      });
      return;
    }
    const name = need('conv2d_bwd_weight_direct');
    const d = directDispatch(name, g, 'weight');
    splitWeightGrad(g, dw, d.grid[0] * d.grid[1], (nsplit, nper, out) => {
      stream.dispatch(name, d.ov, params(name, g, { accumulate: 0, ...d.extra, nsplit, nper }), [x.binding, dy.binding, out.binding], [d.grid[0], d.grid[1], nsplit], cost);
    });
  },
};

/**
 * Split-K over images for the weight gradient: nsplit partial slices (z of the dispatch), then one reduction.
 * The split comes from the tuning table ('conv2d_bwd_weight.nsplit'; -1 = enough workgroups for a wide GPU).
 */
function splitWeightGrad(g: ConvGeom, dw: Tensor, workgroups: number, launch: (nsplit: number, nper: number, out: Tensor) => void): void {
  const k = knob('conv2d_bwd_weight.nsplit', 1);
  let nsplit = k > 0 ? k : Math.ceil(2048 / Math.max(1, workgroups));
  nsplit = Math.max(1, Math.min(nsplit, g.n, 65535));
  const nper = Math.ceil(g.n / nsplit);
  nsplit = Math.ceil(g.n / nper);
  if (nsplit === 1) { launch(1, g.n, dw); return; }
  const len = dw.size;
  const part = Tensor.empty([nsplit, len]);
  launch(nsplit, nper, part);
  const groups = Math.ceil(len / (4 * 64));
  const wgx = Math.min(groups, 65535);
  stream.dispatch('conv2d_bwd_weight_reduce', {}, { len, nsplit, accumulate: 0, wgx }, [part.binding, dw.binding], [wgx, Math.ceil(groups / wgx), 1],
    { flops: nsplit * len, bytes: 4 * (nsplit + 1) * len });
  part.dispose();
}

interface Phase { a: number; b: number; r0: number; s0: number; kh: number; kw: number; ph: number; pw: number; h: number; w: number; empty: boolean }

/**
 * The sh x sw phases of a strided input gradient. Rows ih = sh i + a receive the taps r = r0 + sh t,
 * r0 = (a + ph) mod sh, from dy row i + (a + ph - r0)/sh - t: a stride-1 gradient with padding (a + ph - r0)/sh.
 */
function stridePhases(g: ConvGeom): Phase[] {
  const out: Phase[] = [];
  const axis = (a: number, s: number, p: number, k: number, size: number) => {
    const r0 = (a + p) % s;
    const taps = r0 < k ? Math.ceil((k - r0) / s) : 0;
    return { r0, taps, pad: (a + p - r0) / s, len: a < size ? Math.ceil((size - a) / s) : 0 };
  };
  for (let a = 0; a < g.sh; a++) {
    for (let b = 0; b < g.sw; b++) {
      const y = axis(a, g.sh, g.ph, g.kh, g.h), x = axis(b, g.sw, g.pw, g.kw, g.w);
      const empty = y.taps === 0 || x.taps === 0 || y.len === 0 || x.len === 0;
      out.push({ a, b, r0: y.r0, s0: x.r0, kh: y.taps, kw: x.taps, ph: y.pad, pw: x.pad, h: y.len, w: x.len, empty });
    }
  }
  return out;
}

/** Every non-empty phase fits the stride-1 implicit-GEMM kernel (padding below the tap count, KW <= 8). */
function phasesOk(g: ConvGeom): boolean {
  return stridePhases(g).every((q) => q.empty || (q.ph < q.kh && q.pw < q.kw && q.kw <= 8));
}

/** Images whose 4-pixel strips share one x range: enough to fill a few workgroups when maps are small
 *  (a 4x4 map has 4 strips: alone it leaves half of an 8-lane workgroup idle), one image when they are large. */
function imagesPerSlice(stripsPerImage: number, n: number, wg: number): number {
  const target = 8 * wg;
  if (stripsPerImage >= target) return 1;
  return Math.max(1, Math.min(n, Math.floor(65535 * wg / stripsPerImage), Math.ceil(target / stripsPerImage)));
}

/** Direct kernels (see their headers): fwd/data tile 4-pixel strips of one channel per invocation, channels over
 *  y (folded into z with the batch); weight: one dw element per invocation over a folded 1-D grid. */
function directDispatch(name: KernelName, g: ConvGeom, which: 'fwd' | 'data' | 'weight'): { ov: Record<string, number>; grid: [number, number, number]; extra: Record<string, number> } {
  const ov = tuned(name);
  const wg = ov.WG ?? (kernels[name] as KernelSpec).overrides.WG?.default ?? 8;
  if (which === 'weight') {
    const len = g.k * (g.c / g.groups) * g.kh * g.kw;
    const groups = Math.ceil(len / wg);
    const wgx = Math.min(groups, 65535);
    return { ov, grid: [wgx, Math.ceil(groups / wgx), 1], extra: { nsplit: 1, nper: g.n, wgx } };
  }
  const [chans, rows, cols] = which === 'fwd' ? [g.k, g.ho, g.wo] : [g.c, g.h, g.w];
  const spi = rows * Math.ceil(cols / 4);
  const nper = imagesPerSlice(spi, g.n, wg);
  const { ygrid, zfold } = foldRows(chans, Math.ceil(g.n / nper));
  return { ov, grid: [Math.ceil((nper * spi) / wg), ygrid, Math.ceil(g.n / nper) * zfold], extra: { ygrid, zfold, nper } };
}

export function convGeometry(x: Tensor, w: Tensor, opts: Conv2dOptions): ConvGeom {
  const [sh, sw] = pair(opts.stride ?? 1);
  const [ph, pw] = pair(opts.padding ?? 0);
  const groups = opts.groups ?? 1;
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [k, cg, kh, kw] = w.shape as [number, number, number, number];
  if (![sh, sw, groups].every((v) => Number.isInteger(v) && v >= 1) || ![ph, pw].every((v) => Number.isInteger(v) && v >= 0)) {
    throw opError('conv2d', `stride and groups must be positive integers and padding non-negative, got stride ${sh}x${sw} padding ${ph}x${pw} groups ${groups}`);
  }
  if (c % groups !== 0 || k % groups !== 0) throw opError('conv2d', `groups ${groups} must divide input channels ${c} and output channels ${k}`);
  if (cg !== c / groups) throw opError('conv2d', `weight ${w.label()} expects ${cg * groups} input channels (groups ${groups}), input ${x.label()} has ${c}`);
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1, wo = Math.floor((wd + 2 * pw - kw) / sw) + 1;
  if (ho < 1 || wo < 1) throw opError('conv2d', `input ${x.label()} with padding ${ph}x${pw} is smaller than the kernel ${kh}x${kw}`);
  return { n, c, h, w: wd, k, kh, kw, sh, sw, ph, pw, groups, ho, wo };
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  checkTensor('conv2d', 'x', x); checkTensor('conv2d', 'weight', w);
  checkF32('conv2d', 'x', x); checkF32('conv2d', 'weight', w);
  checkRank('conv2d', 'x', x, 4); checkRank('conv2d', 'weight', w, 4);
  const g = convGeometry(x, w, opts);
  if (bias) {
    checkTensor('conv2d', 'bias', bias);
    if (bias.shape.length !== 1 || bias.shape[0] !== g.k) throw opError('conv2d', `bias ${bias.label()} must be [${g.k}]`);
  }
  const y = Tensor.empty([g.n, g.k, g.ho, g.wo]);
  conv2dRaw.forward(x, w, bias, y, g);
  const inputs = bias ? [x, w, bias] : [x, w];
  record('conv2d', inputs, y, [x, w], (dy, [sx, sw], needs) => {
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (needs[0]) { dx = Tensor.empty(x.shape); conv2dRaw.backwardData(dy, sw!, dx, g); }
    if (needs[1]) { dw = Tensor.empty(w.shape); conv2dRaw.backwardWeight(sx!, dy, dw, g); }
    if (bias && needs[2]) db = noGrad(() => sum(dy, [0, 2, 3]));
    return [dx, dw, db];
  });
  return y;
}
