/**
 * Loading manifests from paths: list the files, then load them in this thread (small trees) or
 * across worker threads (large ones; YAML parsing is the cost and it parallelises per file).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BerthError } from '../api/errors.js';
import { collect, type LoadResult } from './collect.js';
import { DEFAULT_LOAD_OPTIONS, loadFile, type FileResult, type LoadOptions } from './load.js';
import { listManifestFiles, readSourceFile, type ManifestFileRef } from './tree.js';

export { collect, objectKey, type LoadResult } from './collect.js';
export { loadFile, DEFAULT_LOAD_OPTIONS, MAX_FILE_BYTES, type LoadOptions, type LoadedObject, type FileResult, type SourceFile } from './load.js';
export { formatDiagnostic, type Diagnostic, type DiagnosticReason } from './diagnostics.js';

/** Below this many bytes in total, starting workers costs more than it saves. */
const PARALLEL_THRESHOLD_BYTES = 512 * 1024;
const BATCH_FILES = 16;

export interface LoadPathsOptions extends LoadOptions {
  /** Worker threads to use; 0 loads in this thread. Default: chosen from the tree's size. */
  workers?: number;
}

export async function loadPaths(paths: readonly string[], options: Partial<LoadPathsOptions> = {}): Promise<LoadResult> {
  const opts: LoadOptions = { ...DEFAULT_LOAD_OPTIONS, ...options };
  const refs = await listManifestFiles(paths);
  const totalBytes = refs.reduce((n, r) => n + r.size, 0);
  const workers = options.workers ?? (totalBytes < PARALLEL_THRESHOLD_BYTES ? 0 : Math.min(availableParallelism(), Math.ceil(refs.length / BATCH_FILES)));
  const results = workers > 0 ? await loadInWorkers(refs, opts, workers) : await loadHere(refs, opts);
  return collect(results);
}

async function loadHere(refs: ManifestFileRef[], options: LoadOptions): Promise<FileResult[]> {
  const out: FileResult[] = [];
  for (const ref of refs) out.push(loadFile(await readSourceFile(ref).catch((e) => ioError(ref, e)), options));
  return out;
}

function ioError(ref: ManifestFileRef, e: unknown): never {
  throw new BerthError('Usage', `cannot read ${ref.display}: ${(e as Error).message}`, { cause: e });
}

/**
 * The built package runs worker.js directly. Under vitest or tsx the sources are .ts, and a worker
 * does not inherit the TypeScript loader: a small bootstrap registers tsx in the worker first.
 */
function startWorker(options: LoadOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: { options } });
  const script = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: { options } });
}

async function loadInWorkers(refs: ManifestFileRef[], options: LoadOptions, count: number): Promise<FileResult[]> {
  const batches: ManifestFileRef[][] = [];
  for (let i = 0; i < refs.length; i += BATCH_FILES) batches.push(refs.slice(i, i + BATCH_FILES));
  const results: FileResult[][] = new Array(batches.length);
  let next = 0;

  const run = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = startWorker(options);
      const send = (): void => {
        if (next >= batches.length) {
          void worker.terminate().then(() => resolve());
          return;
        }
        const id = next++;
        worker.postMessage({ id, files: batches[id] });
      };
      worker.on('message', (msg: { id: number; results: (FileResult & { ioError?: string })[] }) => {
        const failed = msg.results.find((r) => r.ioError);
        if (failed) {
          void worker.terminate();
          reject(new BerthError('Usage', `cannot read ${failed.file}: ${failed.ioError}`));
          return;
        }
        results[msg.id] = msg.results;
        send();
      });
      worker.on('error', reject);
      send();
    });

  await Promise.all(Array.from({ length: Math.min(count, batches.length) }, run));
  return results.flat();
}
