/** A SQLite store file in a fresh temp directory: what most integration tests run on. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type RevisionedStore } from '../../src/store/index.js';

export interface TempStore {
  dir: string;
  store: RevisionedStore;
}

export async function openTempStore(tempPrefix: string): Promise<TempStore> {
  const dir = mkdtempSync(path.join(tmpdir(), tempPrefix));
  return { dir, store: await openStore(`sqlite:${path.join(dir, 'state.db')}`) };
}

/** Closes the store, then removes its directory (and whatever else the test left in it). */
export async function closeTempStore(t: TempStore): Promise<void> {
  await t.store.close();
  rmSync(t.dir, { recursive: true, force: true });
}
