// Float64 twin of one torch.optim.SGD step for one parameter tensor.
import { checkSame } from './check.js';

/**
 * PyTorch's SGD: g = grad + weightDecay * param; with momentum, buf = g on the first step, else
 * buf = momentum * buf + (1 - dampening) * g; the step uses g + momentum * buf (nesterov) or buf.
 * param -= lr * step. Returns new arrays; inputs are not modified. momBuf may be null on the first
 * step and whenever momentum is 0 (then it is returned unchanged).
 */
export function sgdStep(
  param: Float64Array, grad: Float64Array, momBuf: Float64Array | null,
  lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean,
): { param: Float64Array; momBuf: Float64Array | null } {
  const fn = 'sgdStep';
  checkSame(fn, 'param', param, 'grad', grad);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new Error(`${fn}: nesterov requires momentum > 0 and dampening = 0 (momentum=${momentum}, dampening=${dampening})`);
  }
  const useBuf = momentum !== 0;
  if (useBuf && !firstStep) {
    if (!momBuf) throw new Error(`${fn}: momBuf is null after the first step (param length ${param.length})`);
    checkSame(fn, 'param', param, 'momBuf', momBuf);
  }
  const out = new Float64Array(param.length);
  const buf = useBuf ? new Float64Array(param.length) : null;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i]!;
    if (weightDecay !== 0) g += weightDecay * param[i]!;
    if (buf) {
      const b = firstStep ? g : momentum * momBuf![i]! + (1 - dampening) * g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    out[i] = param[i]! - lr * g;
  }
  return { param: out, momBuf: useBuf ? buf : momBuf };
}
