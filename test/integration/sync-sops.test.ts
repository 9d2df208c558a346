/**
 * SOPS-encrypted manifests through the sync engine (Flux's spec.decryption): a commit with an
 * encrypted Secret is decrypted with the age keys of the Secret the Application names and
 * applied; a tampered copy refuses the whole commit, naming the file and never a value; without
 * decryption, or without the key Secret, the commit is refused with the reason.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encryptSopsFile } from '../../src/sops/file.js';
import type { KubeObject } from '../../src/store/index.js';
import {
  closeSyncFixture,
  createApplication,
  getApplication,
  openSyncFixture,
  reconcileByName,
  type SyncFixture,
} from '../helpers/sync.js';

const cm = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: "${value}"\n`;
const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
stringData:
  password: hunter2
  "8080": port-keyed
`;
const DECRYPTION = { provider: 'sops' as const, secretRef: { name: 'sops-age' } };

describe('sync: SOPS-encrypted manifests', () => {
  let f: SyncFixture;
  let keyFile: string;
  let recipient: string;
  beforeEach(async () => {
    f = await openSyncFixture('berth-sync-sops-');
    keyFile = execFileSync('age-keygen', { encoding: 'utf8', stdio: 'pipe' });
    recipient = /public key: (age1\w+)/.exec(keyFile)![1]!;
  });
  afterEach(() => closeSyncFixture(f));

  const keySecret = () =>
    f.store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'sops-age', namespace: 'default' },
      data: {
        'age.agekey': Buffer.from(keyFile).toString('base64'),
        'README.txt': Buffer.from('not a key').toString('base64'),
      },
    } as KubeObject);
  const secretDb = () =>
    f.store.get<KubeObject & { data: Record<string, string> }>({
      group: '',
      kind: 'Secret',
      namespace: 'default',
      name: 'db',
    });
  const conditions = async (name: string) => (await getApplication(f.store, name)).status?.conditions ?? [];

  it('decrypts with the named Secret’s .agekey entries and applies; a tampered commit applies nothing and names the file', async () => {
    await keySecret();
    f.repo.write({
      'app/secret.yaml': await encryptSopsFile(SECRET, { recipients: [recipient] }),
      'app/settings.yaml': cm('1'),
    });
    const first = f.repo.commit('encrypted secret');
    await createApplication(f, 'shop', { decryption: DECRYPTION });
    expect(await reconcileByName(f, 'shop')).toMatchObject({ result: 'synced', revision: first, written: 2 });
    const db = await secretDb();
    expect(Buffer.from(db.data.password!, 'base64').toString()).toBe('hunter2');
    expect(Buffer.from(db.data['8080']!, 'base64').toString()).toBe('port-keyed');
    expect(db.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] ?? '').not.toContain(
      'hunter2',
    );

    // One character of metadata.name changed in the encrypted file: the MAC no longer matches.
    const encrypted = await encryptSopsFile(SECRET.replace('hunter2', 'hunter3'), { recipients: [recipient] });
    f.repo.write({ 'app/secret.yaml': encrypted.replace('name: db', 'name: dc'), 'app/settings.yaml': cm('2') });
    const bad = f.repo.commit('tampered');
    expect(await reconcileByName(f, 'shop')).toMatchObject({ result: 'invalid', revision: bad, written: 0 });
    const error = (await conditions('shop')).find((c) => c.type === 'ComparisonError')!;
    expect(error.message).toMatch(
      /app\/secret\.yaml:1:1: error: cannot decrypt this SOPS file: its MAC does not match its contents/,
    );
    expect(Buffer.from((await secretDb()).data.password!, 'base64').toString()).toBe('hunter2');
    const settings = await f.store.get<KubeObject & { data: { value: string } }>({
      group: '',
      kind: 'ConfigMap',
      namespace: 'default',
      name: 'settings',
    });
    expect(settings.data.value).toBe('1');
    expect(JSON.stringify((await getApplication(f.store, 'shop')).status)).not.toMatch(/hunter[23]/);

    // The untampered file: applied.
    f.repo.write({ 'app/secret.yaml': encrypted });
    f.repo.commit('fixed');
    expect(await reconcileByName(f, 'shop')).toMatchObject({ result: 'synced' });
    expect(Buffer.from((await secretDb()).data.password!, 'base64').toString()).toBe('hunter3');
  });

  it('without spec.decryption the encrypted file is refused; without the key Secret the source says which', async () => {
    f.repo.write({ 'app/secret.yaml': await encryptSopsFile(SECRET, { recipients: [recipient] }) });
    f.repo.commit('encrypted');
    await createApplication(f, 'plain');
    expect(await reconcileByName(f, 'plain')).toMatchObject({ result: 'invalid', written: 0 });
    expect((await conditions('plain')).find((c) => c.type === 'ComparisonError')!.message).toMatch(
      /app\/secret\.yaml:\d+:\d+: error: sops: this document is SOPS-encrypted: set spec\.decryption/,
    );

    await createApplication(f, 'keyless', { decryption: DECRYPTION });
    await reconcileByName(f, 'keyless');
    expect((await conditions('keyless')).find((c) => c.type === 'SourceError')).toMatchObject({
      status: 'True',
      reason: 'DecryptionFailed',
      message: expect.stringMatching(/^Secret default\/sops-age \(spec\.decryption\.secretRef\) not found/),
    });
    // The key arrives: the next sync decrypts (a changed store is a reason to sync again).
    await keySecret();
    expect(await reconcileByName(f, 'keyless')).toMatchObject({ result: 'synced', written: 1 });
  });
});
