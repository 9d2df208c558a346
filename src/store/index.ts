export type * from './types.js';
export { openStore, restoreBackup } from './open.js';
export { RevisionedStore, MAX_OBJECT_BYTES, splitTxn, type StoreOptions } from './store.js';
export { keyOf, refOf, kindPrefix } from './keys.js';
export { getIfExists } from './lookup.js';
export { copyStore } from './migrate.js';
export { moveStoreAside, sqliteFileOf } from './sqlite-files.js';
