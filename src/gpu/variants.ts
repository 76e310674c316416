// Kernel variants as data. An op family (GEMM, the three conv2d passes, batchnorm, each elementwise op) is an
// ordered list of variants; each variant names the kernels it launches, declares what it needs of the adapter
// (optional features, the subgroup sizes it is correct for, device limits), says which geometries it computes
// (`fits`) and how many workgroups its main kernel needs (`grid`, from the workgroup size in force).
// Selection takes the tuning table's order for the family (bench/kernels.mjs --sweep writes it), then the
// declared order, and runs the first variant that this adapter can run correctly and that fits the geometry.
// Every choice is logged, so tests and benches can name the variant that ran; tests can force one.
import { kernels, type KernelName } from '../gen/kernels.gen.js';
import type { KernelSpec } from './spec.js';
import { gpuContext } from './device.js';
import { workgroupSize, type Grid, type Overrides } from './stream.js';
import { tuned, tuning, ruleHolds } from './tuning.js';

export interface Requirements {
  /** Optional device features needed beyond the kernels' own `enable` directives (those are added automatically). */
  features?: readonly string[];
  /**
   * The subgroup sizes the variant is correct for: every size the adapter may use (subgroupMinSize ..
   * subgroupMaxSize) must lie in [min, max]. Omitted: correct for any subgroup size.
   */
  subgroupSize?: { readonly min?: number; readonly max?: number };
  /** Device limits needed at least at these values (e.g. maxComputeWorkgroupStorageSize in bytes). */
  limits?: Readonly<Record<string, number>>;
}

/** What selection reads of the adapter (a fake one in unit tests). */
export interface AdapterCaps {
  readonly name: string;
  readonly features: ReadonlySet<string>;
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
  readonly limits: Readonly<Record<string, number>>;
}

export function adapterCaps(): AdapterCaps {
  const g = gpuContext();
  return { name: g.info.device || g.info.description, features: g.features, subgroupMinSize: g.subgroupMinSize, subgroupMaxSize: g.subgroupMaxSize, limits: g.limits };
}

export interface Variant<G, A> {
  /** Unique within its family; the name tests force and logs print (`family/name`). */
  readonly name: string;
  /** Every kernel it launches, the main one first (the one `grid` sizes). */
  readonly kernels: readonly KernelName[];
  readonly requires?: Requirements;
  /** true when this variant computes the geometry, else why it cannot. */
  fits(g: G): true | string;
  /** Workgroups of the main kernel for this geometry, under its overrides in force. */
  grid(g: G, ov: Overrides): Grid;
  /** Override values of the main kernel that follow from the geometry or the adapter (layer constants, lane groups). */
  overrides?(g: G, caps: AdapterCaps): Overrides;
  /** Record the launches. `ov` = the tuning table's overrides for the main kernel, then `overrides(g)`. */
  run(g: G, args: A, ov: Overrides): void;
}

// WGSL `enable` names -> WebGPU feature names.
const ENABLE_FEATURE: Record<string, string> = { subgroups: 'subgroups', f16: 'shader-f16' };

/** true when `caps` runs every kernel of `v` correctly under the overrides in force, else the first reason it cannot. */
export function supports(v: Variant<never, never>, caps: AdapterCaps, ovFor: (k: KernelName) => Overrides = tuned): true | string {
  const need = new Set(v.requires?.features ?? []);
  for (const k of v.kernels) for (const e of (kernels[k] as KernelSpec).enables) need.add(ENABLE_FEATURE[e] ?? e);
  for (const f of need) if (!caps.features.has(f)) return `needs the ${f} feature, which ${caps.name} does not offer`;
  const sg = v.requires?.subgroupSize;
  if (sg && need.has('subgroups')) {
    if (sg.min !== undefined && caps.subgroupMinSize < sg.min) return `correct only for subgroups of >= ${sg.min} lanes; ${caps.name} may use ${caps.subgroupMinSize}`;
    if (sg.max !== undefined && caps.subgroupMaxSize > sg.max) return `correct only for subgroups of <= ${sg.max} lanes; ${caps.name} may use ${caps.subgroupMaxSize}`;
  }
  for (const [lim, want] of Object.entries(v.requires?.limits ?? {})) {
    const have = caps.limits[lim] ?? 0;
    if (have < want) return `needs ${lim} >= ${want}; ${caps.name} has ${have}`;
  }
  const maxInv = caps.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  const maxDim = [caps.limits.maxComputeWorkgroupSizeX ?? 256, caps.limits.maxComputeWorkgroupSizeY ?? 256, caps.limits.maxComputeWorkgroupSizeZ ?? 64];
  for (const k of v.kernels) {
    const wg = workgroupSize(k, ovFor(k));
    const inv = wg[0] * wg[1] * wg[2];
    if (inv > maxInv) return `kernel ${k} runs ${inv} invocations per workgroup; ${caps.name} allows ${maxInv}`;
    for (let d = 0; d < 3; d++) if (wg[d]! > maxDim[d]!) return `kernel ${k} workgroup size ${wg.join('x')} exceeds ${caps.name}'s limit in dimension ${'xyz'[d]} (${maxDim[d]})`;
  }
  return true;
}

export interface Choice<G, A> { variant: Variant<G, A>; why: true | string }

const registry = new Map<string, Family<any, any>>();
const counts = new Map<string, Map<string, number>>();
const last = new Map<string, string>();
let listener: ((family: string, variant: string) => void) | null = null;

export class Family<G, A> {
  private forced: string | null = null;

  constructor(readonly name: string, readonly variants: readonly Variant<G, A>[], readonly describe: (g: G) => string = (g) => JSON.stringify(g)) {
    if (registry.has(name)) throw new Error(`variant family ${name} defined twice`);
    const names = new Set<string>();
    for (const v of variants) {
      if (names.has(v.name)) throw new Error(`family ${name}: variant ${v.name} defined twice`);
      names.add(v.name);
      for (const k of v.kernels) if (!(k in kernels)) throw new Error(`family ${name}/${v.name}: kernel ${k} is not built`);
    }
    registry.set(name, this);
  }

  variant(name: string): Variant<G, A> {
    const v = this.variants.find((x) => x.name === name);
    if (!v) throw new Error(`family ${this.name} has no variant ${name} (has ${this.variants.map((x) => x.name).join(', ')})`);
    return v;
  }

  /** Run every call on one variant (tests, benches); null restores selection. Throws later if it cannot run a geometry. */
  force(name: string | null): void {
    if (name !== null) this.variant(name);
    this.forced = name;
  }

  get forcedVariant(): string | null {
    return this.forced;
  }

  /**
   * Variants in selection order: with a geometry, the variants of the tuning table's shape rules that hold for it
   * (`prefer`); then the table's order for this family; then the declared order.
   */
  order(g?: G): Variant<G, A>[] {
    const t = tuning();
    const rules = g === undefined ? [] : (t.prefer?.[this.name] ?? []).filter((r) => ruleHolds(r, g)).map((r) => r.variant);
    const pref = [...rules, ...(t.variants?.[this.name] ?? [])];
    const out: Variant<G, A>[] = [];
    for (const n of pref) { const v = this.variants.find((x) => x.name === n); if (v && !out.includes(v)) out.push(v); }
    for (const v of this.variants) if (!out.includes(v)) out.push(v);
    return out;
  }

  /** Each variant in selection order with `true` or the reason it cannot run `g` here. */
  explain(g: G, caps: AdapterCaps = adapterCaps()): Choice<G, A>[] {
    return this.order(g).map((v) => {
      const s = supports(v as Variant<never, never>, caps);
      return { variant: v, why: s === true ? v.fits(g) : s };
    });
  }

  choose(g: G, caps: AdapterCaps = adapterCaps()): Variant<G, A> {
    if (this.forced) {
      const v = this.variant(this.forced);
      const s = supports(v as Variant<never, never>, caps);
      if (s !== true) throw new Error(`${this.name}/${v.name} was forced but cannot run on this adapter: ${s}`);
      const f = v.fits(g);
      if (f !== true) throw new Error(`${this.name}/${v.name} was forced but does not fit ${this.describe(g)}: ${f}`);
      return v;
    }
    const all = this.explain(g, caps);
    const ok = all.find((c) => c.why === true);
    if (!ok) throw new Error(`${this.name}: no variant runs ${this.describe(g)} on ${caps.name}:\n` + all.map((c) => `  ${c.variant.name}: ${c.why}`).join('\n'));
    return ok.variant;
  }

  /** The overrides the chosen variant's main kernel runs with. */
  overridesFor(v: Variant<G, A>, g: G, caps: AdapterCaps = adapterCaps()): Overrides {
    return { ...tuned(v.kernels[0]!), ...(v.overrides?.(g, caps) ?? {}) };
  }

  run(g: G, args: A): Variant<G, A> {
    const caps = adapterCaps();
    const v = this.choose(g, caps);
    const ov = this.overridesFor(v, g, caps);
    noteVariant(this.name, v.name);
    v.run(g, args, ov);
    return v;
  }
}

function noteVariant(family: string, variant: string): void {
  let m = counts.get(family);
  if (!m) counts.set(family, (m = new Map()));
  m.set(variant, (m.get(variant) ?? 0) + 1);
  last.set(family, variant);
  listener?.(family, variant);
}

/** Every family defined so far (ops register theirs when their module loads). */
export function families(): Family<unknown, unknown>[] {
  return [...registry.values()];
}

export function family(name: string): Family<unknown, unknown> {
  const f = registry.get(name);
  if (!f) throw new Error(`no variant family ${name} (have ${[...registry.keys()].join(', ')})`);
  return f;
}

/** The variant that last ran in `family`. */
export function lastVariant(family: string): string | undefined {
  return last.get(family);
}

/** How often each variant ran since the last reset, as `family/variant` -> count. */
export function variantCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [f, m] of counts) for (const [v, n] of m) out[`${f}/${v}`] = n;
  return out;
}

export function resetVariantLog(): void {
  counts.clear();
  last.clear();
}

/** Called on every choice (the bench's per-step variant list, a test's trace). */
export function onVariant(fn: ((family: string, variant: string) => void) | null): void {
  listener = fn;
}
