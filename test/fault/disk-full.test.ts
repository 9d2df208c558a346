/**
 * The SQLite store's disk fills up (the data dir on a small tmpfs): writes are refused with a
 * clear error and nothing half-written, reads keep working, writes work again once space is
 * freed, every acknowledged write is there and the database checks clean. Needs root (mount).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';

describe('disk full under the SQLite store', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-diskfull-'));
  let server: BerthServerProcess | undefined;
  let mounted = false;
  beforeAll(() => {
    buildOnce();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', dir]);
    mounted = true;
  }, 120_000);
  afterAll(async () => {
    await server?.stop().catch(() => {});
    if (mounted) execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses writes clearly, keeps reads and every acknowledged write, and recovers when space frees', async () => {
    const data = path.join(dir, 'data');
    server = await startBerthServer({ dir: data, args: ['--log-level', 'error'] });
    // Room to free later: a filler file on the same filesystem.
    const filler = path.join(dir, 'filler');
    writeFileSync(filler, Buffer.alloc(1024 * 1024, 1));
    const request = (method: string, p: string, body?: unknown) =>
      api(server!, method, p, { token: server!.token, ...(body !== undefined ? { body } : {}) });
    const value = 'x'.repeat(150 * 1024);
    const acknowledged: string[] = [];
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const name = `cm-${i}`;
      const r = await request('POST', '/api/v1/namespaces/default/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name },
        data: { value },
      }).catch((e) => {
        throw new Error(
          `${e.message} at ${name} after ${acknowledged.length}; server log: ${server!.logs().slice(-3000)}`,
        );
      });
      if (r.status === 201) acknowledged.push(name);
      else refused = r;
    }
    expect(refused, 'the disk never filled').toBeDefined();
    expect(refused!.status).toBe(503);
    expect(refused!.body.message).toMatch(/disk is full .*state\.db.*nothing of it was applied/);
    expect(acknowledged.length).toBeGreaterThan(3);
    // Reads still work; the refused object does not exist.
    expect((await request('GET', `/api/v1/namespaces/default/configmaps/${acknowledged[0]}`)).status).toBe(200);
    expect((await request('GET', `/api/v1/namespaces/default/configmaps/cm-${acknowledged.length}`)).status).toBe(404);

    rmSync(filler);
    const after = await request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'after' },
      data: { value: 'small' },
    });
    expect(after.status, JSON.stringify(after.body)).toBe(201);

    // Killed outright (no orderly close), the database still checks clean and holds every
    // acknowledged write.
    await server.crash();
    const db = new Database(path.join(data, 'state.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const keys = new Set(
        (db.prepare("SELECT key FROM kv WHERE key LIKE '%ConfigMap%'").all() as { key: string }[]).map((r) =>
          r.key.split('/').at(-1),
        ),
      );
      for (const name of [...acknowledged, 'after']) expect(keys.has(name), name).toBe(true);
      expect(keys.has(`cm-${acknowledged.length}`)).toBe(false);
    } finally {
      db.close();
    }
  }, 180_000);
});
