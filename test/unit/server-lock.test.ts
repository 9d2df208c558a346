/** One server per SQLite store (server/server-lock.ts): a live holder keeps others out, a dead one's lock is taken over. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { lockSqliteStore } from '../../src/server/server-lock.js';

describe('the SQLite store lock', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-lock-'));
  const store = path.join(dir, 'state.db');
  afterEach(() => rmSync(`${store}.server.lock`, { force: true }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a second server is refused, naming the first; released, the store is free again', () => {
    const release = lockSqliteStore(store);
    expect(readFileSync(`${store}.server.lock`, 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+\\n$`));
    expect(() => lockSqliteStore(store)).toThrow(
      new RegExp(`another berth server \\(pid ${process.pid}\\) serves the store .*run several servers on one etcd`),
    );
    release();
    expect(existsSync(`${store}.server.lock`)).toBe(false);
    lockSqliteStore(store)();
  });

  it('a lock left by a server that is gone (or whose pid another process took since) is taken over', () => {
    writeFileSync(`${store}.server.lock`, '999999999 12345\n');
    const release = lockSqliteStore(store);
    release();
    writeFileSync(`${store}.server.lock`, `${process.pid} 1\n`);
    lockSqliteStore(store)();
  });
});
