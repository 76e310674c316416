export { Module, type HostTensor, type HostStateDict } from './module.js';
export { Conv2d, BatchNorm, Linear, ReLU, Sequential } from './layers.js';
export { ResNet, resnet18, resnet34, resnet50, type ResNetOptions } from './resnet.js';
export { InitRng } from './init.js';
