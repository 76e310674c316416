// Activations of the mobile backbones (MobileNet-v2: ReLU6; EfficientNet-B0: SiLU/swish and the sigmoid of
// the squeeze-and-excitation gate), each with its backward. Twins: ref/elementwise.ts relu6Fwd/Bwd,
// sigmoidFwd/Bwd, siluFwd/Bwd. Every forward propagates NaN (the trainer's NaN check depends on it).
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import type { Family } from '../gpu/variants.js';
import { checkTensor, checkF32, checkArgCount, elementwiseFamily, type ElementwiseArgs } from './util.js';

// The forward kernels bind (x, y); the backward ones (saved, dy, dx), saved being y or x as the op says.
type Fwd = Family<number, ElementwiseArgs<'relu6_fwd'>>;
type Bwd = Family<number, ElementwiseArgs<'relu6_bwd'>>;
const relu6Fwd: Fwd = elementwiseFamily('relu6_fwd'), relu6Bwd: Bwd = elementwiseFamily('relu6_bwd');
const sigmoidFwd = elementwiseFamily('sigmoid_fwd'), sigmoidBwd = elementwiseFamily('sigmoid_bwd');
const siluFwd = elementwiseFamily('silu_fwd'), siluBwd = elementwiseFamily('silu_bwd');

/**
 * One elementwise activation: `fwd` writes y from x; `bwd` writes dx from the saved tensor and dy, where saved is
 * the forward output y (`save: 'y'`) or its input x (`save: 'x'`).
 */
function unary(op: string, x: Tensor, fwd: Fwd, bwd: (saved: Tensor, dy: Tensor, dx: Tensor, n: number) => void, save: 'x' | 'y', flops: number): Tensor {
  checkTensor(op, 'x', x); checkF32(op, 'x', x);
  const n = x.size;
  const y = Tensor.empty(x.shape);
  fwd.run(n, { params: {}, bind: { x, y }, flops, bytes: 8 });
  record(op, [x], y, [save === 'y' ? y : x], (dy, [s]) => {
    const dx = Tensor.empty(x.shape);
    bwd(s!, dy, dx, n);
    return [dx];
  });
  return y;
}

/** min(max(x, 0), 6); gradient 1 strictly inside (0, 6), 0 elsewhere including both kinks (PyTorch's). */
export function relu6(x: Tensor): Tensor {
  checkArgCount('relu6', arguments, 1);
  return unary('relu6', x, relu6Fwd, (y, dy, dx, n) => relu6Bwd.run(n, { params: {}, bind: { y, dy, dx }, flops: 3, bytes: 12 }), 'y', 2);
}

/** 1 / (1 + exp(-x)), computed without overflow; backward from the saved output: dy * y * (1 - y). */
export function sigmoid(x: Tensor): Tensor {
  checkArgCount('sigmoid', arguments, 1);
  return unary('sigmoid', x, sigmoidFwd, (y, dy, dx, n) => sigmoidBwd.run(n, { params: {}, bind: { y, dy, dx }, flops: 3, bytes: 12 }), 'y', 4);
}

/** x * sigmoid(x) (swish); backward from the saved input: dy * s * (1 + x * (1 - s)). */
export function silu(x: Tensor): Tensor {
  checkArgCount('silu', arguments, 1);
  return unary('silu', x, siluFwd, (sx, dy, dx, n) => siluBwd.run(n, { params: {}, bind: { x: sx, dy, dx }, flops: 8, bytes: 12 }), 'x', 5);
}
