/**
 * Reads manifest files from disk (the shell around the pure loader): walks directories in a
 * stable order, skips hidden files and folders, honours `.berthignore` files (gitignore syntax,
 * each applying below its own folder) and refuses oversized files before reading them.
 *
 * Synchronous on purpose: manifests are small and many, and a blocking read or readdir costs a
 * few microseconds where a promise round-trip through libuv's thread pool costs a hundred.
 */
import {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  type Dirent,
} from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { BerthError } from '../api/errors.js';
import { MAX_FILE_BYTES, type SourceFile } from './load.js';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** A manifest file by its name: *.yaml, *.yml, *.json, not hidden. */
export function isManifestFileName(name: string): boolean {
  return !name.startsWith('.') && MANIFEST_EXTENSIONS.some((x) => name.endsWith(x));
}

/** The .berthignore rules of one folder, applying below it. */
export interface IgnoreScope {
  dir: string;
  rules: Ignore;
}

export function ignoreScope(dir: string, berthignore: string): IgnoreScope {
  return { dir, rules: ignore().add(berthignore) };
}

/** True when any enclosing folder's .berthignore excludes the entry (POSIX or native paths). */
export function isIgnored(scopes: readonly IgnoreScope[], entry: string, isDir: boolean): boolean {
  return scopes.some((s) => {
    const rel = path.relative(s.dir, entry).split(path.sep).join('/');
    return rel !== '' && !rel.startsWith('..') && s.rules.ignores(rel + (isDir ? '/' : ''));
  });
}

export interface ManifestFileRef {
  /** The path shown to the user. */
  display: string;
  absolute: string;
}

export interface ManifestTree {
  files: ManifestFileRef[];
  /** Symlinks that resolve outside the folder they were found under: not read (see symlinkOutsideTree). */
  outside: { display: string; target: string }[];
}

/** Lists the manifest files under the given paths (files are taken as given). */
export function listManifestFiles(paths: readonly string[]): ManifestTree {
  const out: ManifestFileRef[] = [];
  const outside: ManifestTree['outside'] = [];
  for (const p of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(p).isDirectory();
    } catch (e) {
      throw new BerthError(
        'Usage',
        `cannot read ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`,
        { cause: e },
      );
    }
    if (isDirectory) {
      const root = realpathSync(p);
      walk(p, [], new Set([root]), { root, files: out, outside });
    } else out.push({ display: p, absolute: path.resolve(p) });
  }
  return { files: out, outside };
}

interface Walk {
  /** The real path of the folder the walk started in. */
  root: string;
  files: ManifestFileRef[];
  outside: ManifestTree['outside'];
}

const isInside = (root: string, real: string): boolean =>
  real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

function walk(dir: string, scopes: IgnoreScope[], visited: Set<string>, w: Walk): void {
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.name === '.berthignore' && e.isFile())) {
    scopes = [...scopes, ignoreScope(dir, readFileSync(path.join(dir, '.berthignore'), 'utf8'))];
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    const type = entryType(e, full);
    if (type === 'other') continue;
    const isDir = type === 'dir';
    if (isIgnored(scopes, full, isDir)) continue;
    if (!isDir && !isManifestFileName(e.name)) continue;
    const real = e.isSymbolicLink() ? realpathSync(full) : undefined;
    if (real !== undefined && !isInside(w.root, real)) {
      w.outside.push({ display: full, target: real });
      continue;
    }
    if (isDir) {
      // A symlinked folder may point back up the tree: visit each real folder once.
      const realDir = real ?? realpathSync(full);
      if (visited.has(realDir)) continue;
      visited.add(realDir);
      walk(full, scopes, visited, w);
    } else {
      w.files.push({ display: full, absolute: path.resolve(full) });
    }
  }
}

function entryType(e: Dirent, full: string): 'dir' | 'file' | 'other' {
  if (e.isDirectory()) return 'dir';
  if (e.isFile()) return 'file';
  if (!e.isSymbolicLink()) return 'other';
  try {
    const st = statSync(full);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'other'; // a dangling link
  }
}

/** Reads one file; an oversized one is not read at all (its size alone is reported). */
export function readSourceFile(ref: ManifestFileRef): SourceFile {
  const fd = openSync(ref.absolute, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES) return { path: ref.display, bytes: new Uint8Array(0), size };
    return { path: ref.display, bytes: readFileSync(fd) };
  } finally {
    closeSync(fd);
  }
}
