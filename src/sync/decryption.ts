/**
 * An Application's `spec.decryption` (Flux's Kustomization field): the age identities of the
 * Secret it names — every entry whose key ends in `.agekey` — decrypt the SOPS files of its
 * commits before they are loaded. The Secret is read at each sync, so a rotated key applies at once.
 */
import { createHash } from 'node:crypto';
import { getIfExists } from '../store/lookup.js';
import type { Store } from '../store/index.js';
import type { Decryptor } from '../source/index.js';
import { ageIdentitiesOf, sopsDecryptor } from '../sops/file.js';
import type { ApplicationObject } from './types.js';

export type DecryptorResult = { ok: true; decryptor?: Decryptor } | { ok: false; reason: string; message: string };

export async function decryptorFor(store: Store, app: ApplicationObject): Promise<DecryptorResult> {
  const spec = app.spec.decryption;
  if (!spec) return { ok: true };
  const namespace = app.metadata.namespace ?? 'default';
  const name = spec.secretRef?.name;
  if (!name)
    return {
      ok: false,
      reason: 'DecryptionFailed',
      message: 'spec.decryption.secretRef.name names no Secret with age keys',
    };
  const secret = (await getIfExists(store, { group: '', kind: 'Secret', namespace, name })) as
    { data?: Record<string, string>; stringData?: Record<string, string> } | undefined;
  if (!secret)
    return {
      ok: false,
      reason: 'DecryptionFailed',
      message: `Secret ${namespace}/${name} (spec.decryption.secretRef) not found: create it with the age keys, as kubectl create secret generic ${name} --from-file=age.agekey=KEYFILE`,
    };
  const entries = [
    ...Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')] as const),
    ...Object.entries(secret.stringData ?? {}),
  ].filter(([k]) => k.endsWith('.agekey'));
  const identities = entries.flatMap(([, v]) => ageIdentitiesOf(v));
  if (!identities.length)
    return {
      ok: false,
      reason: 'DecryptionFailed',
      message: `Secret ${namespace}/${name} (spec.decryption.secretRef) has no age identity: put them in entries whose key ends in .agekey`,
    };
  const id = createHash('sha256').update(identities.join('\n')).digest('hex').slice(0, 16);
  return {
    ok: true,
    decryptor: {
      id,
      decrypt: sopsDecryptor(identities),
    },
  };
}
