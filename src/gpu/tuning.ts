// Kernel variant and override choices per adapter. The table is data: measured defaults live here, and
// `bench/kernels.mjs --sweep` writes bench/tune/<adapter>.json, which loadTuning() merges over them.
import { readFileSync, existsSync } from 'node:fs';
import { gpuContext } from './device.js';
import type { Overrides } from './stream.js';

export interface AdapterTuning {
  /** Overrides per kernel name. */
  overrides: Record<string, Overrides>;
}

// Measured on Mesa 25 lavapipe (llvmpipe, 2 cores, 8-lane subgroups): see bench/results and the kernel headers.
const LLVMPIPE: AdapterTuning = {
  overrides: {
    gemm_sg: { WG: 8 },
    gemm_sg_v4: { WG: 8 },
    conv2d_fwd_igemm: { WG: 8 },
  },
};

// Real GPUs: wider workgroups keep more SIMD lanes busy; subgroups are 32 wide on NVIDIA.
const GENERIC_GPU: AdapterTuning = {
  overrides: {
    gemm_sg: { WG: 64 },
    gemm_sg_v4: { WG: 64 },
    conv2d_fwd_igemm: { WG: 64 },
  },
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
  active = { overrides: { ...base.overrides } };
  const file = process.env.SIMREG_TUNING ?? new URL(`../bench/tune/${adapterKey()}.json`, import.meta.url).pathname;
  if (existsSync(file)) {
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as AdapterTuning;
      for (const [k, v] of Object.entries(j.overrides ?? {})) active.overrides[k] = { ...active.overrides[k], ...v };
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
