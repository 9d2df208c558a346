/** The store drivers every contract test runs against: memory, a SQLite file, a real etcd. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type RevisionedStore, type StoreOptions } from '../../src/store/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';

export interface Driver {
  name: string;
  open(options?: StoreOptions): Promise<RevisionedStore>;
  teardown(): Promise<void>;
}

let counter = 0;

export function memoryDriver(): Driver {
  return { name: 'memory', open: (o) => openStore('memory:', o), teardown: async () => {} };
}

export function sqliteDriver(): Driver {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-sqlite-'));
  return {
    name: 'sqlite',
    open: (o) => openStore(`sqlite:${path.join(dir, `store-${++counter}.db`)}`, o),
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** One etcd for the whole file; each store gets its own key prefix. */
export function etcdDriver(): Driver {
  let cluster: Promise<EtcdCluster> | undefined;
  return {
    name: 'etcd',
    open: async (o) => openStore((await (cluster ??= startEtcd(1))).url(`contract-${process.pid}-${++counter}`), o),
    teardown: async () => {
      if (cluster) await (await cluster).stop();
    },
  };
}
