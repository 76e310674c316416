// Gradient check against central differences, shared by the ref, op and model test layers.
// L(xs) = sum(f(xs) * R) for a fixed random R, so a VJP `grad(xs, R)` is checked for every output at once.
import { Rng } from './rng.js';

type Num = ArrayLike<number>;
type MaybePromise<T> = T | Promise<T>;

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-7). */
  atol?: number;
  /** Relative tolerance, against max(|fd|, |an|) (default 1e-5). */
  rtol?: number;
  /** Coordinates sampled per input; inputs at most this long are checked in full (default 64). */
  maxCoords?: number;
  /** Seed for R, the sampled coordinates and the direction (default 1234). */
  seed?: number;
  /** Indices of the inputs to perturb (default all); the others are held fixed (e.g. labels as data). */
  inputs?: number[];
  /** Skip the directional check (default false). */
  skipDirectional?: boolean;
}

export interface GradcheckWorst {
  /** Input index, or -1 for the directional check. */
  input: number;
  index: number;
  fd: number;
  an: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** Largest |fd - an| over every check. */
  maxAbs: number;
  /** Largest |fd - an| / max(|fd|, |an|) over every check (0 where both are 0). */
  maxRel: number;
  /** The check with the largest |fd - an| / (atol + rtol * max(|fd|, |an|)). */
  worst: GradcheckWorst;
  directional: { fd: number; an: number };
  /** Number of coordinate checks made (the directional one not counted). */
  checked: number;
}

/**
 * f: forward, any output shape; grad(xs, R): the VJP of L = sum(f(xs) * R), one array per input
 * (entries for inputs not listed in `opts.inputs` are ignored). Either may be async.
 * The caller's arrays are restored after each perturbation.
 */
export async function gradcheck(
  f: (xs: Float64Array[]) => MaybePromise<Num>,
  grad: (xs: Float64Array[], r: Float64Array) => MaybePromise<Num[]>,
  xs: Float64Array[],
  opts: GradcheckOptions = {},
): Promise<GradcheckResult> {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-7, rtol = opts.rtol ?? 1e-5;
  const maxCoords = opts.maxCoords ?? 64;
  const rng = new Rng(opts.seed ?? 1234);
  const which = opts.inputs ?? xs.map((_, i) => i);
  for (const i of which) if (!xs[i]) throw new Error(`gradcheck: input ${i} does not exist (${xs.length} inputs)`);

  const y0 = await f(xs);
  const r = rng.fillNormal(new Float64Array(y0.length));
  const loss = async (): Promise<number> => {
    const y = await f(xs);
    if (y.length !== r.length) throw new Error(`gradcheck: f returned length ${y.length}, first call returned ${r.length}`);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
    return s;
  };
  const an = await grad(xs, r);
  for (const i of which) {
    const g = an[i], x = xs[i]!;
    if (!g || g.length !== x.length) {
      throw new Error(`gradcheck: grad for input ${i} has length ${g ? g.length : 'none'}, input has length ${x.length}`);
    }
  }

  let maxAbs = 0, maxRel = 0, worstScore = -1, ok = true, checked = 0;
  let worst: GradcheckWorst = { input: -1, index: -1, fd: 0, an: 0 };
  const record = (input: number, index: number, fd: number, a: number): void => {
    const diff = Math.abs(fd - a), mag = Math.max(Math.abs(fd), Math.abs(a));
    // NaN anywhere must fail; the comparisons below are all false for NaN.
    const pass = diff <= atol + rtol * mag;
    const score = Number.isNaN(diff) ? Infinity : diff / (atol + rtol * mag);
    if (!pass) ok = false;
    maxAbs = Math.max(maxAbs, Number.isNaN(diff) ? Infinity : diff);
    if (mag > 0) maxRel = Math.max(maxRel, Number.isNaN(diff) ? Infinity : diff / mag);
    if (score > worstScore) { worstScore = score; worst = { input, index, fd, an: a }; }
  };

  for (const i of which) {
    const x = xs[i]!, g = an[i]!;
    for (const j of sampleIndices(rng, x.length, maxCoords)) {
      const orig = x[j]!;
      x[j] = orig + eps;
      const lp = await loss();
      x[j] = orig - eps;
      const lm = await loss();
      x[j] = orig;
      record(i, j, (lp - lm) / (2 * eps), g[j]!);
      checked++;
    }
  }

  let directional = { fd: 0, an: 0 };
  if (!opts.skipDirectional) {
    // Unit-norm direction over all checked inputs at once, so the step size means the same as above.
    const dirs = which.map((i) => rng.fillNormal(new Float64Array(xs[i]!.length)));
    let nrm = 0;
    for (const d of dirs) for (let j = 0; j < d.length; j++) nrm += d[j]! * d[j]!;
    nrm = Math.sqrt(nrm) || 1;
    let dan = 0;
    for (let t = 0; t < which.length; t++) {
      const d = dirs[t]!, g = an[which[t]!]!;
      for (let j = 0; j < d.length; j++) { d[j] = d[j]! / nrm; dan += g[j]! * d[j]!; }
    }
    const saved = which.map((i) => Float64Array.from(xs[i]!));
    const shift = (sgn: number): void => {
      for (let t = 0; t < which.length; t++) {
        const x = xs[which[t]!]!, s = saved[t]!, d = dirs[t]!;
        for (let j = 0; j < x.length; j++) x[j] = s[j]! + sgn * eps * d[j]!;
      }
    };
    shift(1);
    const lp = await loss();
    shift(-1);
    const lm = await loss();
    for (let t = 0; t < which.length; t++) xs[which[t]!]!.set(saved[t]!);
    directional = { fd: (lp - lm) / (2 * eps), an: dan };
    record(-1, -1, directional.fd, directional.an);
  }

  return { ok, maxAbs, maxRel, worst, directional, checked };
}

/** All indices when n <= k, else k distinct ones drawn without replacement, sorted. */
function sampleIndices(rng: Rng, n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** Throws with the worst coordinate in the message when the check failed. */
export function assertGradOk(res: GradcheckResult, label: string): void {
  if (res.ok) return;
  const w = res.worst;
  const where = w.input < 0 ? 'directional check' : `input ${w.input} index ${w.index}`;
  throw new Error(
    `${label}: gradient mismatch; worst at ${where}: fd=${w.fd} an=${w.an} ` +
    `(maxAbs=${res.maxAbs.toExponential(3)}, maxRel=${res.maxRel.toExponential(3)}, ` +
    `directional fd=${res.directional.fd} an=${res.directional.an})`,
  );
}

/**
 * Moves every element within minAbs of a kink (default the single kink at 0) out to distance
 * minAbs on its own side, so central differences never straddle it. Mutates and returns x.
 */
export function nudgeAwayFromKinks<T extends Float64Array | Float32Array>(x: T, minAbs: number, kinks: number[] = [0]): T {
  for (let i = 0; i < x.length; i++) {
    for (const k of kinks) {
      const d = x[i]! - k;
      if (Math.abs(d) < minAbs) x[i] = k + (d < 0 ? -minAbs : minAbs);
    }
  }
  return x;
}
