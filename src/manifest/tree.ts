/**
 * Reads manifest files from disk (the shell around the pure loader): walks directories in a
 * stable order, skips hidden files and folders, honours `.berthignore` files (gitignore syntax,
 * each applying below its own folder) and refuses oversized files before reading them.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { BerthError } from '../api/errors.js';
import { MAX_FILE_BYTES, type SourceFile } from './load.js';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface ManifestFileRef {
  /** The path shown to the user. */
  display: string;
  absolute: string;
  size: number;
}

interface IgnoreScope {
  dir: string;
  rules: Ignore;
}

/** Lists the manifest files under the given paths (files are taken as given). */
export async function listManifestFiles(paths: readonly string[]): Promise<ManifestFileRef[]> {
  const out: ManifestFileRef[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      throw new BerthError('Usage', `cannot read ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, { cause: e });
    }
    if (st.isDirectory()) await walk(p, p, [], out);
    else out.push({ display: p, absolute: path.resolve(p), size: st.size });
  }
  return out;
}

async function walk(root: string, dir: string, scopes: IgnoreScope[], out: ManifestFileRef[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const ignoreFile = entries.find((e) => e.isFile() && e.name === '.berthignore');
  if (ignoreFile) {
    const rules = ignore().add(await readFile(path.join(dir, ignoreFile.name), 'utf8'));
    scopes = [...scopes, { dir, rules }];
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    const isDir = e.isDirectory();
    if (scopes.some((s) => s.rules.ignores(path.relative(s.dir, full).split(path.sep).join('/') + (isDir ? '/' : '')))) continue;
    if (isDir) await walk(root, full, scopes, out);
    else if (e.isFile() && MANIFEST_EXTENSIONS.some((x) => e.name.endsWith(x))) {
      const st = await stat(full);
      out.push({ display: full, absolute: path.resolve(full), size: st.size });
    }
  }
}

/** Reads one file; an oversized one is not read at all (its size alone is reported). */
export async function readSourceFile(ref: ManifestFileRef): Promise<SourceFile> {
  if (ref.size > MAX_FILE_BYTES) return { path: ref.display, bytes: new Uint8Array(0), size: ref.size };
  return { path: ref.display, bytes: await readFile(ref.absolute) };
}
