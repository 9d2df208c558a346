/** Loader thread: loads the batches of files the pool hands it (see pool.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { warmValidators } from './schema.js';
import { warmUp } from './warmup.js';
import { READY, loadBatch, type WorkerReply, type WorkerRequest } from './pool.js';

parentPort!.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { results: loadBatch(req.files, req.options) };
  } catch (e) {
    reply = { results: [], failure: (e as Error).message };
  }
  parentPort!.postMessage(reply);
});

// Compile the schema validators while the first batch is on its way; a pool warmed ahead of its
// first load (a server's) also gets the parser optimised (see warmup.ts).
if ((workerData as { warm?: boolean } | undefined)?.warm) {
  warmUp();
  parentPort!.postMessage(READY);
} else warmValidators();
