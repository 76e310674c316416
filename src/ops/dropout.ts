// Dropout: identity in eval mode and when p = 0; in training y = x * mask / (1 - p) with the mask a
// counter-based hash of (seed, element index) computed in the kernel, so nothing is stored: the backward
// recomputes the same mask from the same seed (dx = dy * mask / (1 - p)). The caller passes a fresh seed
// every step, and different seeds to different dropout layers of one step (equal seeds give equal masks).
// Twin: ref/elementwise.ts dropoutFwd/Bwd (mask given; read it back with dropoutMask()).
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, checkArgCount, opError } from './util.js';

export interface DropoutOptions {
  training: boolean;
  /** Integer in [0, 2^32): required in training mode when p > 0. */
  seed?: number;
}

function checkP(op: string, p: unknown): asserts p is number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw opError(op, `p=${String(p)} must be a number in [0, 1]`);
}

function checkSeed(op: string, seed: unknown): asserts seed is number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw opError(op, `seed=${String(seed)} must be an integer in [0, 2^32) (pass a fresh one every step)`);
  }
}

function applyRaw(x: Tensor, p: number, seed: number, scale: number): Tensor {
  const y = Tensor.empty(x.shape);
  if (x.size > 0) {
    stream.dispatch('dropout_apply', { params: { n: x.size, seed, prob: p, scale }, bind: { x, y }, grid: gridFor('dropout_apply', x.size), cost: { flops: 20 * x.size, bytes: 8 * x.size } });
  }
  return y;
}

/**
 * Inverted dropout (torch.nn.functional.dropout). In eval mode or with p = 0 it returns a view of x (no copy,
 * gradient passed through). p = 1 zeroes everything (NaN inputs stay NaN).
 */
export function dropout(x: Tensor, p: number, opts: DropoutOptions): Tensor {
  const op = 'dropout';
  checkArgCount(op, arguments, 3);
  checkTensor(op, 'x', x); checkF32(op, 'x', x); checkP(op, p);
  if (!opts || typeof opts.training !== 'boolean') throw opError(op, 'options must say { training: true | false }');
  if (!opts.training || p === 0) {
    const y = x.view(x.shape);
    record(op, [x], y, [], (dy) => [dy.view(x.shape)]);
    return y;
  }
  checkSeed(op, opts.seed);
  const seed = opts.seed;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const y = applyRaw(x, p, seed, scale);
  record(op, [x], y, [], (dy) => [applyRaw(dy, p, seed, scale)]);
  return y;
}

/** The 0/1 keep-mask dropout(x, p, { training: true, seed }) applies to a tensor of `shape` (tests, debugging). */
export function dropoutMask(shape: readonly number[], p: number, seed: number): Tensor {
  checkP('dropoutMask', p); checkSeed('dropoutMask', seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const ones = Tensor.fromArray(new Float32Array(n).fill(1), shape);
  const m = applyRaw(ones, p, seed, 1);
  ones.dispose();
  return m;
}
