// Kernel variant and override choices per adapter. The table is data: measured defaults live here, and
// `bench/kernels.mjs --sweep` writes bench/tune/<adapter>.json, which loadTuning() merges over them.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpuContext } from './device.js';
import type { Overrides } from './stream.js';

export interface PreferRule { variant: string; when: Record<string, { min?: number; max?: number }>; why?: string }

export interface AdapterTuning {
  /** Variant order per family (best first): selection tries these first, then the family's declared order. */
  variants?: Record<string, string[]>;
  /**
   * Shape-dependent preferences per family, tried before `variants`: the first rule whose bounds all hold for the
   * geometry's numeric fields (inclusive min/max) puts its variant first. For choices a single order cannot make,
   * e.g. a variant that wins only on many channels.
   */
  prefer?: Record<string, PreferRule[]>;
  /** Overrides per kernel name. */
  overrides: Record<string, Overrides>;
  /** Launcher choices that are not WGSL overrides (e.g. split-K factors); -1 means "choose by shape". */
  knobs?: Record<string, number>;
}

// Measured on Mesa 25 lavapipe (llvmpipe, 2 cores, 8-lane subgroups): see bench/results and the kernel headers.
const LLVMPIPE: AdapterTuning = {
  // GEMM 1024^3 here: gemm_sg_v4 188 ms, gemm_tiled 741 ms, gemm_wgtile 1107 ms (workgroup barriers cost a CPU
  // adapter more than they save): without subgroups, the register-tiled kernel goes first.
  // The conv kernels' vec4-window variants (rows a multiple of 4 wide) before the scalar-load ones: lavapipe loads
  // a storage value one lane at a time behind a bounds check, a vec4 for about the price of a float, and the
  // vec4 windows cut the per-lane loads of the inner loops from 91 to 55 (weight gradient), 95 to 71 (forward)
  // and 62 to 58 (input gradient) (node bench/codegen.mjs). Measured with node bench/kernels.mjs --only conv --conv N,C,HW,K, default then
  // this order, two rounds, ms per call for fwd + input grad + weight grad: N32 C64 8x8 31.3 -> 28.9 and
  // 38.2 -> 31.7, N32 C128 4x4 34.9 -> 32.5 and 38.8 -> 32.6, the weight gradient gaining most (18.2 -> 15.5,
  // 20.0 -> 14.9 at 4x4). The whole ResNet-18 step (node bench/resnet18.mjs --steps 3, three rounds alternated):
  // 4.51 / 4.62 / 4.71 images/s with them against 4.48 / 4.43 / 4.64 without.
  variants: {
    gemm: ['sg_v4', 'sg', 'tiled', 'wgtile'],
    // (1x1 stride-1 convolutions stay GEMMs)
    'conv2d.fwd': ['gemm1x1', 'igemm_v4'], 'conv2d.bwd_data': ['gemm1x1', 'igemm_v4'], 'conv2d.bwd_weight': ['igemm_v4'],
  },
  overrides: {
    gemm_sg: { WG: 8 },
    gemm_sg_v4: { WG: 8 },
    conv2d_fwd_igemm: { WG: 8 },
    conv2d_fwd_igemm_v4: { WG: 8 },
    conv2d_bwd_data_igemm_v4: { WG: 8 },
    conv2d_bwd_weight_igemm_v4: { WG: 8 },
  },
  // Winograd F(2x2,3x3) against the implicit GEMM, stride-1 3x3 layers of ResNet-18 at batch 32, minimum of 3 runs
  // with each variant forced (ms, igemm / winograd). One sitting: forward C64 32x32 159 / 212, C128 16x16 184 / 158,
  // C256 8x8 123 / 128, C512 4x4 160 / 95; input gradient 179 / 210, 177 / 160, 162 / 97, 161 / 117. Another
  // (bench/kernels.mjs --sweep): forward 186 / 211, 142 / 132, 154 / 110, 190 / 190; input gradient 197 / 208,
  // 145 / 116, 192 / 138, 183 / 193. In the whole model the per-layer gains did not survive its three extra
  // dispatches per layer: ResNet-18 32x32 batch 32 (node bench/resnet18.mjs --steps 3, two interleaved rounds)
  // trained at 2.90 / 2.86 images/s preferring it (forward from 512 channels, input gradient from 256) against
  // 3.03 / 3.03 without, with 362 against 354 MiB peak memory. So it is not preferred here; a tuning file can.
  prefer: {},
  // Splitting the weight-gradient reduction over images gave no gain here (nsplit 1 / 8 / 32: 22.6 / 21.6 /
  // 19.7 GFLOP/s on the bench shape): two cores are busy without it.
  knobs: { 'conv2d_bwd_weight.nsplit': 1 },
};

// Real GPUs: wider workgroups keep more SIMD lanes busy; subgroups are 32 wide on NVIDIA.
const GENERIC_GPU: AdapterTuning = {
  overrides: {
    gemm_sg: { WG: 64 },
    gemm_sg_v4: { WG: 64 },
    conv2d_fwd_igemm: { WG: 64 },
    conv2d_fwd_igemm_v4: { WG: 64 },
  },
  // Thousands of lanes: split small weight-gradient reductions so enough workgroups run (not yet measured).
  knobs: { 'conv2d_bwd_weight.nsplit': -1 },
};

let active: AdapterTuning | null = null;

export function adapterKey(): string {
  const { info } = gpuContext();
  return `${info.vendor}-${info.architecture}-${info.device || info.description}`.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

export function isSoftwareAdapter(): boolean {
  const { info } = gpuContext();
  return /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description} ${info.architecture}`);
}

/** The tuning in force: measured defaults for this kind of adapter, overlaid by a sweep file when present. */
export function tuning(): AdapterTuning {
  if (active) return active;
  const base = isSoftwareAdapter() ? LLVMPIPE : GENERIC_GPU;
  active = { variants: { ...base.variants }, prefer: { ...base.prefer }, overrides: { ...base.overrides }, knobs: { ...base.knobs } };
  const file = tuningFile();
  if (existsSync(file)) {
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as AdapterTuning;
      for (const [k, v] of Object.entries(j.overrides ?? {})) active.overrides[k] = { ...active.overrides[k], ...v };
      for (const [k, v] of Object.entries(j.variants ?? {})) {
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`variants.${k} must be a list of variant names`);
        active.variants![k] = v;
      }
      for (const [k, v] of Object.entries(j.prefer ?? {})) {
        const bound = (b: unknown) => typeof b === 'object' && b !== null && Object.entries(b).every(([n, x]) => (n === 'min' || n === 'max') && typeof x === 'number');
        if (!Array.isArray(v) || v.some((r) => typeof r?.variant !== 'string' || typeof r.when !== 'object' || r.when === null || !Object.values(r.when).every(bound))) {
          throw new Error(`prefer.${k} must be a list of {variant, when: {field: {min, max}}}`);
        }
        active.prefer![k] = v;
      }
      Object.assign(active.knobs!, j.knobs ?? {});
    } catch (e) {
      throw new Error(`tuning file ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  return active;
}

export function tuned(kernel: string): Overrides {
  return tuning().overrides[kernel] ?? {};
}

export function setTuning(kernel: string, o: Overrides): void {
  tuning().overrides[kernel] = { ...tuning().overrides[kernel], ...o };
}

/** Put back a kernel's overrides exactly as they were (a sweep trying candidates). */
export function resetKernelTuning(kernel: string, o: Overrides): void {
  tuning().overrides[kernel] = { ...o };
}

/** The project root: the nearest folder above this bundle with simreg's package.json. */
function projectRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try { if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'simreg') return dir; } catch { /* keep looking */ }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Where this adapter's sweep results live: $SIMREG_TUNING, else bench/tune/<adapter>.json in the project. */
export function tuningFile(): string {
  if (process.env.SIMREG_TUNING) return process.env.SIMREG_TUNING;
  const root = projectRoot() ?? process.cwd();
  return join(root, 'bench', 'tune', `${adapterKey()}.json`);
}

/** Forget the loaded table (after a sweep wrote a new file). */
export function resetTuning(): void {
  active = null;
}

export function knob(name: string, fallback: number): number {
  return tuning().knobs?.[name] ?? fallback;
}

export function setKnob(name: string, v: number): void {
  const t = tuning();
  t.knobs = { ...t.knobs, [name]: v };
}

/** true when every bound of `rule` holds for the numeric fields of `g` (a missing field fails the rule). */
/** Replaces the shape rules of one family (tests and tuning experiments); an empty list removes them. */
export function setPrefer(family: string, rules: PreferRule[]): void {
  const t = tuning();
  t.prefer = { ...t.prefer, [family]: rules };
}

export function ruleHolds(rule: PreferRule, g: unknown): boolean {
  const rec = g as Record<string, unknown>;
  return Object.entries(rule.when).every(([field, b]) => {
    const v = rec?.[field];
    return typeof v === 'number' && (b.min === undefined || v >= b.min) && (b.max === undefined || v <= b.max);
  });
}
