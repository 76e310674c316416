export { knnClassify, type KnnOptions, type KnnResult } from './knn.js';
