/**
 * Files only Berth's own user may read: data directories 0700, stores, keys and tokens 0600
 * (a world-readable state.db is every Secret for any local user). A path found wider than that
 * is narrowed at start, and the caller is told so it can say it.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Narrows `file` to `mode` when group or others have any access; true when it did. */
export function keepPrivate(file: string, mode: number = PRIVATE_FILE_MODE): boolean {
  if (!existsSync(file)) return false;
  if ((statSync(file).mode & 0o077) === 0) return false;
  chmodSync(file, mode);
  return true;
}

/** Makes `dir` (and missing parents, 0700 too) if needed and keeps it 0700; true when it narrowed it. */
export function privateDir(dir: string): boolean {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  return keepPrivate(dir, PRIVATE_DIR_MODE);
}
