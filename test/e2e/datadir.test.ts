/**
 * The server's data directory (security issue, items 12 and 15): private modes, narrowed at start
 * when found wider; a truncated or damaged state.db refused at start with what to do, and
 * `--reset` to start an empty cluster on purpose. One server per SQLite store; its backups
 * (scheduled, downloaded, restored) and its move to etcd (`berth store migrate`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  chmodSync,
  truncateSync,
  writeSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH, buildOnce } from '../helpers/berth.js';
import { startEtcd } from '../helpers/etcd.js';
import { TestRepo } from '../helpers/git.js';
import { api } from '../helpers/server.js';

interface Run {
  child: ChildProcess;
  url?: string;
  code?: number | null;
  err: string;
}

/** Starts `berth server` on DIR; resolves once it listens or has exited. */
async function serve(dir: string, ...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BERTH, 'server', '--data', dir, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const run: Run = { child, err: '' };
  child.stderr!.on('data', (d) => (run.err += d));
  const exited = new Promise<void>((r) => child.once('exit', (code) => ((run.code = code), r())));
  const deadline = Date.now() + 30_000;
  while (!/listening on (https:\/\/\S+)/.test(run.err) && run.code === undefined && Date.now() < deadline)
    await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
  run.url = /listening on (https:\/\/\S+)/.exec(run.err)?.[1];
  return run;
}

/** `berth ARGS…` with the data directory's kubeconfig. */
function cli(dir: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BERTH, ...args], {
      env: { ...process.env, BERTH_DATA: dir, KUBECONFIG: '', BERTH_SERVER: '', BERTH_TOKEN: '' },
    });
    let out = '';
    let err = '';
    // A command that hangs is killed (and its test fails on the code), never left behind.
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function stop(run: Run): Promise<void> {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill('SIGTERM');
  await new Promise((r) => run.child.once('exit', r));
}

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe('the data directory', () => {
  const dirs: string[] = [];
  const runs: Run[] = [];
  const fresh = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'berth-datadir-'));
    dirs.push(d);
    return path.join(d, 'data');
  };
  const start = async (dir: string, ...args: string[]) => {
    const r = await serve(dir, ...args);
    runs.push(r);
    return r;
  };
  beforeAll(() => buildOnce(), 120_000);
  afterAll(async () => {
    for (const r of runs) await stop(r);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is private from the start, and narrowed again when found wider', async () => {
    const dir = fresh();
    const first = await start(dir);
    expect(first.url).toBeDefined();
    await stop(first);
    expect({
      dir: mode(dir),
      db: mode(`${dir}/state.db`),
      token: mode(`${dir}/admin.token`),
      caKey: mode(`${dir}/pki/ca.key`),
      pki: mode(`${dir}/pki`),
    }).toEqual({ dir: '700', db: '600', token: '600', caKey: '600', pki: '700' });
    chmodSync(dir, 0o755);
    chmodSync(`${dir}/state.db`, 0o644);
    chmodSync(`${dir}/admin.token`, 0o644);
    const second = await start(dir);
    expect(second.url).toBeDefined();
    expect({ dir: mode(dir), db: mode(`${dir}/state.db`), token: mode(`${dir}/admin.token`) }).toEqual({
      dir: '700',
      db: '600',
      token: '600',
    });
    expect(second.err).toContain('narrowed to the owner only');
    await stop(second);
  });

  it('a second server on the same SQLite store is refused, naming the first; after it, the store is free', async () => {
    const dir = fresh();
    const first = await start(dir);
    expect(first.url).toBeDefined();
    const second = await start(dir);
    expect(second.url).toBeUndefined();
    expect(second.code).not.toBe(0);
    expect(second.err).toContain(`another berth server (pid ${first.child.pid}) serves the store`);
    await stop(first);
    const third = await start(dir);
    expect(third.url).toBeDefined();
    await stop(third);
  });

  it('backups: scheduled ones appear and the oldest go; berth backup create downloads one; restore brings it back', async () => {
    const dir = fresh();
    const first = await start(dir, '--backup-schedule', '* * * * * *', '--backup-keep', '2');
    const ca = readFileSync(`${dir}/pki/ca.crt`, 'utf8');
    const token = readFileSync(`${dir}/admin.token`, 'utf8').trim();
    const cm = (name: string) =>
      api({ url: first.url!, ca }, 'POST', '/api/v1/namespaces/default/configmaps', {
        token,
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } },
      });
    expect((await cm('in-backup')).status).toBe(201);
    // Every second a backup; only the newest two kept.
    const backups = () => readdirSync(`${dir}/backups`).filter((f) => f.startsWith('berth-backup-'));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(backups().length === 2 && /-r\d+\.db$/.test(backups()[0]!)))
      await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 2500));
    expect(backups()).toHaveLength(2);
    // Downloaded through the API (admin only).
    const file = path.join(dir, '..', 'downloaded.db');
    const created = await cli(dir, 'backup', 'create', file);
    expect(created, created.err).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^backup of revision \d+ written to /),
    });
    expect(mode(file)).toBe('600');
    expect((await cm('after-backup')).status).toBe(201);
    // Refused while the server runs; restored once it is stopped.
    const refused = await cli(dir, 'backup', 'restore', file, '--data', dir);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('another berth server');
    await stop(first);
    const restored = await cli(dir, 'backup', 'restore', file, '--data', dir);
    expect(restored, restored.err).toMatchObject({
      code: 0,
      out: expect.stringContaining('the store it replaced is kept as'),
    });
    const again = await start(dir);
    const names = (
      await api({ url: again.url!, ca }, 'GET', '/api/v1/namespaces/default/configmaps', { token })
    ).body.items.map((o: { metadata: { name: string } }) => o.metadata.name);
    expect(names).toContain('in-backup');
    expect(names).not.toContain('after-backup');
    await stop(again);
  });

  it('store migrate moves a stopped SQLite cluster to etcd; its Application keeps syncing there', async () => {
    const dir = fresh();
    const repo = new TestRepo();
    // How long each step took, printed at the end (a slow CI run says where its time went).
    const phases: string[] = [];
    let mark = Date.now();
    const phase = (name: string) => {
      phases.push(`${name} ${Date.now() - mark} ms`);
      mark = Date.now();
    };
    const etcd = await startEtcd(1);
    phase('etcd');
    try {
      const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: synced}\ndata: {value: "${v}"}\n`;
      repo.write({ 'app/cm.yaml': cm('1') });
      repo.commit('first');
      const first = await start(dir);
      const ca = readFileSync(`${dir}/pki/ca.crt`, 'utf8');
      const token = readFileSync(`${dir}/admin.token`, 'utf8').trim();
      const value = async (url: string) =>
        (await api({ url, ca }, 'GET', '/api/v1/namespaces/default/configmaps/synced', { token })).body?.data?.value;
      expect(
        (
          await api({ url: first.url!, ca }, 'POST', '/apis/berth.dev/v1/namespaces/default/applications', {
            token,
            body: {
              apiVersion: 'berth.dev/v1',
              kind: 'Application',
              metadata: { name: 'moved' },
              spec: {
                source: { repoURL: repo.bare, targetRevision: 'main', path: 'app' },
                syncPolicy: { automated: { prune: true } },
                pollInterval: '1s',
              },
            },
          })
        ).status,
      ).toBe(201);
      const waitFor = async (url: string, want: string) => {
        const deadline = Date.now() + 30_000;
        while ((await value(url)) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        expect(await value(url)).toBe(want);
      };
      await waitFor(first.url!, '1');
      phase('first sync on SQLite');
      await stop(first);
      const url = etcd.url('moved');
      const migrated = await cli(dir, 'store', 'migrate', '--from', `sqlite:${dir}/state.db`, '--to', url);
      expect(migrated, migrated.err).toMatchObject({
        code: 0,
        out: expect.stringMatching(/^copied \d+ objects of \d+ kinds.*--encryption-config .*encryption-config\.yaml/),
      });
      // Into a store that has objects now: refused.
      expect((await cli(dir, 'store', 'migrate', '--from', `sqlite:${dir}/state.db`, '--to', url)).err).toContain(
        'already holds objects',
      );
      phase('migrate');
      // Without the data directory's encryption key, the copied Secrets cannot be read: refused.
      const keyless = await cli(dir, 'server', '--data', dir, '--store', url, '--listen', '127.0.0.1:0');
      expect(keyless.code).toBe(2);
      expect(keyless.err).toMatch(/Secrets are encrypted at rest .*--encryption-config FILE/);
      const onEtcd = await start(dir, '--store', url, '--encryption-config', `${dir}/encryption-config.yaml`);
      phase('start on etcd');
      expect(await value(onEtcd.url!)).toBe('1');
      repo.write({ 'app/cm.yaml': cm('2') });
      repo.commit('second');
      await waitFor(onEtcd.url!, '2');
      phase('second sync on etcd');
      await stop(onEtcd);
    } finally {
      console.log(`store migrate, phases: ${phases.join(', ')}`);
      await etcd.stop();
      repo.remove();
    }
    // Two servers, an etcd and two syncs: ~7 s here, more on a loaded CI machine.
  }, 120_000);

  it('a zero-byte state.db is refused in an initialised directory; --reset starts empty on purpose', async () => {
    const dir = fresh();
    const first = await start(dir);
    const ca = readFileSync(`${dir}/pki/ca.crt`, 'utf8');
    const token = readFileSync(`${dir}/admin.token`, 'utf8').trim();
    await api({ url: first.url!, ca }, 'POST', '/api/v1/namespaces/default/configmaps', {
      token,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept' } },
    });
    await stop(first);
    truncateSync(`${dir}/state.db`, 0);
    for (const f of ['state.db-wal', 'state.db-shm']) rmSync(`${dir}/${f}`, { force: true });

    const refused = await start(dir);
    expect(refused.url).toBeUndefined();
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/the store is empty, but the data directory .* belongs to a cluster that had one/);
    expect(refused.err).toContain('--reset');

    const reset = await start(dir, '--reset');
    expect(reset.url, reset.err).toBeDefined();
    const list = await api({ url: reset.url!, ca }, 'GET', '/api/v1/namespaces/default/configmaps', { token });
    expect(list.body.items).toEqual([]);
    await stop(reset);
  });

  it('a damaged state.db is refused with what to do; --reset moves it aside and starts empty', async () => {
    const dir = fresh();
    const first = await start(dir);
    const ca = readFileSync(`${dir}/pki/ca.crt`, 'utf8');
    const token = readFileSync(`${dir}/admin.token`, 'utf8').trim();
    for (let i = 0; i < 50; i++)
      await api({ url: first.url!, ca }, 'POST', '/api/v1/namespaces/default/configmaps', {
        token,
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${i}` }, data: { v: 'x'.repeat(2000) } },
      });
    await stop(first);
    // Pages after the first overwritten with noise: the header still reads as SQLite.
    const fd = openSync(`${dir}/state.db`, 'r+');
    const noise = Buffer.alloc(64 * 1024, 0xa5);
    writeSync(fd, noise, 0, noise.length, 4096);
    closeSync(fd);

    const refused = await start(dir);
    expect(refused.url).toBeUndefined();
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/the store .*state\.db is damaged/);
    expect(refused.err).toContain('restore it from a backup');

    const reset = await start(dir, '--reset');
    expect(reset.url, reset.err).toBeDefined();
    expect(readdirSync(dir).filter((f) => f.startsWith('state.db.damaged-')).length).toBeGreaterThan(0);
    const list = await api({ url: reset.url!, ca }, 'GET', '/api/v1/namespaces/default/configmaps', { token });
    expect({ status: list.status, items: list.body.items }).toEqual({ status: 200, items: [] });
    await stop(reset);
  });
});
