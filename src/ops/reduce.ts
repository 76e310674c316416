// sum / mean along any set of axes. Each maximal run of adjacent axes is one reduce_sum launch over an
// [outer, red, inner] view; the backward broadcasts back the same way.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, grid1d, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, opError } from './util.js';
import { addScaledRaw } from './elementwise.js';

function normAxes(op: string, shape: readonly number[], axes?: number | number[]): number[] {
  const r = shape.length;
  const list = axes === undefined ? shape.map((_, i) => i) : Array.isArray(axes) ? axes : [axes];
  const out = list.map((a) => {
    if (!Number.isInteger(a) || a < -r || a >= r) throw opError(op, `axis ${a} out of range for shape ${fmtShape(shape)}`);
    return a < 0 ? a + r : a;
  });
  if (new Set(out).size !== out.length) throw opError(op, `repeated axis in [${list.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

/** Runs of adjacent axes, last first (so earlier axes keep their positions while reducing). */
function runs(axes: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const a of axes) {
    const last = out[out.length - 1];
    if (last && last[1] === a) last[1] = a + 1; else out.push([a, a + 1]);
  }
  return out.reverse();
}

const prod = (s: readonly number[], a: number, b: number) => s.slice(a, b).reduce((x, y) => x * y, 1);

function reduceRaw(x: Tensor, axes: number[], scale: number): Tensor {
  let cur = x;
  let shape = [...x.shape];
  for (const [a, b] of runs(axes)) {
    const outer = prod(shape, 0, a), red = prod(shape, a, b), inner = prod(shape, b, shape.length);
    const nshape = [...shape.slice(0, a), ...shape.slice(b)];
    const y = Tensor.empty(nshape);
    stream.dispatch('reduce_sum', {
      params: { outer, red, inner, scale: 1 }, bind: { x: cur, y }, grid: grid1d(outer * inner),
      cost: { flops: outer * red * inner, bytes: 4 * (outer * red * inner + outer * inner) },
    });
    if (cur !== x) cur.dispose();
    cur = y;
    shape = nshape;
  }
  if (scale !== 1) {
    const s = addScaledRaw(cur, cur, scale, 0);
    if (cur !== x) cur.dispose();
    cur = s;
  }
  if (cur === x) cur = x.view(x.shape);
  return cur;
}

function broadcastRaw(dy: Tensor, fullShape: readonly number[], axes: number[], scale: number): Tensor {
  // Expand one run at a time, first run first (inverse of the forward order).
  let cur = dy;
  const rs = runs(axes).reverse();
  let shape = fullShape.filter((_, i) => !axes.includes(i));
  for (const [a, b] of rs) {
    // Runs go in ascending order, so every axis before `a` is already back in place.
    const before = a;
    const outer = prod(shape, 0, before), inner = prod(shape, before, shape.length), red = prod(fullShape, a, b);
    const nshape = [...shape.slice(0, before), ...fullShape.slice(a, b), ...shape.slice(before)];
    const y = Tensor.empty(nshape);
    const sc = cur === dy ? scale : 1;
    stream.dispatch('broadcast_axes', {
      params: { outer, red, inner, scale: sc }, bind: { x: cur, y }, grid: gridFor('broadcast_axes', outer * red * inner),
      cost: { bytes: 4 * (outer * inner + outer * red * inner) },
    });
    if (cur !== dy) cur.dispose();
    cur = y;
    shape = nshape;
  }
  if (cur === dy) return addScaledRaw(dy, dy, scale, 0);
  return cur;
}

function reduceOp(op: string, x: Tensor, axes: number | number[] | undefined, keepDims: boolean, mean: boolean): Tensor {
  checkTensor(op, 'x', x); checkF32(op, 'x', x);
  const ax = normAxes(op, x.shape, axes);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  if (mean && count === 0) throw opError(op, `mean over an empty axis of ${x.label()}`);
  const scale = mean ? 1 / count : 1;
  let y = reduceRaw(x, ax, scale);
  if (keepDims) {
    const ks = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const v = y.view(ks);
    y.dispose();
    y = v;
  }
  const xShape = x.shape;
  record(op, [x], y, [], (dy) => [broadcastRaw(dy, xShape, ax, scale)]);
  return y;
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  return reduceOp('sum', x, axes, keepDims, false);
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  return reduceOp('mean', x, axes, keepDims, true);
}
