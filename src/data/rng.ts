// Deterministic random numbers for the data pipeline.
//
// Every random decision is drawn from a generator seeded by a hash of its
// coordinates (seed, epoch, sample index, view), never from one global
// stream, so a batch comes out identical whichever thread builds it and in
// whatever order the threads finish.

/** Finaliser of a 32-bit integer hash (good avalanche, cheap). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Hash a list of integers (each taken modulo 2^32) into one 32-bit key. */
export function hashKey(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    // Fold values above 2^32 too, so large seeds still matter.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = mix32((h ^ lo) + 0x632be5ab);
    if (hi !== 0) h = mix32((h ^ hi) + 0x85157af5);
  }
  return h;
}

/** Domain tags keep the streams for different purposes apart. */
export const RngTag = {
  shuffle: 0x5348,
  sample: 0x534d,
} as const;

/**
 * A small counter-based generator (a SplitMix-style stream on 32-bit words).
 * Not cryptographic; uniform enough for augmentation and shuffling.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n), n >= 1 (n up to 2^32). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** True with probability p. Always draws, so later draws do not shift with p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }
}

/** Generator for one sample's augmentation. */
export function sampleRng(seed: number, epoch: number, index: number, view: number): Rng {
  return new Rng(hashKey(RngTag.sample, seed, epoch, index, view));
}

/**
 * The order in which an epoch visits a data set of n items: a Fisher-Yates
 * shuffle seeded by (seed, epoch), or 0..n-1 when shuffle is off.
 */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (!shuffle) return order;
  const rng = new Rng(hashKey(RngTag.shuffle, seed, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
