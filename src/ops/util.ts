// Shared helpers for op files: shape checks with messages that name the op, and the one-variant family of the
// elementwise kernels.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { stream, gridFor, type DispatchArgs } from '../gpu/stream.js';
import { onDestroy } from '../gpu/device.js';
import { Family } from '../gpu/variants.js';
import type { KernelName } from '../gen/kernels.gen.js';

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

/** What an elementwise launch passes: its Params but n4, its bindings, and its cost per element. */
export interface ElementwiseArgs<K extends KernelName> {
  params: Omit<DispatchArgs<K>['params'], 'n4'>;
  bind: DispatchArgs<K>['bind'];
  /** FLOPs and bytes per element. */
  flops?: number;
  bytes?: number;
}

/**
 * The family of an elementwise kernel (geometry: the element count n). Its one variant, `vec4`, runs one vec4 per
 * invocation over ceil(n / 4) vec4s: the last one may reach past n into the buffer's padding, which pool sizes
 * allow, so no scalar twin is needed for sizes that are not multiples of 4.
 */
export function elementwiseFamily<K extends KernelName>(kernel: K): Family<number, ElementwiseArgs<K>> {
  return new Family<number, ElementwiseArgs<K>>(kernel, [{
    name: 'vec4',
    kernels: [kernel],
    fits: (n) => (Number.isInteger(n) && n >= 0 ? true : `element count ${n} is not a non-negative integer`),
    grid: (n, ov) => gridFor(kernel, Math.ceil(n / 4), ov),
    run(n, a, ov) {
      if (n === 0) return;
      const params = { n4: Math.ceil(n / 4), ...a.params } as unknown as DispatchArgs<K>['params'];
      stream.dispatch(kernel, { params, bind: a.bind, grid: this.grid(n, ov), overrides: ov, cost: { flops: (a.flops ?? 0) * n, bytes: (a.bytes ?? 0) * n } });
    },
  }], (n) => `${n} elements`);
}
