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
