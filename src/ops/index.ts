export * from './elementwise.js';
export * from './reshape.js';
export * from './reduce.js';
export * from './pool.js';
export * from './normalize.js';
export * from './loss.js';
export * from './batchnorm.js';
export { addInPlace, fillInPlace } from './accumulate.js';
export * from './gemm.js';
