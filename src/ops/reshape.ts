// reshape / flatten: a new view of the same storage; the gradient is the incoming one, viewed back.
import { Tensor, shapeSize, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { checkTensor, opError } from './util.js';

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'x', x);
  const s = [...shape];
  const infer = s.indexOf(-1);
  if (infer >= 0) {
    if (s.indexOf(-1, infer + 1) >= 0) throw opError('reshape', `only one -1 allowed in ${fmtShape(shape)}`);
    const known = shapeSize(s.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) throw opError('reshape', `cannot infer -1 in ${fmtShape(shape)} for ${x.label()}`);
    s[infer] = x.size / known;
  }
  if (shapeSize(s) !== x.size) throw opError('reshape', `cannot reshape ${x.label()} (${x.size} elements) to ${fmtShape(shape)}`);
  const y = x.view(s);
  record('reshape', [x], y, [], (dy) => [dy.view(x.shape)]);
  return y;
}

/** [n, ...] -> [n, prod(rest)] */
export function flatten(x: Tensor): Tensor {
  checkTensor('flatten', 'x', x);
  if (x.shape.length < 1) throw opError('flatten', `needs rank >= 1, got ${x.label()}`);
  return reshape(x, [x.shape[0]!, -1]);
}
