/**
 * Secrets: the store's Secret writes and reads per second with encryption at rest (aesgcm) and
 * without, on SQLite, alternating rounds (best of each), and the ratio; SOPS documents decrypted
 * per second — each with its own data key (an age key agreement each), and again with the data
 * keys known (the sync's case for an unchanged file's new blob is the first; a re-sync hits the
 * parse cache before either).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, parseEncryptionConfig, ValueTransformer, type KubeObject } from '../../src/store/index.js';
import { ageIdentitiesOf, decryptSopsFile, encryptSopsFile } from '../../src/sops/file.js';

const SECRETS = 2000;
const TXN = 100;
const ROUNDS = 3;
const SOPS_FILES = 100;

const secret = (i: number, v = 0): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `s${i}`, namespace: 'bench', labels: { app: 'bench' } },
    type: 'Opaque',
    data: {
      password: randomBytes(24).toString('base64'),
      config: Buffer.from(`v${v}${'x'.repeat(300)}`).toString('base64'),
    },
  }) as KubeObject;

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);
const progress = (msg: string) => process.stderr.write(`secrets: ${msg}\n`);

async function storeRound(encrypted: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-secrets-'));
  const encryption = encrypted
    ? new ValueTransformer(
        parseEncryptionConfig(
          `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aesgcm: {keys: [{name: k1, secret: ${randomBytes(32).toString('base64')}}]}\n`,
          'bench',
        ),
      )
    : undefined;
  const store = await openStore(`sqlite:${path.join(dir, 'state.db')}`, encryption ? { encryption } : {});
  try {
    let t = performance.now();
    for (let i = 0; i < SECRETS; i++) await store.create(secret(i));
    const creates = perSecond(SECRETS, performance.now() - t);
    t = performance.now();
    for (let i = 0; i < SECRETS; i += TXN)
      await store.txn(
        Array.from({ length: TXN }, (_, j) => ({ op: 'create' as const, object: secret(SECRETS + i + j) })),
      );
    const txnWrites = perSecond(SECRETS, performance.now() - t);
    const ref = (i: number) => ({ group: '', kind: 'Secret', namespace: 'bench', name: `s${i}` });
    t = performance.now();
    for (let i = 0; i < SECRETS; i++) await store.get(ref(i));
    const gets = perSecond(SECRETS, performance.now() - t);
    t = performance.now();
    const listed = (await store.list({ group: '', kind: 'Secret', namespace: 'bench' })).items.length;
    const listRead = perSecond(listed, performance.now() - t);
    return { creates, txnWrites, gets, listRead };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const best = {
    off: { creates: 0, txnWrites: 0, gets: 0, listRead: 0 },
    on: { creates: 0, txnWrites: 0, gets: 0, listRead: 0 },
  };
  for (let round = 0; round < ROUNDS; round++)
    for (const mode of ['off', 'on'] as const) {
      const r = await storeRound(mode === 'on');
      progress(`round ${round + 1} encryption ${mode}: ${JSON.stringify(r)}`);
      for (const k of Object.keys(r) as (keyof typeof r)[]) best[mode][k] = Math.max(best[mode][k], r[k]);
    }
  const ratio = (k: keyof typeof best.on) => Number((best.on[k] / best.off[k]).toFixed(2));

  const keyFile = execFileSync('age-keygen', { encoding: 'utf8', stdio: 'pipe' });
  const identity = ageIdentitiesOf(keyFile)[0]!;
  const recipient = /public key: (age1\w+)/.exec(keyFile)![1]!;
  const files: string[] = [];
  for (let i = 0; i < SOPS_FILES; i++)
    files.push(
      await encryptSopsFile(
        `apiVersion: v1\nkind: Secret\nmetadata: {name: s${i}}\nstringData:\n  password: p${i}\n  url: postgres://app:p${i}@db:5432/app\n  token: ${randomBytes(32).toString('hex')}\n`,
        { recipients: [recipient] },
      ),
    );
  let t = performance.now();
  for (const f of files) await decryptSopsFile(f, [identity]);
  const cold = perSecond(SOPS_FILES, performance.now() - t);
  t = performance.now();
  for (let pass = 0; pass < 10; pass++) for (const f of files) await decryptSopsFile(f, [identity]);
  const warm = perSecond(SOPS_FILES * 10, performance.now() - t);
  progress(`sops: ${cold} documents/s with a new data key each, ${warm}/s with the data keys known`);

  return {
    secrets: SECRETS,
    store: 'sqlite (sync=full)',
    creates_per_s_plain: best.off.creates,
    creates_per_s_encrypted: best.on.creates,
    ratio_creates: ratio('creates'),
    txn_writes_per_s_plain: best.off.txnWrites,
    txn_writes_per_s_encrypted: best.on.txnWrites,
    ratio_txn_writes: ratio('txnWrites'),
    gets_per_s_plain: best.off.gets,
    gets_per_s_encrypted: best.on.gets,
    ratio_gets: ratio('gets'),
    list_objects_per_s_plain: best.off.listRead,
    list_objects_per_s_encrypted: best.on.listRead,
    ratio_list: ratio('listRead'),
    sops_documents_per_s_new_data_key: cold,
    sops_documents_per_s_known_data_key: warm,
  };
}
