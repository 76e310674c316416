// Small seeded PRNG for reproducible tests: mulberry32 for uniforms, Box-Muller for normals.

export class Rng {
  private state: number;
  private spare: number | null = null;

  constructor(seed = 1) {
    this.state = seed >>> 0;
  }

  /** Next raw 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.nextU32() / 4294967296);
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal times std plus mean. */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return mean + std * v;
    }
    // 1 - u keeps the log argument in (0, 1].
    const u = 1 - this.uniform(), v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  fillNormal<T extends Float64Array | Float32Array>(arr: T, mean = 0, std = 1): T {
    for (let i = 0; i < arr.length; i++) arr[i] = this.normal(mean, std);
    return arr;
  }

  fillUniform<T extends Float64Array | Float32Array>(arr: T, lo = 0, hi = 1): T {
    for (let i = 0; i < arr.length; i++) arr[i] = this.uniform(lo, hi);
    return arr;
  }

  /** A new Float64Array of n standard normals (times std). */
  normals(n: number, std = 1): Float64Array {
    return this.fillNormal(new Float64Array(n), 0, std);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }
}

export function makeRng(seed = 1): Rng {
  return new Rng(seed);
}
