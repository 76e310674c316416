export { knnClassify, type KnnOptions, type KnnResult } from './knn.js';
export { extractFeatures, type Features, type FeatureExtractor } from './features.js';
export { linearProbe, type ProbeOptions, type ProbeResult } from './probe.js';
