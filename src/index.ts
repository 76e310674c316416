export { initGpu, destroyGpu, gpuContext, hasGpu, INSTALL_HINT } from './gpu/device.js';
export { stream, getPipeline, grid1d } from './gpu/stream.js';
export { pool, poolStats, sizeClass } from './gpu/pool.js';
export { kernels } from './gen/kernels.gen.js';
export { Tensor, shapeSize, setPoison } from './autograd/tensor.js';
export { tidy, noGrad, isGradEnabled } from './autograd/scope.js';
export { backward, record } from './autograd/tape.js';
export * from './ops/index.js';
export * from './nn/index.js';
