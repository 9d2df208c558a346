/**
 * Crash test: a process writing to the SQLite store in a loop is killed with SIGKILL; the store
 * reopens, and every write the child had acknowledged is there.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { REPO_ROOT } from '../shared.js';

describe('SQLite store survives SIGKILL', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every acknowledged write', async () => {
    const file = path.join(dir, 'state.db');
    const acks = path.join(dir, 'acks.log');
    const child = spawn(process.execPath, ['--import', 'tsx', `${REPO_ROOT}test/fault/sqlite-writer.ts`, file, acks], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      // Let it write for a while: at least a few hundred acknowledged writes.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        if (existsSync(acks) && readFileSync(acks, 'utf8').split('\n').length > 500) break;
        if (child.exitCode !== null) throw new Error(`writer exited early: ${stderr}`);
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.signalCode).toBe('SIGKILL');

    const acked = readFileSync(acks, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]);
    expect(acked.length).toBeGreaterThan(500);
    const store = await openStore(`sqlite:${file}`);
    try {
      const head = await store.revision();
      const latest = new Map<string, number>();
      for (const [name, rev] of acked) latest.set(name, Math.max(latest.get(name) ?? 0, Number(rev)));
      for (const [name, rev] of latest) {
        const obj = await store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name });
        // The object is there, at the acknowledged revision or a later one the child wrote
        // before it could log the ack.
        expect(Number(obj.metadata.resourceVersion)).toBeGreaterThanOrEqual(rev);
        expect(Number(obj.metadata.resourceVersion)).toBeLessThanOrEqual(head);
      }
      // The history is whole: replaying it rebuilds the current state.
      const ac = new AbortController();
      const seen = new Map<string, string>();
      let stopping = false;
      for await (const e of store.watch({ fromRevision: 0, signal: ac.signal })) {
        seen.set(e.object.metadata.name, e.object.metadata.resourceVersion!);
        // The head revision may be a transaction of several events: let all of them arrive.
        if (e.revision === head && !stopping) {
          stopping = true;
          setTimeout(() => ac.abort(), 200);
        }
      }
      const listed = await store.list({ group: '', kind: 'ConfigMap' });
      expect(new Map(listed.items.map((o) => [o.metadata.name, o.metadata.resourceVersion]))).toEqual(seen);
    } finally {
      await store.close();
    }
  }, 60_000);
});
