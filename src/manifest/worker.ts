/** Loader thread: loads the batches of files the pool hands it (see pool.ts). */
import { parentPort } from 'node:worker_threads';
import { warmValidators } from './schema.js';
import { loadFile, type FileResult } from './load.js';
import { readSourceFile } from './tree.js';
import type { WorkerReply, WorkerRequest } from './pool.js';

parentPort!.on('message', (req: WorkerRequest) => {
  const results: FileResult[] = [];
  let reply: WorkerReply;
  try {
    for (const ref of req.files) results.push(loadFile(readSourceFile(ref), req.options));
    reply = { id: req.id, results };
  } catch (e) {
    const file = req.files[results.length]?.display ?? '?';
    reply = { id: req.id, results: [], ioError: { file, message: (e as Error).message } };
  }
  parentPort!.postMessage(reply);
});

// Compile the schema validators while the first batch is on its way.
warmValidators();
