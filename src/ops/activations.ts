// Activations of the mobile backbones (MobileNet-v2: ReLU6; EfficientNet-B0: SiLU/swish and the sigmoid of
// the squeeze-and-excitation gate), each with its backward. Twins: ref/elementwise.ts relu6Fwd/Bwd,
// sigmoidFwd/Bwd, siluFwd/Bwd. Every forward propagates NaN (the trainer's NaN check depends on it).
import { Tensor } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream } from '../gpu/stream.js';
import { kernels, type KernelName } from '../gen/kernels.gen.js';
import { checkTensor, checkF32, checkArgCount, elemGrid } from './util.js';

/**
 * One elementwise activation: `fwd` writes y from x; `bwd` writes dx from (saved, dy), where saved is the
 * forward output y (`save: 'y'`) or its input x (`save: 'x'`).
 */
function unary(op: string, x: Tensor, fwd: KernelName, bwd: KernelName, save: 'x' | 'y', flops: number): Tensor {
  checkTensor(op, 'x', x); checkF32(op, 'x', x);
  const n = x.size;
  // vec4 siblings (`<name>_v4`, a quarter of the gathers on lavapipe) when the size allows.
  const v4 = n % 4 === 0 && `${fwd}_v4` in kernels && `${bwd}_v4` in kernels;
  const p: Record<string, number> = v4 ? { n4: n / 4 } : { n };
  const grid = elemGrid(v4 ? n / 4 : n);
  const y = Tensor.empty(x.shape);
  stream.dispatch((v4 ? `${fwd}_v4` : fwd) as KernelName, {}, p, [x.binding, y.binding], grid, { flops: flops * n, bytes: 8 * n });
  record(op, [x], y, [save === 'y' ? y : x], (dy, [s]) => {
    const dx = Tensor.empty(x.shape);
    stream.dispatch((v4 ? `${bwd}_v4` : bwd) as KernelName, {}, p, [s!.binding, dy.binding, dx.binding], grid, { flops: (flops + 3) * n, bytes: 12 * n });
    return [dx];
  });
  return y;
}

/** min(max(x, 0), 6); gradient 1 strictly inside (0, 6), 0 elsewhere including both kinks (PyTorch's). */
export function relu6(x: Tensor): Tensor {
  checkArgCount('relu6', arguments, 1);
  return unary('relu6', x, 'relu6_fwd', 'relu6_bwd', 'y', 2);
}

/** 1 / (1 + exp(-x)), computed without overflow; backward from the saved output: dy * y * (1 - y). */
export function sigmoid(x: Tensor): Tensor {
  checkArgCount('sigmoid', arguments, 1);
  return unary('sigmoid', x, 'sigmoid_fwd', 'sigmoid_bwd', 'y', 4);
}

/** x * sigmoid(x) (swish); backward from the saved input: dy * s * (1 + x * (1 - s)). */
export function silu(x: Tensor): Tensor {
  checkArgCount('silu', arguments, 1);
  return unary('silu', x, 'silu_fwd', 'silu_bwd', 'x', 5);
}
