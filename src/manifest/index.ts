/**
 * Loading manifests from paths: list the files, then load them on this thread (small trees) or on
 * the shared pool of loader threads (large ones).
 */
import { availableParallelism } from 'node:os';
import { BerthError } from '../api/errors.js';
import { collect, type LoadResult } from './collect.js';
import { DEFAULT_LOAD_OPTIONS, loadFile, type FileResult, type LoadOptions, type SourceFile } from './load.js';
import { LoaderPool } from './pool.js';
import { warmValidatorsGradually } from './schema.js';
import { listManifestFiles, readSourceFile, type ManifestFileRef } from './tree.js';

export { collect, objectKey, type LoadResult } from './collect.js';
export { loadFile, DEFAULT_LOAD_OPTIONS, MAX_FILE_BYTES, type LoadOptions, type LoadedObject, type FileResult, type SourceFile } from './load.js';
export { formatDiagnostic, type Diagnostic, type DiagnosticReason } from './diagnostics.js';
export { LoaderPool } from './pool.js';
/** Below this many files, handing work to threads costs more than it saves. */
export const PARALLEL_THRESHOLD_FILES = 200;

let sharedPool: LoaderPool | undefined;

export interface LoadPathsOptions extends LoadOptions {
  /** Load on this thread (`false`) or on the shared thread pool (`true`). Default: by tree size. */
  parallel?: boolean;
  /** A pool to use instead of the shared one. */
  pool?: LoaderPool;
}

export async function loadPaths(paths: readonly string[], options: Partial<LoadPathsOptions> = {}): Promise<LoadResult> {
  const opts: LoadOptions = { strict: options.strict ?? DEFAULT_LOAD_OPTIONS.strict, defaultNamespace: options.defaultNamespace ?? DEFAULT_LOAD_OPTIONS.defaultNamespace };
  const refs = listManifestFiles(paths);
  const parallel = options.parallel ?? refs.length >= PARALLEL_THRESHOLD_FILES;
  if (!parallel) return collect(loadHere(refs, opts));
  return collect(await (options.pool ?? shared()).load(refs, opts));
}

/**
 * Loads files already in memory (Git blobs): on this thread, or on the shared loader threads when
 * asked. A caller with many files hands them over in parts as it reads them, so reading the next
 * part overlaps parsing the last.
 */
export async function loadSourceFiles(files: SourceFile[], options: LoadOptions, parallel: boolean): Promise<FileResult[]> {
  return parallel ? shared().load(files, options) : files.map((f) => loadFile(f, options));
}

/**
 * Starts the shared loader threads ahead of the first large load, and compiles this thread's
 * validators for the small ones it loads itself (a server, as it starts); resolves once done.
 */
export async function warmLoader(): Promise<void> {
  await Promise.all([shared().warm(), warmValidatorsGradually()]);
}

function shared(): LoaderPool {
  return (sharedPool ??= new LoaderPool(availableParallelism()));
}

function loadHere(refs: ManifestFileRef[], options: LoadOptions): FileResult[] {
  return refs.map((ref) => loadFile(readOrFail(ref), options));
}

function readOrFail(ref: ManifestFileRef): SourceFile {
  try {
    return readSourceFile(ref);
  } catch (e) {
    throw new BerthError('Usage', `cannot read ${ref.display}: ${(e as Error).message}`, { cause: e });
  }
}
export { normalizeObject, type NormalizeOptions, type Normalized, type NormalizedObject } from './normalize.js';
export { renderPath, type Finding } from './diagnostics.js';
export { isManifestFileName, ignoreScope, isIgnored, type IgnoreScope } from './tree.js';
