// Messages between the loader and its worker threads (plain data only).

import type { BatchConfig, BuiltBatch } from './batch.js';
import type { DatasetSpec } from './dataset.js';
import type { PipelineSpec } from './pipeline.js';

/** Handed to each worker at start (workerData). */
export interface WorkerInit {
  dataset: DatasetSpec;
  pipeline: PipelineSpec;
  kernels: 'simd' | 'js';
  config: BatchConfig;
  /** Released batch buffers a worker keeps per size. */
  poolSize: number;
}

/** Buffers of released batches, back to the worker that built them. */
export interface RecycleMessage {
  type: 'recycle';
  buffers: SharedArrayBuffer[];
}

export interface JobMessage {
  type: 'job';
  id: number;
  epoch: number;
  batch: number;
  indices: Int32Array;
}

export type ReplyMessage =
  | { type: 'done'; id: number; result: BuiltBatch }
  | { type: 'fail'; id: number; message: string; file?: string; reason?: string; stack?: string };
