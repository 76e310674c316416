export { Module, type HostTensor, type HostStateDict } from './module.js';
export { Conv2d, BatchNorm, Linear, ReLU, Sequential } from './layers.js';
export { ResNet, resnet18, resnet34, resnet50, type ResNetOptions } from './resnet.js';
export { MobileNetV2, type MobileNetV2Options } from './mobilenet.js';
export { EfficientNetB0, type EfficientNetOptions } from './efficientnet.js';
export { MLPHead, simregHead, projectionHead, type HeadLayer, type SimRegHeadKind } from './heads.js';
export { createModel, ARCHITECTURES, type Architecture, type Backbone, type ModelOptions } from './registry.js';
export { InitRng } from './init.js';
export { loadWeights, saveWeights, CHECKPOINT_PRESETS, WEIGHT_PRESETS, HEAD_PATTERNS, type LoadWeightsOptions } from './weights.js';
