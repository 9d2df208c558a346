/**
 * Loading manifests from paths or from memory: on this thread (a few files), or on the shared pool
 * of loader threads with this thread helping (many).
 */
import { availableParallelism } from 'node:os';
import { collect, type LoadResult } from './collect.js';
import { DEFAULT_LOAD_OPTIONS, type FileResult, type LoadOptions, type SourceFile } from './load.js';
import { LoaderPool, loadBatch, loadInputs } from './pool.js';
import { listManifestFiles } from './tree.js';
import { decryptionFailed, symlinkOutsideTree } from './diagnostics.js';

export { collect, objectKey, type LoadResult } from './collect.js';
export {
  loadFile,
  DEFAULT_LOAD_OPTIONS,
  MAX_FILE_BYTES,
  type LoadOptions,
  type LoadedObject,
  type FileResult,
  type SourceFile,
} from './load.js';
export {
  decryptionFailed,
  formatDiagnostic,
  symlinkOutsideTree,
  type Diagnostic,
  type DiagnosticReason,
} from './diagnostics.js';
export { LoaderPool } from './pool.js';
export { podSecurityDiagnostics } from './pod-security.js';

/** Below this many files, handing work to threads costs more than it saves. */
export const PARALLEL_THRESHOLD_FILES = 200;

let sharedPool: LoaderPool | undefined;

export interface LoadPathsOptions extends LoadOptions {
  /** Load on this thread (`false`) or on the shared thread pool (`true`). Default: by tree size. */
  parallel?: boolean;
  /** A pool to use instead of the shared one. */
  pool?: LoaderPool;
  /**
   * Plaintext for an encrypted file (SOPS), or undefined for one that is not; a throw refuses the
   * file with its message (reason DecryptionFailed). Files are then read and loaded on this thread.
   */
  decrypt?: (path: string, text: string) => Promise<string | undefined>;
}

export async function loadPaths(
  paths: readonly string[],
  options: Partial<LoadPathsOptions> = {},
): Promise<LoadResult> {
  const opts: LoadOptions = {
    strict: options.strict ?? DEFAULT_LOAD_OPTIONS.strict,
    defaultNamespace: options.defaultNamespace ?? DEFAULT_LOAD_OPTIONS.defaultNamespace,
  };
  const { files: refs, outside } = listManifestFiles(paths);
  const skipped = outside.map((l) => symlinkOutsideTree(l.display, l.target));
  if (options.decrypt) return collect([...(await loadDecrypted(refs, opts, options.decrypt)), ...skipped]);
  const parallel = options.parallel ?? refs.length >= PARALLEL_THRESHOLD_FILES;
  if (!parallel) return collect([...loadBatch(refs, opts), ...skipped]);
  const pool = options.pool ?? shared();
  const loading = settledLater(pool.load(refs, opts));
  await pool.help();
  return collect([...(await loading), ...skipped]);
}

/** `berth validate --decrypt`: each file read, decrypted when it is SOPS-encrypted, and loaded, on this thread. */
async function loadDecrypted(
  refs: ReturnType<typeof listManifestFiles>['files'],
  options: LoadOptions,
  decrypt: NonNullable<LoadPathsOptions['decrypt']>,
): Promise<FileResult[]> {
  const results: FileResult[] = [];
  for (let input of loadInputs(refs)) {
    try {
      const plain = await decrypt(input.path, Buffer.from(input.bytes).toString('utf8'));
      if (plain !== undefined) input = { path: input.path, bytes: Buffer.from(plain, 'utf8') };
    } catch (e) {
      results.push(decryptionFailed(input.path, (e as Error).message));
      continue;
    }
    results.push(...loadBatch([input], options));
  }
  return results;
}

/**
 * Loads files already in memory (Git blobs), given in parts as the caller reads them: on this
 * thread, or (parallel) each part handed to the loader threads as it comes, so reading the next
 * overlaps parsing the last, and this thread helps once it has read them all.
 */
export async function loadSourceFiles(
  parts: AsyncIterable<SourceFile[]>,
  options: LoadOptions,
  parallel: boolean,
): Promise<FileResult[]> {
  const loading: Promise<FileResult[]>[] = [];
  for await (const part of parts)
    loading.push(parallel ? settledLater(shared().load(part, options)) : Promise.resolve(loadBatch(part, options)));
  if (parallel) await shared().help();
  return (await Promise.all(loading)).flat();
}

/**
 * Starts the shared loader threads, warming up, ahead of the first large load (a server, once it
 * has an Application); resolves once they are ready.
 */
export function warmLoader(): Promise<void> {
  return shared().warm();
}

/** One thread fewer than there are cores: the thread that asks for a load helps with it. */
export function loaderThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

function shared(): LoaderPool {
  return (sharedPool ??= new LoaderPool(loaderThreads()));
}

/** A load awaited later: until then, its failure is not an unhandled rejection. */
function settledLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

export { normalizeObject, type NormalizeOptions, type Normalized, type NormalizedObject } from './normalize.js';
export { renderPath, type Finding } from './diagnostics.js';
export { isManifestFileName, ignoreScope, isIgnored, type IgnoreScope } from './tree.js';
