// Worker-thread entry of the data loader. The build bundles this file on its
// own to dist/data_worker.js; the loader finds it next to its own bundle.
//
// It reopens the data set from its spec (shared memory, no copies), then
// builds the batches it is sent, one at a time, and hands them back in
// shared memory.

import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool, buildBatch } from './batch.js';
import { BadSampleError } from './dataset.js';
import { openDatasetSpec } from './open.js';
import { Augmenter } from './pipeline.js';
import type { RecycleMessage, JobMessage, ReplyMessage, WorkerInit } from './protocol.js';

if (!parentPort) throw new Error('data_worker.js must be started as a worker thread by the data loader');
const port = parentPort;
const init = workerData as WorkerInit;
const dataset = openDatasetSpec(init.dataset);
const augmenter = new Augmenter(init.pipeline, { kernels: init.kernels });

const pool = new BufferPool(init.poolSize, true);

// One batch at a time: memory per worker stays at one batch being built.
let chain: Promise<void> = Promise.resolve();

port.on('message', (msg: JobMessage | RecycleMessage) => {
  if (msg.type === 'recycle') {
    for (const b of msg.buffers) pool.give(b);
  } else if (msg.type === 'job') {
    chain = chain.then(() => runJob(msg));
  }
});

async function runJob(msg: JobMessage): Promise<void> {
  let reply: ReplyMessage;
  const transfer: ArrayBuffer[] = [];
  try {
    const result = await buildBatch(dataset, augmenter, init.config, { epoch: msg.epoch, batch: msg.batch, indices: msg.indices }, pool);
    // Images live in shared memory (sent, not copied); the small label arrays are transferred.
    transfer.push(result.labels.buffer as ArrayBuffer, result.indices.buffer as ArrayBuffer);
    reply = { type: 'done', id: msg.id, result };
  } catch (err) {
    const e = err as Error;
    reply = { type: 'fail', id: msg.id, message: e?.message ?? String(err), stack: e?.stack };
    if (err instanceof BadSampleError) {
      reply.file = err.file;
      reply.reason = err.reason;
    }
  }
  port.postMessage(reply, transfer);
}
