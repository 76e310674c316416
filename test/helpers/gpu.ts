// GPU test support: acquire the device (a missing adapter is a failure with install instructions, never a skip),
// upload/download float64 data, and compare with tolerances written next to their reasons.
import { initGpu, destroyGpu, gpuContext } from '../../src/gpu/device.js';
import { stream } from '../../src/gpu/stream.js';
import { variantCounts } from '../../src/gpu/variants.js';
import { Tensor, setPoison } from '../../src/autograd/tensor.js';

/**
 * Acquire the device (SIMREG_ADAPTER picks it; a missing one fails with what to install) and name it in the
 * output; every uninitialised tensor starts as NaN, so unwritten outputs fail comparisons.
 */
export async function setupGpu(): Promise<void> {
  await initGpu();
  const g = gpuContext();
  console.log(`# adapter ${g.adapterName} (${g.info.device || g.info.description}; subgroups ${g.subgroupMinSize}-${g.subgroupMaxSize})`);
  setPoison(true);
}

/** Release the device and print every kernel variant that ran in this file (test/run.mjs sums them per adapter). */
export async function teardownGpu(): Promise<void> {
  await stream.sync();
  // uvu's progress dots share a line with the first output: start on a fresh one.
  console.log('');
  for (const [v, n] of Object.entries(variantCounts()).sort()) console.log(`# variant ${v} ran ${n}`);
  destroyGpu();
}

export function toGpu(x: Float64Array | number[], shape: number[], requiresGrad = false): Tensor {
  const t = Tensor.fromArray(Float32Array.from(x), shape);
  t.requiresGrad = requiresGrad;
  return t;
}

export async function toHost(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.read());
}

/** Upload a buffer filled with NaN so untouched outputs are caught. */
export function nanTensor(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(new Float32Array(n).fill(NaN), shape);
}

export interface CloseReport { ok: boolean; maxAbs: number; maxRel: number; worst: number; got: number; want: number; nanAt: number }

/**
 * |got - want| <= atol + rtol*|want| elementwise. NaN must match NaN: a NaN on one side only fails, whichever
 * side (a twin that says NaN where the GPU computed a number is as wrong as the reverse); infinities must match
 * exactly. For float32 sums of K terms the error grows like sqrt(K)*2^-24*sum|terms|: callers pass rtol/atol
 * from that.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): CloseReport {
  if (got.length !== want.length) throw new Error(`compare: length ${got.length} vs ${want.length}`);
  let maxAbs = 0, maxRel = 0, worst = -1, worstExcess = 0, nanAt = -1;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Number.isNaN(g) || Number.isNaN(w)) { if (Number.isNaN(g) !== Number.isNaN(w) && nanAt < 0) nanAt = i; continue; }
    if (!Number.isFinite(g) || !Number.isFinite(w)) { if (g !== w && nanAt < 0) nanAt = i; continue; }
    const d = Math.abs(g - w);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(w), 1e-30));
    const excess = d - (atol + rtol * Math.abs(w));
    if (excess > worstExcess || worst < 0) { if (excess > worstExcess) worstExcess = excess; if (excess > 0 || worst < 0) worst = i; }
  }
  const ok = nanAt < 0 && worstExcess <= 0;
  return { ok, maxAbs, maxRel, worst, got: worst >= 0 ? got[worst]! : NaN, want: worst >= 0 ? want[worst]! : NaN, nanAt };
}

export function assertClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): CloseReport {
  const r = compare(got, want, atol, rtol);
  if (!r.ok) {
    const where = r.nanAt >= 0 ? `index ${r.nanAt}: got ${got[r.nanAt]}, want ${want[r.nanAt]} (NaN or infinity on one side only)` : `worst index ${r.worst}: got ${r.got}, want ${r.want}`;
    throw new Error(`${label}: mismatch (${where}; maxAbs ${r.maxAbs.toExponential(3)}, atol ${atol}, rtol ${rtol})`);
  }
  return r;
}
