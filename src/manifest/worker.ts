/** Worker thread: reads and loads the batches of files the pool hands it. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadFile, type LoadOptions } from './load.js';
import { readSourceFile, type ManifestFileRef } from './tree.js';

const options = (workerData as { options: LoadOptions }).options;

parentPort!.on('message', async (batch: { id: number; files: ManifestFileRef[] }) => {
  const results = [];
  for (const ref of batch.files) {
    try {
      results.push(loadFile(await readSourceFile(ref), options));
    } catch (e) {
      results.push({ file: ref.display, objects: [], diagnostics: [], ioError: (e as Error).message });
    }
  }
  parentPort!.postMessage({ id: batch.id, results });
});
