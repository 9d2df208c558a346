export type * from './types.js';
export { openStore, restoreBackup, type OpenOptions } from './open.js';
export { ValueTransformer, parseEncryptionConfig, newEncryptionConfigText, ENCRYPTED_PREFIX } from './encryption.js';
export { RevisionedStore, MAX_OBJECT_BYTES, splitTxn, type StoreOptions } from './store.js';
export { keyOf, refOf, kindPrefix } from './keys.js';
export { getIfExists } from './lookup.js';
export { copyStore } from './migrate.js';
export { moveStoreAside, sqliteFileOf } from './sqlite-files.js';
