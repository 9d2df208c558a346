/**
 * Which encryption at rest a server (or a command opening its store) uses: `--encryption-config
 * FILE`; without it, a SQLite store's data directory keeps one, created with a new key the first
 * time, so a new cluster is encrypted out of the box. An etcd store shared by several servers
 * needs the same file on each: none is made up for it (each server would make its own key).
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BerthError } from '../api/errors.js';
import { newEncryptionConfigText, parseEncryptionConfig, ValueTransformer } from '../store/encryption.js';

export const DEFAULT_ENCRYPTION_CONFIG = 'encryption-config.yaml';

interface Log {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

/** Reads an EncryptionConfiguration file; a missing or bad one is a usage error naming it. */
export function readEncryptionConfig(file: string): ValueTransformer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BerthError(
      'Usage',
      `--encryption-config ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  return new ValueTransformer(parseEncryptionConfig(text, file));
}

/** The encryption a store is opened with, and the file it came from (to tell the user). */
export interface EncryptionAtRest {
  transformer: ValueTransformer;
  file: string;
}

export function encryptionAtRest(o: {
  /** --encryption-config: a file, or `none` for plaintext (as before Berth encrypted). */
  file: string | undefined;
  dataDir: string;
  storeUrl: string;
  log?: Log;
  /** Make the data directory's file when there is none (a server); false for commands that only read. */
  create: boolean;
}): EncryptionAtRest | undefined {
  if (o.file === 'none') {
    o.log?.warn({}, 'Secrets are stored unencrypted (--encryption-config none)');
    return undefined;
  }
  if (o.file) {
    const file = path.resolve(o.file);
    return { transformer: readEncryptionConfig(file), file };
  }
  if (!o.storeUrl.startsWith('sqlite:')) {
    o.log?.warn(
      {},
      'Secrets are stored unencrypted in etcd: give every server the same --encryption-config FILE (berth server writes one as DATA/encryption-config.yaml for SQLite)',
    );
    return undefined;
  }
  const file = path.join(o.dataDir, DEFAULT_ENCRYPTION_CONFIG);
  if (!existsSync(file)) {
    if (!o.create) return undefined;
    writeFileSync(file, newEncryptionConfigText(), { mode: 0o600, flag: 'wx' });
    o.log?.info(
      { file },
      'Secrets are encrypted at rest with a new key: back this file up apart from the store and its backups (without it they cannot be read)',
    );
  }
  // The key is as secret as the admin token: owner-only, whoever made the file.
  chmodSync(file, 0o600);
  return { transformer: readEncryptionConfig(file), file };
}
