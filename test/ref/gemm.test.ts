import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linearBwd, linearFwd, matmul } from '../../src/ref/gemm.js';
import { Rng } from '../helpers/rng.js';
import { assertClose, assertThrowsNamed, checkGrad } from './util.js';

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

test('matmul: 2x3 times 3x2 by hand', () => {
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float64Array.from([7, 8, 9, 10, 11, 12]);
  // [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12]
  assertClose(matmul(a, b, 2, 3, 2), [58, 64, 139, 154], 0, 'matmul');
});

test('matmul: the four transpose flags agree with explicit transposes (odd sizes)', () => {
  const rng = new Rng(11);
  const m = 5, k = 7, n = 3;
  const a = rng.normals(m * k), b = rng.normals(k * n);
  const at = transpose(a, m, k), bt = transpose(b, k, n);
  const ref = matmul(a, b, m, k, n);
  // Direct triple loop as an independent check of the plain case.
  const naive = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
    naive[i * n + j] = s;
  }
  assertClose(ref, naive, 1e-14, 'plain');
  assertClose(matmul(at, b, m, k, n, true, false), ref, 1e-14, 'transA');
  assertClose(matmul(a, bt, m, k, n, false, true), ref, 1e-14, 'transB');
  assertClose(matmul(at, bt, m, k, n, true, true), ref, 1e-14, 'transA+transB');
});

test('matmul: k = 0 gives zeros', () => {
  assertClose(matmul(new Float64Array(0), new Float64Array(0), 2, 0, 3), [0, 0, 0, 0, 0, 0], 0, 'k=0');
});

test('matmul: VJP via matmul matches central differences for every flag combination', async () => {
  const rng = new Rng(12);
  const m = 3, k = 4, n = 5;
  for (const transA of [false, true]) for (const transB of [false, true]) {
    const a = rng.normals(m * k), b = rng.normals(k * n);
    await checkGrad(`matmul tA=${transA} tB=${transB}`,
      ([a, b]) => matmul(a!, b!, m, k, n, transA, transB),
      ([a, b], r) => {
        // d op(A) = R op(B)^T  [m,k];  d op(B) = op(A)^T R  [k,n]; transpose back to storage.
        const dOpA = matmul(r, b!, m, n, k, false, !transB);
        const dOpB = matmul(a!, r, k, m, n, !transA, false);
        return [transA ? transpose(dOpA, m, k) : dOpA, transB ? transpose(dOpB, k, n) : dOpB];
      }, [a, b]);
  }
});

test('linearFwd: by hand, with and without bias', () => {
  const x = Float64Array.from([1, 2]);
  const w = Float64Array.from([1, 0, 2, -1, 0.5, 0.5]); // [out=3, in=2]
  const b = Float64Array.from([0.1, 0.2, 0.3]);
  assertClose(linearFwd(x, w, b, 1, 2, 3), [1.1, 0.2, 1.8], 1e-15, 'bias');
  assertClose(linearFwd(x, w, null, 1, 2, 3), [1, 0, 1.5], 0, 'no bias');
});

test('linearBwd: by hand', () => {
  const x = Float64Array.from([1, 2, 3, 4]); // [2, 2]
  const w = Float64Array.from([1, 2]);       // [1, 2]
  const dy = Float64Array.from([1, -1]);     // [2, 1]
  const { dx, dw, db } = linearBwd(x, w, dy, 2, 2, 1, true);
  assertClose(dx, [1, 2, -1, -2], 0, 'dx');
  assertClose(dw, [1 - 3, 2 - 4], 0, 'dw');
  assertClose(db!, [0], 0, 'db');
  assert.is(linearBwd(x, w, dy, 2, 2, 1, false).db, null);
});

test('linearBwd: central differences over several shapes', async () => {
  const rng = new Rng(13);
  for (const [batch, inF, outF, bias] of [[1, 1, 1, true], [3, 5, 4, true], [1, 7, 2, false], [6, 3, 9, true]] as const) {
    const x = rng.normals(batch * inF), w = rng.normals(outF * inF), b = rng.normals(outF);
    const xs = bias ? [x, w, b] : [x, w];
    await checkGrad(`linear ${batch}x${inF}->${outF} bias=${bias}`,
      ([x, w, b]) => linearFwd(x!, w!, b ?? null, batch, inF, outF),
      ([x, w], r) => {
        const g = linearBwd(x!, w!, r, batch, inF, outF, bias);
        return g.db ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
      }, xs);
  }
});

test('gemm: length mismatches throw naming the function', () => {
  const z = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => matmul(z(5), z(6), 2, 3, 2), 'matmul');
  assertThrowsNamed(() => matmul(z(6), z(7), 2, 3, 2), 'matmul');
  assertThrowsNamed(() => matmul(z(6), z(6), 2, 3.5, 2), 'matmul');
  assertThrowsNamed(() => linearFwd(z(4), z(6), z(2), 2, 2, 3), 'linearFwd');
  assertThrowsNamed(() => linearFwd(z(3), z(6), null, 2, 2, 3), 'linearFwd');
  assertThrowsNamed(() => linearBwd(z(4), z(6), z(5), 2, 2, 3, true), 'linearBwd');
});

test.run();
