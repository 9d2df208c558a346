/**
 * Encryption at rest on the real stores: a SQLite file and an etcd key read directly hold only
 * ciphertext; watchers and readers see plaintext; a missing or wrong key stops the store from
 * opening; rotation through the API (`berth secrets reencrypt`) moves every Secret to the new key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/api/cidr.js';
import { reencryptCommand } from '../../src/cli/secrets.js';
import { BerthClient } from '../../src/client/index.js';
import { startServer } from '../../src/server/index.js';
import { openStore, parseEncryptionConfig, ValueTransformer, type KubeObject } from '../../src/store/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { testServiceCidr } from '../helpers/ports.js';

const PASSWORD = 'correct-horse-battery-staple';
const ENCODED = Buffer.from(PASSWORD).toString('base64');
const secret = (name: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    data: { password: ENCODED },
  }) as KubeObject;
const SECRET = { group: '', kind: 'Secret', namespace: 'default' };

const newKey = () => randomBytes(32).toString('base64');
const encryption = (...keys: [string, string][]) =>
  new ValueTransformer(
    parseEncryptionConfig(
      `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys:
${keys.map(([name, secret]) => `            - {name: ${name}, secret: ${secret}}`).join('\n')}
`,
      'test',
    ),
  );

/** Every byte SQLite has written for the store: the database, its WAL and journal. */
function sqliteBytes(dir: string): string {
  return readdirSync(dir)
    .filter((f) => f.startsWith('state.db'))
    .map((f) => readFileSync(path.join(dir, f)).toString('latin1'))
    .join('');
}

describe('encryption at rest: SQLite', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-enc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const url = () => `sqlite:${path.join(dir, 'state.db')}`;

  it('the file holds only ciphertext; reads, lists and watches see plaintext; a wrong key does not open it', async () => {
    const k1 = newKey();
    const store = await openStore(url(), { encryption: encryption(['k1', k1]) });
    const events: string[] = [];
    const watching = new AbortController();
    const fromRevision = await store.revision();
    const watch = (async () => {
      for await (const e of store.watch({ ...SECRET, fromRevision, signal: watching.signal }))
        events.push(`${e.type} ${(e.object as { data?: { password?: string } }).data?.password}`);
    })().catch(() => undefined);
    try {
      await store.create(secret('db'));
      const updated = await store.get(SECRET_REF('db'));
      await store.update({
        ...updated,
        data: { password: ENCODED, user: Buffer.from('admin').toString('base64') },
      } as KubeObject);
      await store.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'plain', namespace: 'default' },
        data: { shown: 'in-the-clear' },
      } as KubeObject);
      expect((await store.get<KubeObject & { data: Record<string, string> }>(SECRET_REF('db'))).data.password).toBe(
        ENCODED,
      );
      expect((await store.list(SECRET)).items).toHaveLength(1);
      await waitFor(() => events.length >= 2);
      expect(events).toEqual([`ADDED ${ENCODED}`, `MODIFIED ${ENCODED}`]);
    } finally {
      watching.abort();
      await watch;
      await store.close();
    }
    // Read the file directly: rows and the change log are ciphertext; other kinds stay readable.
    const db = new Database(path.join(dir, 'state.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT value FROM kv WHERE key = ?').get('core/Secret/default/db') as { value: string };
      expect(row.value).toMatch(/^k8s:enc:aesgcm:v1:k1:[A-Za-z0-9+/=]+$/);
      const log = db.prepare("SELECT value, prev_value FROM log WHERE key = 'core/Secret/default/db'").all() as {
        value: string | null;
        prev_value: string | null;
      }[];
      expect(log.length).toBeGreaterThanOrEqual(2);
      for (const l of log)
        for (const v of [l.value, l.prev_value]) if (v) expect(v.startsWith('k8s:enc:aesgcm:v1:k1:')).toBe(true);
      const cm = db.prepare('SELECT value FROM kv WHERE key = ?').get('core/ConfigMap/default/plain') as {
        value: string;
      };
      expect(cm.value).toContain('in-the-clear');
    } finally {
      db.close();
    }
    for (const plaintext of [PASSWORD, ENCODED, 'password']) expect(sqliteBytes(dir)).not.toContain(plaintext);

    // Without the key, or with another one, the store does not open: a start-up error, never plaintext.
    await expect(openStore(url(), { encryption: encryption(['k2', newKey()]) })).rejects.toThrow(
      /cannot read core\/Secret\/default\/db from the store: it is encrypted with aesgcm key "k1", which the encryption configuration does not have/,
    );
    await expect(openStore(url(), { encryption: encryption(['k1', newKey()]) })).rejects.toThrow(
      /aesgcm key "k1" does not decrypt it/,
    );
    // A tampered row is refused, by name, when the store opens.
    const rw = new Database(path.join(dir, 'state.db'));
    const row = rw.prepare('SELECT value FROM kv WHERE key = ?').get('core/Secret/default/db') as { value: string };
    const at = row.value.length - 8;
    const tampered = row.value.slice(0, at) + (row.value[at] === 'A' ? 'B' : 'A') + row.value.slice(at + 1);
    rw.prepare('UPDATE kv SET value = ? WHERE key = ?').run(tampered, 'core/Secret/default/db');
    rw.close();
    await expect(openStore(url(), { encryption: encryption(['k1', k1]) })).rejects.toThrow(
      /does not decrypt it \(a wrong key, or the value was tampered with\)/,
    );
  });

  it('rotation: a second key added, moved first, every Secret rewritten by `berth secrets reencrypt`, the old key dropped', async () => {
    const [old, next] = [newKey(), newKey()];
    const first = await openStore(url(), { encryption: encryption(['old', old]) });
    for (let i = 0; i < 120; i++) await first.create(secret(`s${i}`));
    await first.close();
    // Steps 1 and 2 at once (one server): the new key writes, the old one still reads.
    const store = await openStore(url(), { encryption: encryption(['new', next], ['old', old]) });
    const server = await startServer(store, {
      dataDir: dir,
      listen: '127.0.0.1:0',
      tlsSans: [],
      log: pino({ level: 'silent' }),
      serviceCidr: parseCidr(testServiceCidr()),
    });
    const client = new BerthClient({
      server: server.url,
      token: server.adminToken,
      ca: readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8'),
      namespace: 'default',
    });
    const out: string[] = [];
    try {
      // Step 3: list and write back, in pages (120 Secrets, 500 a page here: one page, and the
      // server's own Secrets, such as service-account tokens, as well).
      const code = await reencryptCommand(client, [], {}, {
        stdout: (s: string) => out.push(s),
        stderr: () => undefined,
      } as never);
      expect(code).toBe(0);
      expect(out.join('')).toMatch(/^secrets: \d+ rewritten with the server's current key/);
    } finally {
      await client.close();
      await server.close();
      await store.close();
    }
    const db = new Database(path.join(dir, 'state.db'), { readonly: true });
    const keys = (
      db.prepare("SELECT key, value FROM kv WHERE key LIKE 'core/Secret/%'").all() as { key: string; value: string }[]
    ).map((r) => r.value.split(':').slice(0, 5).join(':'));
    db.close();
    expect(keys.length).toBeGreaterThanOrEqual(120);
    expect(new Set(keys)).toEqual(new Set(['k8s:enc:aesgcm:v1:new']));
    // Step 4: the old key dropped; every Secret still reads.
    const after = await openStore(url(), { encryption: encryption(['new', next]) });
    try {
      const all = (await after.list(SECRET)).items as (KubeObject & { data: Record<string, string> })[];
      expect(all.filter((s) => s.data.password === ENCODED)).toHaveLength(120);
    } finally {
      await after.close();
    }
  });
});

describe('encryption at rest: etcd', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcd(1);
  }, 60_000);
  afterAll(() => etcd?.stop());

  it('the etcd key holds only ciphertext, under the store key as authenticated data', async () => {
    const k1 = newKey();
    const store = await openStore(etcd.url('enc'), { encryption: encryption(['k1', k1]) });
    try {
      await store.create(secret('db'));
      expect((await store.get<KubeObject & { data: Record<string, string> }>(SECRET_REF('db'))).data.password).toBe(
        ENCODED,
      );
    } finally {
      await store.close();
    }
    const raw = new Etcd3({ hosts: `http://${etcd.hosts}` });
    try {
      const all = await raw.getAll().prefix('/enc/').strings();
      const key = Object.keys(all).find((k) => k.endsWith('core/Secret/default/db'))!;
      expect(key).toBeDefined();
      expect(all[key]).toMatch(/^k8s:enc:aesgcm:v1:k1:/);
      for (const v of Object.values(all)) expect(v).not.toContain(ENCODED);
      // Copied under another name, the value does not decrypt there.
      await raw.put(key.replace('/db', '/copy')).value(all[key]!);
    } finally {
      raw.close();
    }
    await expect(openStore(etcd.url('enc'), { encryption: encryption(['k1', k1]) })).rejects.toThrow(
      /cannot read core\/Secret\/default\/copy from the store: aesgcm key "k1" does not decrypt it/,
    );
  });
});

function SECRET_REF(name: string) {
  return { ...SECRET, name };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
