// Kernel variant and override choices per adapter. The table is data: measured defaults live here, and
// `bench/kernels.mjs --sweep` writes bench/tune/<adapter>.json, which loadTuning() merges over them.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpuContext } from './device.js';
import type { Overrides } from './stream.js';

export interface AdapterTuning {
  /** Variant order per family (best first): selection tries these first, then the family's declared order. */
  variants?: Record<string, string[]>;
  /** Overrides per kernel name. */
  overrides: Record<string, Overrides>;
  /** Launcher choices that are not WGSL overrides (e.g. split-K factors); -1 means "choose by shape". */
  knobs?: Record<string, number>;
}

// Measured on Mesa 25 lavapipe (llvmpipe, 2 cores, 8-lane subgroups): see bench/results and the kernel headers.
const LLVMPIPE: AdapterTuning = {
  overrides: {
    gemm_sg: { WG: 8 },
    gemm_sg_v4: { WG: 8 },
    conv2d_fwd_igemm: { WG: 8 },
  },
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
  active = { variants: { ...base.variants }, overrides: { ...base.overrides }, knobs: { ...base.knobs } };
  const file = tuningFile();
  if (existsSync(file)) {
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as AdapterTuning;
      for (const [k, v] of Object.entries(j.overrides ?? {})) active.overrides[k] = { ...active.overrides[k], ...v };
      for (const [k, v] of Object.entries(j.variants ?? {})) {
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`variants.${k} must be a list of variant names`);
        active.variants![k] = v;
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
