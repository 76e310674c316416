// Elementwise ops with their backward: add (residual), sub, scale/affine, mul, relu.
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { checkTensor, checkF32, checkSameShape, checkArgCount, opError, elementwiseFamily } from './util.js';

export const addScaledFamily = elementwiseFamily('add_scaled');
export const mulFamily = elementwiseFamily('mul');
export const reluFwdFamily = elementwiseFamily('relu_fwd');
export const reluBwdFamily = elementwiseFamily('relu_bwd');

/** z = alpha*a + beta*b + gamma (a, b of one size; b may be a). Raw launch, no tape. */
export function addScaledRaw(a: Tensor, b: Tensor, alpha: number, beta: number, gamma = 0, out?: Tensor): Tensor {
  if (b.size !== a.size) throw new Error(`addScaledRaw: ${a.label()} and ${b.label()} differ in size`);
  const z = out ?? Tensor.empty(a.shape);
  addScaledFamily.run(a.size, { params: { alpha, beta, gamma }, bind: { a, b, z }, flops: 3, bytes: 12 });
  return z;
}

/** dx = dy where y > 0 (y: the ReLU's output). Raw launch, no tape. */
export function reluBwdRaw(y: Tensor, dy: Tensor, dx: Tensor): void {
  reluBwdFamily.run(y.size, { params: {}, bind: { y, dy, dx }, bytes: 12 });
}

function scaledCopy(x: Tensor, alpha: number): Tensor {
  return addScaledRaw(x, x, alpha, 0, 0);
}

/** a + b (same shapes); the residual connection. */
export function add(a: Tensor, b: Tensor): Tensor {
  checkArgCount('add', arguments, 2);
  checkTensor('add', 'a', a); checkTensor('add', 'b', b);
  checkF32('add', 'a', a); checkF32('add', 'b', b);
  checkSameShape('add', a, b);
  const z = addScaledRaw(a, b, 1, 1);
  // The incoming gradient is consumed by this node: the first input may take it as a view (no copy); the
  // second needs its own buffer because the tape accumulates into gradients in place.
  record('add', [a, b], z, [], (dy, _s, needs) => [needs[0] ? dy.view(dy.shape) : null, needs[1] ? (needs[0] ? scaledCopy(dy, 1) : dy.view(dy.shape)) : null]);
  return z;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  checkArgCount('sub', arguments, 2);
  checkTensor('sub', 'a', a); checkTensor('sub', 'b', b);
  checkSameShape('sub', a, b);
  const z = addScaledRaw(a, b, 1, -1);
  record('sub', [a, b], z, [], (dy, _s, needs) => [needs[0] ? scaledCopy(dy, 1) : null, needs[1] ? scaledCopy(dy, -1) : null]);
  return z;
}

/** alpha * x + beta (scalars). */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  checkTensor('affine', 'x', x);
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw opError('affine', `alpha and beta must be finite numbers, got ${alpha}, ${beta}`);
  const z = addScaledRaw(x, x, alpha, 0, beta);
  record('affine', [x], z, [], (dy) => [scaledCopy(dy, alpha)]);
  return z;
}

export function scale(x: Tensor, alpha: number): Tensor {
  checkArgCount('scale', arguments, 2);
  return affine(x, alpha, 0);
}

function mulRaw(a: Tensor, b: Tensor): Tensor {
  const z = Tensor.empty(a.shape);
  mulFamily.run(a.size, { params: {}, bind: { a, b, z }, flops: 1, bytes: 12 });
  return z;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  checkArgCount('mul', arguments, 2);
  checkTensor('mul', 'a', a); checkTensor('mul', 'b', b);
  checkSameShape('mul', a, b);
  const z = mulRaw(a, b);
  record('mul', [a, b], z, [a, b], (dy, [sa, sb], needs) => [needs[0] ? mulRaw(dy, sb!) : null, needs[1] ? mulRaw(dy, sa!) : null]);
  return z;
}

export function relu(x: Tensor): Tensor {
  checkArgCount('relu', arguments, 1);
  checkTensor('relu', 'x', x); checkF32('relu', 'x', x);
  const y = Tensor.empty(x.shape);
  reluFwdFamily.run(x.size, { params: {}, bind: { x, y }, bytes: 8 });
  record('relu', [x], y, [y], (dy, [sy]) => {
    const dx = Tensor.empty(x.shape);
    reluBwdRaw(sy!, dy, dx);
    return [dx];
  });
  return y;
}
