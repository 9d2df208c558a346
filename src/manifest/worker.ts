/** Loader thread: loads the batches of files the pool hands it (see pool.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { warmValidators } from './schema.js';
import { warmUp } from './warmup.js';
import type { FileResult } from './load.js';
import { READY, inputName, loadInput, type WorkerReply, type WorkerRequest } from './pool.js';

parentPort!.on('message', (req: WorkerRequest) => {
  const results: FileResult[] = [];
  let reply: WorkerReply;
  try {
    for (const f of req.files) results.push(loadInput(f, req.options));
    reply = { id: req.id, results };
  } catch (e) {
    reply = { id: req.id, results: [], ioError: { file: inputName(req.files[results.length]), message: (e as Error).message } };
  }
  parentPort!.postMessage(reply);
});

// Compile the schema validators while the first batch is on its way; a pool warmed ahead of its
// first load (a server's) also gets the parser optimised (see warmup.ts).
if ((workerData as { warm?: boolean } | undefined)?.warm) {
  warmUp();
  parentPort!.postMessage(READY);
} else warmValidators();
