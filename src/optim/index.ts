export { SGD, decayGroups, type SgdOptions, type ParamGroup } from './sgd.js';
export { cosineLr, stepLr, type CosineOptions } from './schedule.js';
export { sgdStepRaw, sgdFamily } from './sgd_kernel.js';
