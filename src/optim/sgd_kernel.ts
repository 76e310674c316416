// One torch.optim.SGD step of one parameter tensor on the GPU, in place (no tape): weight decay added to the
// gradient, momentum buffer (first step: buf = grad), dampening, nesterov; param -= lr * update.
// lr and the other hyper-parameters go through the kernel's Params uniform, so an lr schedule never
// recompiles a pipeline. Twin: ref/sgd.ts sgdStep.
import { Tensor } from '../autograd/tensor.js';
import { dummyTensor, elementwiseFamily } from '../ops/util.js';

export const sgdFamily = elementwiseFamily('sgd_step');

export interface SgdStepOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** The buffer's first step: it is set to the (decayed) gradient and its old contents are ignored. */
  firstStep: boolean;
}

function fail(msg: string): never {
  throw new Error(`sgdStep: ${msg}`);
}

/**
 * param -= lr * update, updating momBuf in place when momentum != 0. momBuf must be a tensor of param's size
 * whenever momentum != 0 (its contents are ignored on the first step) and may be null when momentum is 0.
 */
export function sgdStepRaw(param: Tensor, grad: Tensor, momBuf: Tensor | null, opts: SgdStepOptions): void {
  const { lr, momentum, dampening, weightDecay, nesterov, firstStep } = opts;
  for (const [k, v] of Object.entries({ lr, momentum, dampening, weightDecay })) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${k}=${String(v)} must be a finite number`);
  }
  // PyTorch's constructor checks.
  if (lr < 0) fail(`invalid learning rate ${lr}`);
  if (momentum < 0) fail(`invalid momentum ${momentum}`);
  if (weightDecay < 0) fail(`invalid weight_decay ${weightDecay}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    fail(`nesterov requires momentum > 0 and dampening = 0 (momentum=${momentum}, dampening=${dampening})`);
  }
  for (const [k, t] of [['param', param], ['grad', grad]] as const) {
    if (!(t instanceof Tensor)) fail(`${k} must be a Tensor`);
    if (t.isDisposed) fail(`${k} ${t.label()} was disposed`);
    if (t.dtype !== 'f32') fail(`${k} ${t.label()} must be float32`);
  }
  if (grad.size !== param.size) fail(`grad ${grad.label()} does not match param ${param.label()}`);
  if (grad.storage === param.storage) fail(`grad and param ${param.label()} share storage`);
  const useBuf = momentum !== 0;
  if (useBuf) {
    if (!momBuf) fail(`momentum ${momentum} needs a momentum buffer for ${param.label()}`);
    if (!(momBuf instanceof Tensor) || momBuf.isDisposed) fail(`momentum buffer for ${param.label()} is not a live Tensor`);
    if (momBuf.size !== param.size || momBuf.dtype !== 'f32') fail(`momentum buffer ${momBuf.label()} does not match param ${param.label()}`);
    if (momBuf.storage === param.storage || momBuf.storage === grad.storage) fail(`momentum buffer ${momBuf.label()} aliases param or grad`);
  }
  const n = param.size;
  if (n === 0) return;
  // momentum 0: the kernel never touches binding 3, but WebGPU wants a distinct writable buffer there.
  const buf = momBuf && useBuf ? momBuf : dummyTensor();
  sgdFamily.run(n, {
    params: { lr, momentum, dampening, weight_decay: weightDecay, nesterov: nesterov ? 1 : 0, first_step: firstStep ? 1 : 0 },
    bind: { grad, param, buf }, flops: 6, bytes: useBuf ? 20 : 12,
  });
}
