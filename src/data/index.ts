// simreg's host-side data layer: data-set readers, augmentations and the
// loader. Never touches the GPU; hands Float32Array NCHW batches and Int32Array
// labels up to the trainer.

export {
  ArrayDataset,
  BadSampleError,
  SubsetDataset,
  labelHistogram,
  skipReport,
  type Dataset,
  type Rect,
  type RegionRequest,
  type RegionSample,
  type DatasetSpec,
  type DecodeHint,
  type RawImage,
  type Sample,
  type SkippedFile,
} from './dataset.js';
export { FASHION_MNIST_DIR, mnistFiles, openIdx, openMnist, parseIdx, readIdx, type IdxArray } from './idx.js';
export { cifarFiles, cifarRecordBytes, openCifar, openCifarDir, type CifarOptions, type CifarVariant } from './cifar.js';
export { ImageFolder, decodeImage, imageSize, sniffImageFormat, type DecodeOptions, type ImageFolderOptions } from './folder.js';
export { openDatasetSpec } from './open.js';
export {
  GREY_B,
  GREY_G,
  GREY_R,
  JitterOp,
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  centerCropBox,
  channelStats,
  colorJitter,
  colorJitterFused,
  gaussianBlur,
  gaussianBlurNormalizeInto,
  gaussianWeights,
  greyMean,
  hflip,
  normalizeInto,
  resizedCrop,
  roundHalfEven,
  sampleJitter,
  sampleResizedCrop,
  toFloatImage,
  toGrayscale,
  type CropBox,
  type FloatImage,
  type JitterDraw,
  type JitterStrength,
} from './augment.js';
export {
  Augmenter,
  IMAGENET_MEAN,
  IMAGENET_STD,
  checkPipeline,
  makePipeline,
  pipelineHint,
  type AugmentDraw,
  type AugmenterOptions,
  type Origin,
  type CropSpec,
  type PipelineName,
  type PipelineOptions,
  type PipelineSpec,
} from './pipeline.js';
export { SimdAugment, simdAvailable, type SimdRender } from './simd.js';
export { DataLoader, findWorkerScript, type Batch, type EpochOptions, type LoaderOptions, type ViewMode } from './loader.js';
export { Rng, epochOrder, hashKey, mix32, sampleRng } from './rng.js';
