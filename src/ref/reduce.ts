// Float64 twins of sum/mean over a set of axes, and their broadcasting backward.

interface Plan {
  outShape: number[];     // with reduced axes dropped (or kept as 1)
  outIndex: Int32Array;   // for each input element, the output element it feeds
  outLen: number;
  count: number;          // input elements per output element
}

function plan(fn: string, len: number, shape: number[], axes: number[], keepDims: boolean): Plan {
  const nd = shape.length;
  let total = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${fn}: shape [${shape.join(', ')}] has an invalid dimension ${d}`);
    total *= d;
  }
  if (total !== len) throw new Error(`${fn}: array has length ${len}, expected ${total} for shape [${shape.join(', ')}]`);
  const reduced = new Array<boolean>(nd).fill(false);
  for (const a0 of axes) {
    // Negative axes count from the end, as PyTorch and NumPy.
    const a = a0 < 0 ? a0 + nd : a0;
    if (!Number.isInteger(a0) || a < 0 || a >= nd) throw new Error(`${fn}: axis ${a0} out of range for shape [${shape.join(', ')}]`);
    if (reduced[a]) throw new Error(`${fn}: axis ${a0} repeated in axes [${axes.join(', ')}]`);
    reduced[a] = true;
  }
  const outShape: number[] = [];
  // Output stride for each input axis; 0 on reduced axes so they collapse onto one element.
  const ostride = new Array<number>(nd).fill(0);
  let outLen = 1, count = 1;
  for (let i = nd - 1; i >= 0; i--) {
    const d = shape[i]!;
    if (reduced[i]) { count *= d; } else { ostride[i] = outLen; outLen *= d; }
  }
  for (let i = 0; i < nd; i++) {
    if (!reduced[i]) outShape.push(shape[i]!);
    else if (keepDims) outShape.push(1);
  }
  const outIndex = new Int32Array(len);
  const coord = new Array<number>(nd).fill(0);
  let o = 0;
  for (let f = 0; f < len; f++) {
    outIndex[f] = o;
    // Odometer increment of the input coordinate, tracking the output offset alongside.
    for (let i = nd - 1; i >= 0; i--) {
      const c = coord[i]! + 1;
      if (c < shape[i]!) { coord[i] = c; o += ostride[i]!; break; }
      o -= (c - 1) * ostride[i]!;
      coord[i] = 0;
    }
  }
  return { outShape, outIndex, outLen, count };
}

/** Sum of x (of shape `shape`) over `axes`. Returns the values and the result shape. */
export function sumAxes(x: Float64Array, shape: number[], axes: number[], keepDims = false): { y: Float64Array; shape: number[] } {
  const p = plan('sumAxes', x.length, shape, axes, keepDims);
  const y = new Float64Array(p.outLen);
  for (let f = 0; f < x.length; f++) y[p.outIndex[f]!]! += x[f]!;
  return { y, shape: p.outShape };
}

/** Mean of x over `axes` (NaN where a reduced axis has size 0, as 0/0). */
export function meanAxes(x: Float64Array, shape: number[], axes: number[], keepDims = false): { y: Float64Array; shape: number[] } {
  const p = plan('meanAxes', x.length, shape, axes, keepDims);
  const y = new Float64Array(p.outLen);
  for (let f = 0; f < x.length; f++) y[p.outIndex[f]!]! += x[f]!;
  for (let i = 0; i < y.length; i++) y[i] = y[i]! / p.count;
  return { y, shape: p.outShape };
}

function broadcastBack(fn: string, dy: Float64Array, shape: number[], axes: number[], scale: (count: number) => number): Float64Array {
  let total = 1;
  for (const d of shape) total *= d;
  const p = plan(fn, total, shape, axes, false);
  if (dy.length !== p.outLen) {
    throw new Error(`${fn}: dy has length ${dy.length}, expected ${p.outLen} for shape [${p.outShape.join(', ')}] (input [${shape.join(', ')}] reduced over [${axes.join(', ')}])`);
  }
  const k = scale(p.count);
  const dx = new Float64Array(total);
  for (let f = 0; f < total; f++) dx[f] = dy[p.outIndex[f]!]! * k;
  return dx;
}

/** dx[i] = dy[reduced(i)]: the sum's gradient broadcast back to `shape` (dy with or without kept dims). */
export function sumAxesBwd(dy: Float64Array, shape: number[], axes: number[]): Float64Array {
  return broadcastBack('sumAxesBwd', dy, shape, axes, () => 1);
}

/** dx[i] = dy[reduced(i)] / count. */
export function meanAxesBwd(dy: Float64Array, shape: number[], axes: number[]): Float64Array {
  return broadcastBack('meanAxesBwd', dy, shape, axes, (count) => 1 / count);
}
