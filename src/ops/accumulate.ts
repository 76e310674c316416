// In-place helpers the engine itself uses (no tape): gradient accumulation and fills.
import type { Tensor } from '../autograd/tensor.js';
import { elementwiseFamily } from './util.js';

export const axpyFamily = elementwiseFamily('axpy');
export const fillFamily = elementwiseFamily('fill');
export const emaFamily = elementwiseFamily('ema_update');

/** dst += alpha * src */
export function addInPlace(dst: Tensor, src: Tensor, alpha = 1): void {
  if (dst.size !== src.size) throw new Error(`addInPlace: ${dst.label()} and ${src.label()} differ in size`);
  axpyFamily.run(dst.size, { params: { alpha }, bind: { x: src, y: dst }, bytes: 12, flops: 2 });
}

export function fillInPlace(t: Tensor, value: number): void {
  fillFamily.run(t.size, { params: { value }, bind: { y: t }, bytes: 4 });
}

/** In place: dst = m * dst + (1 - m) * src (the momentum encoder's update; no tape). */
export function emaInPlace(dst: Tensor, src: Tensor, m: number): void {
  if (dst.size !== src.size) throw new Error(`emaInPlace: ${dst.label()} and ${src.label()} differ in size`);
  if (!(m >= 0 && m <= 1)) throw new Error(`emaInPlace: momentum must be in [0, 1], got ${m}`);
  emaFamily.run(dst.size, { params: { m }, bind: { x: src, y: dst }, bytes: 12, flops: 3 });
}
