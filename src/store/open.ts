/**
 * Opens a store from its URL: `sqlite:PATH` (the embedded default), `etcd://host:port[,…][/prefix]`
 * or `memory:`. Drivers are imported on demand, so a SQLite server never loads the etcd client.
 */
import { BerthError } from '../api/errors.js';
import { sqliteFileOf } from './sqlite-files.js';
import { RevisionedStore, type StoreOptions } from './store.js';

export async function openStore(url: string, options: StoreOptions = {}): Promise<RevisionedStore> {
  if (url === 'memory:' || url === 'memory') {
    const { MemoryBackend } = await import('./memory.js');
    return new RevisionedStore(new MemoryBackend(), options);
  }
  if (url.startsWith('sqlite:')) {
    const file = sqliteFileOf(url);
    const query = url.split('?')[1] ?? '';
    if (!file) throw new BerthError('Usage', 'sqlite: needs a file path, as sqlite:/var/lib/berth/state.db');
    const sync = new URLSearchParams(query).get('sync');
    if (sync && sync !== 'full' && sync !== 'normal')
      throw new BerthError('Usage', `sqlite sync must be full or normal, not ${JSON.stringify(sync)}`);
    const { SqliteBackend } = await import('./sqlite.js');
    return new RevisionedStore(
      new SqliteBackend(file, { synchronous: sync === 'normal' ? 'NORMAL' : 'FULL' }),
      options,
    );
  }
  if (url.startsWith('etcd://')) {
    const { EtcdBackend, parseEtcdUrl } = await import('./etcd.js');
    return new RevisionedStore(new EtcdBackend(parseEtcdUrl(url)), options);
  }
  throw new BerthError(
    'Usage',
    `unknown store URL ${JSON.stringify(url)}: use sqlite:PATH, etcd://host:port[,host:port…][/prefix] or memory:`,
  );
}

/** Puts a SQLite backup in place of the store at `storeFile` (see sqlite.ts restoreSqliteBackup). */
export async function restoreBackup(
  backupFile: string,
  storeFile: string,
): Promise<{ revision: number; keptAs?: string }> {
  const { restoreSqliteBackup } = await import('./sqlite.js');
  return restoreSqliteBackup(backupFile, storeFile);
}
