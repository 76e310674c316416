// Learning-rate schedules as pure functions of the step, so a resumed run gets the same rates.
export interface CosineOptions {
  baseLr: number;
  totalSteps: number;
  /** Linear warm-up from warmupStartLr (default 0) to baseLr over this many steps. */
  warmupSteps?: number;
  warmupStartLr?: number;
  /** Final learning rate (default 0). */
  minLr?: number;
  /** When set, the rate changes once per epoch (SimReg's "cosine per epoch"). */
  stepsPerEpoch?: number;
}

export function cosineLr(step: number, o: CosineOptions): number {
  if (!(o.totalSteps > 0)) throw new Error(`cosineLr: totalSteps must be positive, got ${o.totalSteps}`);
  const warm = o.warmupSteps ?? 0;
  const minLr = o.minLr ?? 0;
  let s = Math.max(0, step);
  if (s < warm) {
    const a = o.warmupStartLr ?? 0;
    return a + (o.baseLr - a) * (s / warm);
  }
  if (o.stepsPerEpoch) s = Math.floor(s / o.stepsPerEpoch) * o.stepsPerEpoch;
  const t = Math.min(1, (s - warm) / Math.max(1, o.totalSteps - warm));
  return minLr + 0.5 * (o.baseLr - minLr) * (1 + Math.cos(Math.PI * t));
}

/** Step decay (linear-probe recipe: x0.1 at the given steps). */
export function stepLr(step: number, baseLr: number, milestones: number[], gamma = 0.1): number {
  return baseLr * gamma ** milestones.filter((m) => step >= m).length;
}
