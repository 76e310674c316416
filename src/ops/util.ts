// Shared helpers for op files: shape checks with messages that name the op, and 1-D launch grids.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { grid1d } from '../gpu/stream.js';
import { onDestroy } from '../gpu/device.js';

export function opError(op: string, msg: string): Error {
  return new Error(`${op}: ${msg}`);
}

export function checkTensor(op: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw opError(op, `argument ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (t.isDisposed) throw opError(op, `argument ${name} ${t.label()} was disposed`);
}

export function checkF32(op: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32') throw opError(op, `argument ${name} ${t.label()} must be float32, got ${t.dtype}`);
}

export function checkRank(op: string, name: string, t: Tensor, rank: number | number[]): void {
  const ok = Array.isArray(rank) ? rank.includes(t.shape.length) : t.shape.length === rank;
  if (!ok) throw opError(op, `argument ${name} must have rank ${Array.isArray(rank) ? rank.join(' or ') : rank}, got ${t.label()}`);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw opError(op, `shapes differ: ${fmtShape(a.shape)} vs ${fmtShape(b.shape)}`);
}

export function checkArgCount(op: string, args: IArguments | unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw opError(op, `expects ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

let dummy: Tensor | null = null;
onDestroy(() => { dummy = null; });
/** A 16-byte buffer bound where a kernel's optional binding is unused (bias off, no momentum buffer). */
export function dummyTensor(): Tensor {
  if (!dummy || dummy.isDisposed) dummy = new Tensor([4], 'f32', undefined, false);
  return dummy;
}

/** grid for one element per invocation with workgroups of `wg` invocations. */
export function elemGrid(n: number, wg = 256): [number, number, number] {
  return grid1d(Math.ceil(n / wg));
}
