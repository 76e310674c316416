// Float64 CPU twins of every op: the oracle for kernel, op and model tests.
export * from './gemm.js';
export * from './conv2d.js';
export * from './batchnorm.js';
export * from './elementwise.js';
export * from './pool.js';
export * from './normalize.js';
export * from './loss.js';
export * from './reduce.js';
export * from './sgd.js';
