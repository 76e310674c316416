// conv2d, NCHW, weight [K, C/groups, kh, kw]: forward, input gradient, weight gradient and bias gradient as
// separate launches. Each pass is a variant family (data, below): 1x1 convolutions as batched GEMMs, implicit
// GEMM subgroup kernels for groups = 1 with small kernels, stride phases for strided input gradients, split-K
// weight gradients, and direct kernels that take everything (groups, depthwise, large strides).
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { noGrad } from '../autograd/scope.js';
import { stream, gridFor, workgroupSize, type DispatchArgs, type Grid, type Overrides } from '../gpu/stream.js';
import { gpuContext } from '../gpu/device.js';
import { tuned, knob } from '../gpu/tuning.js';
import { Family, type Variant, type AdapterCaps } from '../gpu/variants.js';
import { kernels, type KernelName } from '../gen/kernels.gen.js';
import type { KernelSpec } from '../gpu/spec.js';
import { checkTensor, checkF32, checkRank, opError, dummyTensor } from './util.js';
import { gemm, gemmGeom, gemmFamily, foldRows, laneGroup, type GemmGeom } from './gemm.js';
import { sum } from './reduce.js';
import { fillInPlace } from './accumulate.js';

export interface ConvGeom {
  n: number; c: number; h: number; w: number; k: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; groups: number; ho: number; wo: number;
}

export interface Conv2dOptions { stride?: number | [number, number]; padding?: number | [number, number]; groups?: number }

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);


const is1x1 = (g: ConvGeom) => g.kh === 1 && g.kw === 1 && g.ph === 0 && g.pw === 0 && g.groups === 1;
/** The implicit-GEMM kernels' shape limits (see their headers). */
const igemmShape = (g: ConvGeom): true | string =>
  g.groups !== 1 ? `groups ${g.groups} (implicit GEMM needs groups = 1)` :
    g.kw > 8 ? `kernel width ${g.kw} > 8` : 4 * g.sw + g.kw - 1 > 16 ? `stride ${g.sw} with kernel width ${g.kw} spans more than 16 input columns per strip` : true;
const both = (...r: (true | string)[]): true | string => r.find((x) => x !== true) ?? true;
/** The vec4-window kernels' extra limits: the 3+KW input columns of a strip lie in three aligned vec4 of a row. */
const v4Window = (g: ConvGeom, w: number, sw: number, pw: number): true | string =>
  sw !== 1 ? `stride ${sw} along rows (the vec4 window is for stride 1)` : w % 4 !== 0 ? `rows ${w} wide (the vec4 window needs a multiple of 4)` :
    pw > 4 || g.kw - pw > 5 ? `padding ${pw} with kernel width ${g.kw} leaves the three vec4 around a strip` : true;

/** The kernel's Params, picked by name from the geometry and the extra fields (the reflected struct decides). */
function params<K extends KernelName>(name: K, g: ConvGeom, extra: Record<string, number>): DispatchArgs<K>['params'] {
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
  return out as DispatchArgs<K>['params'];
}

const convFlops = (g: ConvGeom) => 2 * g.n * g.ho * g.wo * g.k * (g.c / g.groups) * g.kh * g.kw;
const describe = (g: ConvGeom) => `n${g.n} c${g.c} ${g.h}x${g.w} -> k${g.k} ${g.kh}x${g.kw} s${g.sh}x${g.sw} p${g.ph}x${g.pw} g${g.groups}`;

/** Images whose 4-pixel strips share one x range: enough to fill a few workgroups when maps are small
 *  (a 4x4 map has 4 strips: alone it leaves half of an 8-lane workgroup idle), one image when they are large. */
function imagesPerSlice(stripsPerImage: number, n: number, wg: number): number {
  const target = 8 * wg;
  if (stripsPerImage >= target) return 1;
  return Math.max(1, Math.min(n, Math.floor(65535 * wg / stripsPerImage), Math.ceil(target / stripsPerImage)));
}

/** Grid of the strip kernels (igemm fwd/data, direct fwd/data): x over the 4-pixel strips of nper images, y/z over
 *  channel tiles of `tile` channels (folded into z with the image slices). */
function stripGrid(rows: number, cols: number, chans: number, tile: number, n: number, wg: number): { grid: Grid; ygrid: number; zfold: number; nper: number } {
  const spi = rows * Math.ceil(cols / 4);
  const nper = imagesPerSlice(spi, n, wg);
  const { ygrid, zfold } = foldRows(Math.ceil(chans / tile), Math.ceil(n / nper));
  return { grid: [Math.ceil((nper * spi) / wg), ygrid, Math.ceil(n / nper) * zfold], ygrid, zfold, nper };
}

type ConvVariant<A> = Variant<ConvGeom, A>;
/** The forward pass's geometry: the bias decides whether the 1x1 GEMM path applies. */
export type FwdGeom = ConvGeom & { bias: boolean };
export interface FwdTensors { x: Tensor; w: Tensor; bias: Tensor | null; y: Tensor }
export interface DataTensors { dy: Tensor; w: Tensor; dx: Tensor }
export interface WeightTensors { x: Tensor; dy: Tensor; dw: Tensor }

const sgRequires = { subgroupSize: { min: 4 } } as const;
const layerOverrides = (g: ConvGeom, caps: AdapterCaps) => ({ KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw, SG: laneGroup(caps) });
const v4Overrides = (g: ConvGeom, caps: AdapterCaps) => ({ KH: g.kh, KW: g.kw, SH: g.sh, PW: g.pw, SG: laneGroup(caps) });

/** The 1x1 stride-1 convolution as a batched GEMM over images: its geometry and the GEMM variant that would run. */
const gemm1x1Grid = (gg: GemmGeom): Grid => {
  const v = gemmFamily.choose(gg);
  return v.grid(gg, gemmFamily.overridesFor(v, gg));
};
const fwdGemm = (g: ConvGeom): GemmGeom => gemmGeom({ a: null!, b: null!, c: null!, m: g.k, n: g.h * g.w, k: g.c, batch: g.n, strideA: 0, strideB: g.c * g.h * g.w, strideC: g.k * g.h * g.w });
const dataGemm = (g: ConvGeom): GemmGeom => gemmGeom({ a: null!, b: null!, c: null!, m: g.c, n: g.ho * g.wo, k: g.k, transA: true, batch: g.n, strideA: 0, strideB: g.k * g.ho * g.wo, strideC: g.c * g.ho * g.wo });

// ---- Winograd F(2x2, 3x3) ----------------------------------------------------------------------------------
// A stride-1 3x3 convolution as 16 GEMMs over 2x2 output tiles: U = G g G^T per filter, V = B^T d B per 4x4
// input patch, M[e] = U[e] V[e] (one batched GEMM, 16 matrices), Y = A^T M A per tile. 2.25x fewer
// multiplications than the direct sum; the transforms are elementwise passes. Rounding differs from the direct
// sum (the transforms add and halve): the tests allow for it. The input gradient is the same computation on dy
// with the filter rotated 180 degrees and transposed, and padding 2 - p.

const winoShape = (g: ConvGeom): true | string =>
  g.groups !== 1 ? `groups ${g.groups}` : g.kh !== 3 || g.kw !== 3 ? `a ${g.kh}x${g.kw} kernel (Winograd F(2x2,3x3) takes 3x3)` :
    g.sh !== 1 || g.sw !== 1 ? `stride ${g.sh}x${g.sw} (Winograd takes stride 1)` : g.ph !== g.pw ? 'unequal padding' : true;

/**
 * One Winograd convolution of `src` [N, cin, h, w] with the 3x3 filters `w` into `dst` [N, cout, oh, ow], stride 1
 * and padding `pad`; `flip` = the input gradient (w is [cin', cout', 3, 3] of the forward layer, used rotated and
 * transposed). Images go in chunks and output channels in blocks, so that each temporary (transformed inputs,
 * filters, products) stays within the binding limit and within the `conv2d.winograd.chunk_floats` knob: the
 * temporaries add little to peak memory, and the GEMMs stay wide (N = the chunk's tiles).
 */
function winograd(src: Tensor, w: Tensor, flip: boolean, dst: Tensor, bias: Tensor | null, n: number, cin: number, h: number, w_: number, cout: number, oh: number, ow: number, pad: number): void {
  const th = Math.ceil(oh / 2), tw = Math.ceil(ow / 2), per = th * tw;
  const cap = Math.min((gpuContext().limits.maxStorageBufferBindingSize ?? 2 ** 27) / 4, knob('conv2d.winograd.chunk_floats', 2 ** 20));
  const nimg = Math.max(1, Math.min(n, Math.floor(cap / (16 * Math.max(cin, cout) * per + 4))));
  const kb = Math.max(1, Math.min(cout, Math.floor(cap / (16 * cin))));
  const filters = (r0: number, rb: number) => {
    const u = Tensor.empty([16, rb, cin]);
    // forward: w is [cout, cin, 3, 3]; input gradient: w is [cin, cout, 3, 3] (K = cin here, C = cout).
    const [K, C] = flip ? [cin, cout] : [cout, cin];
    stream.dispatch('wino_weight', { params: { K, C, flip: flip ? 1 : 0, r0, rb }, bind: { w, u }, grid: gridFor('wino_weight', rb * cin), cost: { flops: 28 * rb * cin, bytes: 4 * 25 * rb * cin } });
    return u;
  };
  const whole = kb >= cout ? filters(0, cout) : null;
  for (let n0 = 0; n0 < n; n0 += nimg) {
    const T = Math.min(nimg, n - n0) * per, Tp = Math.ceil(T / 4) * 4;
    const v = Tensor.empty([16, cin, Tp]);
    stream.dispatch('wino_input', {
      params: { C: cin, H: h, W: w_, pad, tiles_h: th, tiles_w: tw, n0, T, Tp }, bind: { x: src, v }, grid: gridFor('wino_input', cin * Tp),
      cost: { flops: 32 * cin * T, bytes: 4 * 32 * cin * T },
    });
    for (let k0 = 0; k0 < cout; k0 += kb) {
      const rb = Math.min(kb, cout - k0);
      const u = whole ?? filters(k0, rb);
      const m = Tensor.empty([16, rb, Tp]);
      gemm({ a: u, b: v, c: m, m: rb, n: Tp, k: cin, batch: 16, strideA: rb * cin, strideB: cin * Tp, strideC: rb * Tp });
      if (!whole) u.dispose();
      stream.dispatch('wino_output', {
        params: { K: cout, Ho: oh, Wo: ow, tiles_h: th, tiles_w: tw, n0, T, Tp, use_bias: bias ? 1 : 0, k0, kb: rb }, bind: { m, bias: bias ?? dummyTensor(), y: dst },
        grid: gridFor('wino_output', rb * T), cost: { flops: 24 * rb * T, bytes: 4 * 20 * rb * T },
      });
      m.dispose();
    }
    v.dispose();
  }
  whole?.dispose();
}

// ---- forward ------------------------------------------------------------------------------------------------

/** The forward kernels that walk 4-pixel output strips (16 output channels a workgroup, or 1 for the direct one). */
type FwdStripKernel = 'conv2d_fwd_igemm' | 'conv2d_fwd_igemm_v4' | 'conv2d_fwd_direct';
const fwdStripGrid = (name: FwdStripKernel, g: ConvGeom, ov: Overrides) =>
  stripGrid(g.ho, g.wo, g.k, name === 'conv2d_fwd_direct' ? 1 : 16, g.n, workgroupSize(name, ov)[0]);
function fwdStrips(name: FwdStripKernel, g: FwdGeom, t: FwdTensors, ov: Overrides): void {
  const d = fwdStripGrid(name, g, ov);
  stream.dispatch(name, {
    params: params(name, g, { use_bias: t.bias ? 1 : 0, ygrid: d.ygrid, zfold: d.zfold, nper: d.nper }),
    bind: { x: t.x, w: t.w, bias: t.bias ?? dummyTensor(), y: t.y }, grid: d.grid, overrides: ov,
    cost: { flops: convFlops(g), bytes: 4 * (t.x.size + t.w.size + t.y.size) },
  });
}

/** conv2d forward variants: 1x1 as a GEMM, implicit GEMM (subgroups), direct (any groups, kernel, stride). */
export const convFwdFamily = new Family<FwdGeom, FwdTensors>('conv2d.fwd', [
  {
    name: 'gemm1x1', kernels: [],
    fits: (g) => (!is1x1(g) || g.sh !== 1 || g.sw !== 1 ? 'only 1x1 stride-1 unpadded convolutions with groups = 1' : g.bias ? 'a bias (the GEMM adds biases per column, not per output channel)' : true),
    grid: (g) => gemm1x1Grid(fwdGemm(g)),
    run: (g, t) => {
      const hw = g.h * g.w;
      gemm({ a: t.w, b: t.x, c: t.y, m: g.k, n: hw, k: g.c, batch: g.n, strideA: 0, strideB: g.c * hw, strideC: g.k * hw });
    },
  },
  {
    name: 'igemm', kernels: ['conv2d_fwd_igemm'], requires: sgRequires, fits: igemmShape,
    grid: (g, ov) => fwdStripGrid('conv2d_fwd_igemm', g, ov).grid, overrides: layerOverrides,
    run: (g, t, ov) => fwdStrips('conv2d_fwd_igemm', g, t, ov),
  },
  {
    name: 'igemm_v4', kernels: ['conv2d_fwd_igemm_v4'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), v4Window(g, g.w, g.sw, g.pw)),
    grid: (g, ov) => fwdStripGrid('conv2d_fwd_igemm_v4', g, ov).grid, overrides: v4Overrides,
    run: (g, t, ov) => fwdStrips('conv2d_fwd_igemm_v4', g, t, ov),
  },
  {
    // Stride-1 3x3: Winograd F(2x2, 3x3), 2.25x fewer multiplications (the GEMMs go through the gemm family).
    name: 'winograd', kernels: ['wino_input', 'wino_weight', 'wino_output'], fits: winoShape,
    grid: (g, ov) => gridFor('wino_input', g.c * Math.ceil(Math.ceil(g.ho / 2) * Math.ceil(g.wo / 2) * g.n / 4) * 4, ov),
    run: (g, t) => {
      winograd(t.x, t.w, false, t.y, t.bias, g.n, g.c, g.h, g.w, g.k, g.ho, g.wo, g.ph);
    },
  },
  {
    name: 'direct', kernels: ['conv2d_fwd_direct'], fits: () => true, grid: (g, ov) => fwdStripGrid('conv2d_fwd_direct', g, ov).grid,
    run: (g, t, ov) => fwdStrips('conv2d_fwd_direct', g, t, ov),
  },
], describe);

// ---- input gradient -----------------------------------------------------------------------------------------

type DataIgemmKernel = 'conv2d_bwd_data_igemm' | 'conv2d_bwd_data_igemm_v4';
const dataIgemmGrid = (g: ConvGeom, ov: Overrides, name: DataIgemmKernel = 'conv2d_bwd_data_igemm') =>
  stripGrid(g.h, g.w, g.c, 16, g.n, workgroupSize(name, ov)[0]);
const dataDirectGrid = (g: ConvGeom, ov: Overrides) => stripGrid(g.h, g.w, g.c, 1, g.n, workgroupSize('conv2d_bwd_data_direct', ov)[0]);

/** One stride-1 implicit-GEMM input gradient (geometry `g` has sh = sw = 1) from `dy` into `dx`. */
function dataIgemm(g: ConvGeom, dy: Tensor, w: Tensor, dx: Tensor, ov: Overrides, name: DataIgemmKernel = 'conv2d_bwd_data_igemm'): void {
  const d = dataIgemmGrid(g, ov, name);
  stream.dispatch(name, {
    params: params(name, g, { ygrid: d.ygrid, zfold: d.zfold, nper: d.nper }),
    bind: { dy, w, dx }, grid: d.grid, overrides: { ...ov, KH: g.kh, KW: g.kw },
    cost: { flops: 2 * g.n * g.h * g.w * g.c * g.k * g.kh * g.kw, bytes: 4 * (dy.size + w.size + dx.size) },
  });
}

/** Zero-insert dy (stride s -> 1): the fallback for strided input gradients whose phases the kernel cannot take. */
function dilate(dy: Tensor, g: ConvGeom): Tensor {
  const hd = (g.ho - 1) * g.sh + 1, wd = (g.wo - 1) * g.sw + 1;
  const out = Tensor.empty([g.n, g.k, hd, wd]);
  stream.dispatch('dilate_zero', {
    params: { planes: g.n * g.k, ho: g.ho, wo: g.wo, hd, wd, sh: g.sh, sw: g.sw }, bind: { dy, yd: out },
    grid: gridFor('dilate_zero', out.size), cost: { bytes: 4 * (dy.size + out.size) },
  });
  return out;
}

const strided = (g: ConvGeom) => g.sh > 1 || g.sw > 1;

/** conv2d input-gradient variants (see each one's comment); all write dx (=). */
export const convDataFamily = new Family<ConvGeom, DataTensors>('conv2d.bwd_data', [
  {
    // W^T dy per image, one batched GEMM.
    name: 'gemm1x1', kernels: [],
    fits: (g) => (is1x1(g) && !strided(g) ? true : 'only 1x1 stride-1 unpadded convolutions with groups = 1'),
    grid: (g) => gemm1x1Grid(dataGemm(g)),
    run: (g, t) => {
      const hw = g.h * g.w;
      gemm({ a: t.w, b: t.dy, c: t.dx, m: g.c, n: hw, k: g.k, transA: true, batch: g.n, strideA: 0, strideB: g.k * hw, strideC: g.c * hw });
    },
  },
  {
    // Strided 1x1 (ResNet's downsample): W^T dy per image by GEMM, then scattered to every s-th pixel of dx
    // (zeros elsewhere); no work is spent on the zeros.
    name: 'gemm1x1_scatter', kernels: ['dilate_zero'],
    fits: (g) => (is1x1(g) && strided(g) ? true : 'only strided 1x1 unpadded convolutions with groups = 1'),
    grid: (g, ov) => gridFor('dilate_zero', g.n * g.c * g.h * g.w, ov),
    run: (g, t, ov) => {
      const ohw = g.ho * g.wo;
      const tmp = Tensor.empty([g.n, g.c, g.ho, g.wo]);
      gemm({ a: t.w, b: t.dy, c: tmp, m: g.c, n: ohw, k: g.k, transA: true, batch: g.n, strideA: 0, strideB: g.k * ohw, strideC: g.c * ohw });
      stream.dispatch('dilate_zero', {
        params: { planes: g.n * g.c, ho: g.ho, wo: g.wo, hd: g.h, wd: g.w, sh: g.sh, sw: g.sw }, bind: { dy: tmp, yd: t.dx },
        grid: gridFor('dilate_zero', g.n * g.c * g.h * g.w, ov), overrides: ov, cost: { bytes: 4 * (tmp.size + t.dx.size) },
      });
      tmp.dispose();
    },
  },
  {
    // Strided: dx splits into sh x sw phases; each is a stride-1 input gradient over dy with that phase's taps
    // (weight_phase), written into its positions of dx (phase_scatter). No work on the zeros a dilation adds.
    name: 'igemm_phases', kernels: ['conv2d_bwd_data_igemm', 'weight_phase', 'phase_scatter'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), strided(g) ? true : 'stride 1 (no phases)', phasesOk(g) ? true : 'a phase has padding >= its taps or more than 8 taps'),
    grid: (g, ov) => dataIgemmGrid({ ...g, h: Math.ceil(g.h / g.sh), w: Math.ceil(g.w / g.sw) }, ov).grid,
    overrides: (_g, caps) => ({ SG: laneGroup(caps) }),
    run: (g, t, ov) => {
      const phases = stridePhases(g);
      if (phases.some((q) => q.empty)) fillInPlace(t.dx, 0);
      for (const q of phases) {
        if (q.empty) continue;
        const wp = Tensor.empty([g.k, g.c, q.kh, q.kw]);
        stream.dispatch('weight_phase', {
          params: { kc: g.k * g.c, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, r0: q.r0, s0: q.s0, khp: q.kh, kwp: q.kw },
          bind: { w: t.w, wp }, grid: gridFor('weight_phase', wp.size), cost: { bytes: 8 * wp.size },
        });
        const sub: ConvGeom = { ...g, h: q.h, w: q.w, kh: q.kh, kw: q.kw, sh: 1, sw: 1, ph: q.ph, pw: q.pw };
        const part = Tensor.empty([g.n, g.c, q.h, q.w]);
        dataIgemm(sub, t.dy, wp, part, ov);
        stream.dispatch('phase_scatter', {
          params: { planes: g.n * g.c, hp: q.h, wp: q.w, h: g.h, w: g.w, sh: g.sh, sw: g.sw, a: q.a, b: q.b },
          bind: { src: part, dx: t.dx }, grid: gridFor('phase_scatter', part.size), cost: { bytes: 8 * part.size },
        });
        wp.dispose();
        part.dispose();
      }
    },
  },
  {
    // Stride 1: the forward convolution of dy with the flipped, transposed filter.
    name: 'igemm', kernels: ['conv2d_bwd_data_igemm'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), strided(g) ? `stride ${g.sh}x${g.sw} (this variant is stride 1)` : true, g.ph < g.kh && g.pw < g.kw ? true : 'padding >= kernel size'),
    grid: (g, ov) => dataIgemmGrid(g, ov).grid, overrides: (_g, caps) => ({ SG: laneGroup(caps) }),
    run: (g, t, ov) => dataIgemm(g, t.dy, t.w, t.dx, ov),
  },
  {
    name: 'igemm_v4', kernels: ['conv2d_bwd_data_igemm_v4'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), strided(g) ? `stride ${g.sh}x${g.sw} (this variant is stride 1)` : true,
      g.wo % 4 !== 0 ? `output rows ${g.wo} wide (dy is read as vec4)` : true,
      g.pw > g.kw - 1 || g.pw > 4 || g.kw - 1 - g.pw > 4 ? `padding ${g.pw} with kernel width ${g.kw} leaves the three vec4 around a strip` : true,
      g.ph < g.kh ? true : 'padding >= kernel size'),
    grid: (g, ov) => dataIgemmGrid(g, ov, 'conv2d_bwd_data_igemm_v4').grid, overrides: (g, caps) => ({ PW: g.pw, SG: laneGroup(caps) }),
    run: (g, t, ov) => dataIgemm(g, t.dy, t.w, t.dx, ov, 'conv2d_bwd_data_igemm_v4'),
  },
  {
    // Strided, when the phases do not fit: zero-insert dy (stride s -> 1) and take the stride-1 kernel. It
    // multiplies zeros (s^2 more work), still far ahead of the direct kernel on lavapipe.
    name: 'igemm_dilated', kernels: ['conv2d_bwd_data_igemm', 'dilate_zero'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), strided(g) ? true : 'stride 1 (nothing to dilate)', g.ph < g.kh && g.pw < g.kw ? true : 'padding >= kernel size'),
    grid: (g, ov) => dataIgemmGrid(g, ov).grid, overrides: (_g, caps) => ({ SG: laneGroup(caps) }),
    run: (g, t, ov) => {
      const src = dilate(t.dy, g);
      dataIgemm({ ...g, ho: (g.ho - 1) * g.sh + 1, wo: (g.wo - 1) * g.sw + 1, sh: 1, sw: 1 }, src, t.w, t.dx, ov);
      src.dispose();
    },
  },
  {
    // Stride-1 3x3: the input gradient is a forward convolution of dy with the rotated, transposed filter and
    // padding 2 - p, done by Winograd F(2x2, 3x3).
    name: 'winograd', kernels: ['wino_input', 'wino_weight', 'wino_output'],
    fits: (g) => both(winoShape(g), g.ph <= 2 ? true : `padding ${g.ph} > 2`),
    grid: (g, ov) => gridFor('wino_input', g.k * Math.ceil(Math.ceil(g.h / 2) * Math.ceil(g.w / 2) * g.n / 4) * 4, ov),
    run: (g, t) => {
      winograd(t.dy, t.w, true, t.dx, null, g.n, g.k, g.ho, g.wo, g.c, g.h, g.w, 2 - g.ph);
    },
  },
  {
    name: 'direct', kernels: ['conv2d_bwd_data_direct'], fits: () => true, grid: (g, ov) => dataDirectGrid(g, ov).grid,
    run: (g, t, ov) => {
      const d = dataDirectGrid(g, ov);
      stream.dispatch('conv2d_bwd_data_direct', {
        params: params('conv2d_bwd_data_direct', g, { ygrid: d.ygrid, zfold: d.zfold, nper: d.nper }),
        bind: { dy: t.dy, w: t.w, dx: t.dx }, grid: d.grid, overrides: ov,
        cost: { flops: convFlops(g), bytes: 4 * (t.dy.size + t.w.size + t.dx.size) },
      });
    },
  },
], describe);

// ---- weight gradient ----------------------------------------------------------------------------------------

type WeightIgemmKernel = 'conv2d_bwd_weight_igemm' | 'conv2d_bwd_weight_igemm_v4';
const weightIgemmGrid = (g: ConvGeom, ov: Overrides, nsplit: number, name: WeightIgemmKernel = 'conv2d_bwd_weight_igemm'): Grid =>
  [Math.ceil((g.c * g.kh) / workgroupSize(name, ov)[0]), Math.ceil(g.k / 16), nsplit];
const weightDirectGrid = (g: ConvGeom, ov: Overrides, nsplit: number): Grid => {
  const len = g.k * (g.c / g.groups) * g.kh * g.kw;
  const groups = Math.ceil(len / workgroupSize('conv2d_bwd_weight_direct', ov)[0]);
  const wgx = Math.min(groups, 65535);
  return [wgx, Math.ceil(groups / wgx), nsplit];
};

/**
 * Split-K over images: the split count from the tuning table ('conv2d_bwd_weight.nsplit'; -1 or unset = enough
 * workgroups to fill a wide GPU), at least 2 and at most N.
 */
function splitCount(g: ConvGeom, workgroups: number): { nsplit: number; nper: number } {
  const k = knob('conv2d_bwd_weight.nsplit', -1);
  let nsplit = k > 1 ? k : Math.ceil(2048 / Math.max(1, workgroups));
  nsplit = Math.max(2, Math.min(nsplit, g.n, 65535));
  const nper = Math.ceil(g.n / nsplit);
  return { nsplit: Math.ceil(g.n / nper), nper };
}

/** Partial weight gradients of `nsplit` image slices, then their sum into dw. */
function splitK(dw: Tensor, nsplit: number, launch: (out: Tensor) => void): void {
  const len = dw.size;
  const part = Tensor.empty([nsplit, len]);
  launch(part);
  const ov = tuned('conv2d_bwd_weight_reduce');
  const groups = Math.ceil(len / (4 * workgroupSize('conv2d_bwd_weight_reduce', ov)[0]));
  const wgx = Math.min(groups, 65535);
  stream.dispatch('conv2d_bwd_weight_reduce', {
    params: { len, nsplit, wgx }, bind: { part, out: dw }, grid: [wgx, Math.ceil(groups / wgx), 1], overrides: ov,
    cost: { flops: nsplit * len, bytes: 4 * (nsplit + 1) * len },
  });
  part.dispose();
}

function weightIgemm(g: ConvGeom, t: WeightTensors, ov: Overrides, nsplit: number, nper: number, out: Tensor, name: WeightIgemmKernel = 'conv2d_bwd_weight_igemm'): void {
  stream.dispatch(name, {
    params: params(name, g, { nsplit, nper }), bind: { x: t.x, dy: t.dy, dw: out },
    grid: weightIgemmGrid(g, ov, nsplit, name), overrides: ov, cost: { flops: convFlops(g), bytes: 4 * (t.x.size + t.dy.size + out.size) },
  });
}

function weightDirect(g: ConvGeom, t: WeightTensors, ov: Overrides, nsplit: number, nper: number, out: Tensor): void {
  const grid = weightDirectGrid(g, ov, nsplit);
  stream.dispatch('conv2d_bwd_weight_direct', {
    params: params('conv2d_bwd_weight_direct', g, { nsplit, nper, wgx: grid[0] }), bind: { x: t.x, dy: t.dy, dw: out },
    grid, overrides: ov, cost: { flops: convFlops(g), bytes: 4 * (t.x.size + t.dy.size + out.size) },
  });
}

/** conv2d weight-gradient variants: implicit GEMM or direct, each whole or split over images (split-K). */
export const convWeightFamily = new Family<ConvGeom, WeightTensors>('conv2d.bwd_weight', [
  {
    // 1x1 convolutions take this path too: a GEMM over N*HW cannot be one strided view of NCHW.
    name: 'igemm', kernels: ['conv2d_bwd_weight_igemm'], requires: sgRequires, fits: igemmShape,
    grid: (g, ov) => weightIgemmGrid(g, ov, 1), overrides: layerOverrides,
    run: (g, t, ov) => weightIgemm(g, t, ov, 1, g.n, t.dw),
  },
  {
    name: 'igemm_v4', kernels: ['conv2d_bwd_weight_igemm_v4'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), v4Window(g, g.w, g.sw, g.pw), g.wo % 4 === 0 ? true : `output rows ${g.wo} wide (dy is read as vec4)`),
    grid: (g, ov) => weightIgemmGrid(g, ov, 1, 'conv2d_bwd_weight_igemm_v4'), overrides: v4Overrides,
    run: (g, t, ov) => weightIgemm(g, t, ov, 1, g.n, t.dw, 'conv2d_bwd_weight_igemm_v4'),
  },
  {
    name: 'igemm_splitk', kernels: ['conv2d_bwd_weight_igemm', 'conv2d_bwd_weight_reduce'], requires: sgRequires,
    fits: (g) => both(igemmShape(g), g.n >= 2 ? true : 'one image (nothing to split)'),
    grid: (g, ov) => { const w = weightIgemmGrid(g, ov, 1); return weightIgemmGrid(g, ov, splitCount(g, w[0] * w[1]).nsplit); },
    overrides: layerOverrides,
    run: (g, t, ov) => {
      const w = weightIgemmGrid(g, ov, 1);
      const { nsplit, nper } = splitCount(g, w[0] * w[1]);
      splitK(t.dw, nsplit, (out) => weightIgemm(g, t, ov, nsplit, nper, out));
    },
  },
  {
    name: 'direct', kernels: ['conv2d_bwd_weight_direct'], fits: () => true,
    grid: (g, ov) => weightDirectGrid(g, ov, 1),
    run: (g, t, ov) => weightDirect(g, t, ov, 1, g.n, t.dw),
  },
  {
    name: 'direct_splitk', kernels: ['conv2d_bwd_weight_direct', 'conv2d_bwd_weight_reduce'],
    fits: (g) => (g.n >= 2 ? true : 'one image (nothing to split)'),
    grid: (g, ov) => { const w = weightDirectGrid(g, ov, 1); return weightDirectGrid(g, ov, splitCount(g, w[0] * w[1]).nsplit); },
    run: (g, t, ov) => {
      const w = weightDirectGrid(g, ov, 1);
      const { nsplit, nper } = splitCount(g, w[0] * w[1]);
      splitK(t.dw, nsplit, (out) => weightDirect(g, t, ov, nsplit, nper, out));
    },
  },
], describe);

/** Raw launches (no tape); outputs are written (=). The variant is chosen by each family. */
export const conv2dRaw = {
  forward(x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, g: ConvGeom): void {
    convFwdFamily.run({ ...g, bias: !!bias }, { x, w, bias, y });
  },
  backwardData(dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeom): void {
    convDataFamily.run(g, { dy, w, dx });
  },
  backwardWeight(x: Tensor, dy: Tensor, dw: Tensor, g: ConvGeom): void {
    convWeightFamily.run(g, { x, dy, dw });
  },
};

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
