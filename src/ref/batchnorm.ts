// Float64 twins of batch normalisation. x is [n, c, hw]; hw = 1 for BatchNorm1d on [n, c].
import { checkDims, checkLen } from './check.js';

function checkX(fn: string, x: { length: number }, name: string, n: number, c: number, hw: number): void {
  checkDims(fn, { n, c, hw });
  checkLen(fn, name, x, n * c * hw, `[n=${n}, c=${c}, hw=${hw}]`);
}

function checkC(fn: string, c: number, arrs: Record<string, { length: number }>): void {
  for (const [name, a] of Object.entries(arrs)) checkLen(fn, name, a, c, `[c=${c}]`);
}

/**
 * Training-mode forward: normalises with the biased batch variance, and reports the unbiased
 * one for the running statistics (as PyTorch).
 */
export function bnFwdTrain(
  x: Float64Array, gamma: Float64Array, beta: Float64Array, n: number, c: number, hw: number, eps: number,
): { y: Float64Array; mean: Float64Array; invstd: Float64Array; varUnbiased: Float64Array } {
  const fn = 'bnFwdTrain';
  checkX(fn, x, 'x', n, c, hw);
  checkC(fn, c, { gamma, beta });
  const m = n * hw;
  // PyTorch refuses this too: the unbiased variance of one value is undefined.
  if (m < 2) throw new Error(`${fn}: expected more than 1 value per channel when training, got n=${n}, hw=${hw}`);
  const mean = new Float64Array(c), invstd = new Float64Array(c), varUnbiased = new Float64Array(c);
  const y = new Float64Array(x.length);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) s += x[o + i]!;
    }
    const mu = s / m;
    // Two-pass variance: sum of squared deviations, exact enough in float64.
    let ss = 0;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) { const d = x[o + i]! - mu; ss += d * d; }
    }
    const is = 1 / Math.sqrt(ss / m + eps);
    mean[ch] = mu; invstd[ch] = is; varUnbiased[ch] = ss / (m - 1);
    const g = gamma[ch]!, bt = beta[ch]!;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) y[o + i] = g * (x[o + i]! - mu) * is + bt;
    }
  }
  return { y, mean, invstd, varUnbiased };
}

/** new = (1 - momentum) * old + momentum * batch, for mean and (unbiased) variance. Returns new arrays. */
export function bnRunningUpdate(
  runMean: Float64Array, runVar: Float64Array, mean: Float64Array, varUnbiased: Float64Array, momentum: number,
): { runMean: Float64Array; runVar: Float64Array } {
  const fn = 'bnRunningUpdate';
  const c = runMean.length;
  checkC(fn, c, { runVar, mean, varUnbiased });
  const rm = new Float64Array(c), rv = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    rm[i] = (1 - momentum) * runMean[i]! + momentum * mean[i]!;
    rv[i] = (1 - momentum) * runVar[i]! + momentum * varUnbiased[i]!;
  }
  return { runMean: rm, runVar: rv };
}

/** Eval-mode forward: y = gamma * (x - runMean) / sqrt(runVar + eps) + beta. */
export function bnFwdEval(
  x: Float64Array, gamma: Float64Array, beta: Float64Array, runMean: Float64Array, runVar: Float64Array,
  n: number, c: number, hw: number, eps: number,
): Float64Array {
  const fn = 'bnFwdEval';
  checkX(fn, x, 'x', n, c, hw);
  checkC(fn, c, { gamma, beta, runMean, runVar });
  const y = new Float64Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const scale = gamma[ch]! / Math.sqrt(runVar[ch]! + eps), mu = runMean[ch]!, bt = beta[ch]!;
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) y[o + i] = (x[o + i]! - mu) * scale + bt;
    }
  }
  return y;
}

/**
 * Training-mode backward (batch statistics depend on x):
 * dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)).
 */
export function bnBwdTrain(
  x: Float64Array, dy: Float64Array, gamma: Float64Array, mean: Float64Array, invstd: Float64Array,
  n: number, c: number, hw: number,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const fn = 'bnBwdTrain';
  checkX(fn, x, 'x', n, c, hw);
  checkX(fn, dy, 'dy', n, c, hw);
  checkC(fn, c, { gamma, mean, invstd });
  const m = n * hw;
  const dx = new Float64Array(x.length), dgamma = new Float64Array(c), dbeta = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const mu = mean[ch]!, is = invstd[ch]!;
    let sdy = 0, sdyx = 0;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) { const g = dy[o + i]!; sdy += g; sdyx += g * (x[o + i]! - mu) * is; }
    }
    dbeta[ch] = sdy; dgamma[ch] = sdyx;
    const k = gamma[ch]! * is / m;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const xhat = (x[o + i]! - mu) * is;
        dx[o + i] = k * (m * dy[o + i]! - sdy - xhat * sdyx);
      }
    }
  }
  return { dx, dgamma, dbeta };
}

/** Eval-mode backward: running statistics are constants, so dx = dy * gamma / sqrt(runVar + eps). */
export function bnBwdEval(
  dy: Float64Array, x: Float64Array, gamma: Float64Array, runMean: Float64Array, runVar: Float64Array,
  n: number, c: number, hw: number, eps: number,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const fn = 'bnBwdEval';
  checkX(fn, dy, 'dy', n, c, hw);
  checkX(fn, x, 'x', n, c, hw);
  checkC(fn, c, { gamma, runMean, runVar });
  const dx = new Float64Array(x.length), dgamma = new Float64Array(c), dbeta = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const is = 1 / Math.sqrt(runVar[ch]! + eps), mu = runMean[ch]!, scale = gamma[ch]! * is;
    let sdy = 0, sdyx = 0;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const g = dy[o + i]!;
        sdy += g; sdyx += g * (x[o + i]! - mu) * is;
        dx[o + i] = g * scale;
      }
    }
    dbeta[ch] = sdy; dgamma[ch] = sdyx;
  }
  return { dx, dgamma, dbeta };
}
