// In-place helpers the engine itself uses (no tape): gradient accumulation and fills.
import type { Tensor } from '../autograd/tensor.js';
import { stream } from '../gpu/stream.js';
import { elemGrid } from './util.js';

/** dst += alpha * src */
export function addInPlace(dst: Tensor, src: Tensor, alpha = 1): void {
  if (dst.size !== src.size) throw new Error(`addInPlace: ${dst.label()} and ${src.label()} differ in size`);
  const cost = { bytes: 12 * dst.size, flops: 2 * dst.size };
  if (dst.size % 4 === 0) stream.dispatch('axpy_v4', {}, { n4: dst.size / 4, alpha }, [src.binding, dst.binding], elemGrid(dst.size / 4), cost);
  else stream.dispatch('axpy', {}, { n: dst.size, alpha }, [src.binding, dst.binding], elemGrid(dst.size), cost);
}

export function fillInPlace(t: Tensor, value: number): void {
  stream.dispatch('fill', {}, { n: t.size, value }, [t.binding], elemGrid(t.size), { bytes: 4 * t.size });
}

/** In place: dst = m * dst + (1 - m) * src (the momentum encoder's update; no tape). */
export function emaInPlace(dst: Tensor, src: Tensor, m: number): void {
  if (dst.size !== src.size) throw new Error(`emaInPlace: ${dst.label()} and ${src.label()} differ in size`);
  if (!(m >= 0 && m <= 1)) throw new Error(`emaInPlace: momentum must be in [0, 1], got ${m}`);
  stream.dispatch('ema_update', {}, { n: dst.size, m }, [src.binding, dst.binding], elemGrid(dst.size), { bytes: 12 * dst.size, flops: 3 * dst.size });
}
