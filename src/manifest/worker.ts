/** Loader thread: loads the batches of files the pool hands it (see pool.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { warmValidators } from './schema.js';
import { warmLoader } from './warmup.js';
import { loadFile, type FileResult } from './load.js';
import { readSourceFile } from './tree.js';
import { READY, type WorkerReply, type WorkerRequest } from './pool.js';

parentPort!.on('message', (req: WorkerRequest) => {
  const results: FileResult[] = [];
  let reply: WorkerReply;
  try {
    for (const f of req.files) results.push(loadFile('bytes' in f ? f : readSourceFile(f), req.options));
    reply = { id: req.id, results };
  } catch (e) {
    const f = req.files[results.length];
    const file = !f ? '?' : 'bytes' in f ? f.path : f.display;
    reply = { id: req.id, results: [], ioError: { file, message: (e as Error).message } };
  }
  parentPort!.postMessage(reply);
});

// Compile the schema validators while the first batch is on its way; a pool warmed ahead of its
// first load (a server's) also gets the parser optimised (see warmup.ts).
if ((workerData as { warm?: boolean } | undefined)?.warm) {
  warmLoader();
  parentPort!.postMessage(READY);
} else warmValidators();
