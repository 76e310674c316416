// Float64 twins of the losses: MSE, SimReg's cosine regression, and cross-entropy.
import { checkDims, checkLen, checkSame } from './check.js';
import { l2NormalizeBwd, l2NormalizeFwd } from './normalize.js';

/** Mean over all elements of (a - b)^2. */
export function mseFwd(a: Float64Array, b: Float64Array): number {
  checkSame('mseFwd', 'a', a, 'b', b);
  if (a.length === 0) throw new Error('mseFwd: a and b are empty (length 0); the mean is undefined');
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i]! - b[i]!; s += d * d; }
  return s / a.length;
}

export function mseBwd(a: Float64Array, b: Float64Array): { da: Float64Array; db: Float64Array } {
  checkSame('mseBwd', 'a', a, 'b', b);
  if (a.length === 0) throw new Error('mseBwd: a and b are empty (length 0); the mean is undefined');
  const da = new Float64Array(a.length), db = new Float64Array(a.length);
  const k = 2 / a.length;
  for (let i = 0; i < a.length; i++) { const g = k * (a[i]! - b[i]!); da[i] = g; db[i] = -g; }
  return { da, db };
}

function checkPZ(fn: string, p: { length: number }, z: { length: number }, rows: number, d: number): void {
  checkDims(fn, { rows, d });
  if (rows === 0) throw new Error(`${fn}: rows=0; the mean over rows is undefined`);
  checkLen(fn, 'p', p, rows * d, `[rows=${rows}, d=${d}]`);
  checkLen(fn, 'z', z, rows * d, `[rows=${rows}, d=${d}]`);
}

/** mean_i (2 - 2 cos(p_i, z_i)), each row L2-normalised first (eps 1e-12), i.e. mean ||p^ - z^||^2. */
export function cosineRegressionFwd(p: Float64Array, z: Float64Array, rows: number, d: number): number {
  checkPZ('cosineRegressionFwd', p, z, rows, d);
  const pn = l2NormalizeFwd(p, rows, d), zn = l2NormalizeFwd(z, rows, d);
  let s = 0;
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += pn[r * d + j]! * zn[r * d + j]!;
    s += 2 - 2 * dot;
  }
  return s / rows;
}

/** Gradients to both p and z; a caller that stops the gradient to the target just drops dz. */
export function cosineRegressionBwd(
  p: Float64Array, z: Float64Array, rows: number, d: number,
): { dp: Float64Array; dz: Float64Array } {
  checkPZ('cosineRegressionBwd', p, z, rows, d);
  const pn = l2NormalizeFwd(p, rows, d), zn = l2NormalizeFwd(z, rows, d);
  // dL/dp^ = -2 z^ / rows and symmetrically; then back through the normalisation.
  const k = -2 / rows;
  const gpn = new Float64Array(pn.length), gzn = new Float64Array(zn.length);
  for (let i = 0; i < pn.length; i++) { gpn[i] = k * zn[i]!; gzn[i] = k * pn[i]!; }
  return { dp: l2NormalizeBwd(p, gpn, rows, d), dz: l2NormalizeBwd(z, gzn, rows, d) };
}

function checkCE(fn: string, logits: { length: number }, labels: Int32Array, rows: number, classes: number): void {
  checkDims(fn, { rows, classes });
  if (rows === 0 || classes === 0) throw new Error(`${fn}: rows=${rows}, classes=${classes} must be positive`);
  checkLen(fn, 'logits', logits, rows * classes, `[rows=${rows}, classes=${classes}]`);
  checkLen(fn, 'labels', labels, rows, `[rows=${rows}]`);
  for (let r = 0; r < rows; r++) {
    const l = labels[r]!;
    if (l < 0 || l >= classes) throw new Error(`${fn}: labels[${r}]=${l} outside [0, ${classes})`);
  }
}

/** Row maximum and log-sum-exp, shifted by the maximum so exp never overflows. */
function rowLse(logits: Float64Array, o: number, classes: number): { mx: number; lse: number } {
  let mx = -Infinity;
  for (let j = 0; j < classes; j++) mx = Math.max(mx, logits[o + j]!);
  let s = 0;
  for (let j = 0; j < classes; j++) s += Math.exp(logits[o + j]! - mx);
  return { mx, lse: mx + Math.log(s) };
}

/** mean_r (logsumexp(logits_r) - logits_r[label_r]). */
export function crossEntropyFwd(logits: Float64Array, labels: Int32Array, rows: number, classes: number): number {
  checkCE('crossEntropyFwd', logits, labels, rows, classes);
  let s = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * classes;
    s += rowLse(logits, o, classes).lse - logits[o + labels[r]!]!;
  }
  return s / rows;
}

/** dlogits = (softmax - onehot(label)) / rows. */
export function crossEntropyBwd(logits: Float64Array, labels: Int32Array, rows: number, classes: number): Float64Array {
  checkCE('crossEntropyBwd', logits, labels, rows, classes);
  const g = new Float64Array(logits.length);
  for (let r = 0; r < rows; r++) {
    const o = r * classes;
    const { lse } = rowLse(logits, o, classes);
    for (let j = 0; j < classes; j++) g[o + j] = Math.exp(logits[o + j]! - lse) / rows;
    g[o + labels[r]!]! -= 1 / rows;
  }
  return g;
}

/**
 * MoCo's InfoNCE in float64: for each row, logits [q.k, q.queue_j] / T, loss = logsumexp - positive logit,
 * mean over rows. q, k [n, d]; queue [K, d].
 */
export function infoNCEFwd(q: Float64Array, k: Float64Array, queue: Float64Array, n: number, d: number, K: number, T: number): number {
  let total = 0;
  for (let r = 0; r < n; r++) {
    const logits = new Float64Array(K + 1);
    let pos = 0;
    for (let j = 0; j < d; j++) pos += q[r * d + j]! * k[r * d + j]!;
    logits[0] = pos / T;
    for (let c = 0; c < K; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += q[r * d + j]! * queue[c * d + j]!;
      logits[c + 1] = s / T;
    }
    let m = -Infinity;
    for (const v of logits) m = Math.max(m, v);
    let se = 0;
    for (const v of logits) se += Math.exp(v - m);
    total += m + Math.log(se) - logits[0]!;
  }
  return total / n;
}

/** Rows concatenated: [rows, a] ++ [rows, b]. */
export function concatColsFwd(a: Float64Array, b: Float64Array, rows: number, ac: number, bc: number): Float64Array {
  const out = new Float64Array(rows * (ac + bc));
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < ac; j++) out[r * (ac + bc) + j] = a[r * ac + j]!;
    for (let j = 0; j < bc; j++) out[r * (ac + bc) + ac + j] = b[r * bc + j]!;
  }
  return out;
}

/** Mean over rows of the squared Euclidean distance between the L2-normalised rows of a and b. */
export function normalizedSquaredDistanceFwd(a: Float64Array, b: Float64Array, rows: number, d: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let na = 0, nb = 0;
    for (let j = 0; j < d; j++) { na += a[r * d + j]! ** 2; nb += b[r * d + j]! ** 2; }
    na = Math.sqrt(na); nb = Math.sqrt(nb);
    for (let j = 0; j < d; j++) total += (a[r * d + j]! / na - b[r * d + j]! / nb) ** 2;
  }
  return total / rows;
}
