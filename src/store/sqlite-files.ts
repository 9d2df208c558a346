/** A SQLite store's files, for those who handle them without opening the database (no better-sqlite3 here). */
import { existsSync, renameSync } from 'node:fs';

/** The file of a `sqlite:PATH[?options]` store URL. */
export const sqliteFileOf = (url: string): string =>
  url
    .slice('sqlite:'.length)
    .replace(/^\/\/(?=\/)/, '')
    .split('?')[0]!;

/** Renames the store (with its -wal and -shm files) to `FILE.LABEL-TIME`, kept; returns that name. */
export function moveStoreAside(file: string, label: string): string {
  const aside = `${file}.${label}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
  return aside;
}
