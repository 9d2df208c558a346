/**
 * Opens a store from its URL: `sqlite:PATH` (the embedded default), `etcd://host:port[,…][/prefix]`
 * or `memory:`. Drivers are imported on demand, so a SQLite server never loads the etcd client.
 */
import { BerthError } from '../api/errors.js';
import { sqliteFileOf } from './sqlite-files.js';
import type { Backend } from './backend.js';
import { EncryptingBackend } from './encrypting.js';
import { ENCRYPTED_PREFIX, type ValueTransformer } from './encryption.js';
import { RevisionedStore, type StoreOptions } from './store.js';

export interface OpenOptions extends StoreOptions {
  /** Encryption at rest (see encryption.ts): the stored values it names are read once here, so a missing key fails now. */
  encryption?: ValueTransformer;
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<RevisionedStore> {
  const backend = await openBackend(url);
  if (!options.encryption) {
    await refuseEncrypted(backend);
    return started(new RevisionedStore(backend, options));
  }
  const encrypting = new EncryptingBackend(backend, options.encryption);
  try {
    await encrypting.verify();
  } catch (e) {
    await backend.close();
    throw new BerthError(
      'Usage',
      `${(e as Error).message}: start with the encryption configuration that wrote it (--encryption-config)`,
    );
  }
  return started(new RevisionedStore(encrypting, options));
}

async function started(store: RevisionedStore): Promise<RevisionedStore> {
  try {
    await store.startWatching();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** A store written with encryption at rest, opened without it: said at once, not by the first read that fails. */
async function refuseEncrypted(backend: Backend): Promise<void> {
  const { kvs } = await backend.range('core/Secret/', { limit: 1 });
  if (kvs[0]?.value.startsWith(ENCRYPTED_PREFIX)) {
    await backend.close();
    throw new BerthError(
      'Usage',
      `the store's Secrets are encrypted at rest (${kvs[0].key} is): start with the encryption configuration that wrote them (--encryption-config FILE)`,
    );
  }
}

async function openBackend(url: string): Promise<Backend> {
  if (url === 'memory:' || url === 'memory') {
    const { MemoryBackend } = await import('./memory.js');
    return new MemoryBackend();
  }
  if (url.startsWith('sqlite:')) {
    const file = sqliteFileOf(url);
    const query = url.split('?')[1] ?? '';
    if (!file) throw new BerthError('Usage', 'sqlite: needs a file path, as sqlite:/var/lib/berth/state.db');
    const sync = new URLSearchParams(query).get('sync');
    if (sync && sync !== 'full' && sync !== 'normal')
      throw new BerthError('Usage', `sqlite sync must be full or normal, not ${JSON.stringify(sync)}`);
    const { SqliteBackend } = await import('./sqlite.js');
    return new SqliteBackend(file, { synchronous: sync === 'normal' ? 'NORMAL' : 'FULL' });
  }
  if (url.startsWith('etcd://')) {
    const { EtcdBackend, parseEtcdUrl } = await import('./etcd.js');
    return new EtcdBackend(parseEtcdUrl(url));
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
