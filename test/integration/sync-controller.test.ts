/** The Application controller running: a push reaches the store by itself, within the poll interval. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { openStore, type RevisionedStore } from '../../src/store/index.js';
import { ApplicationController, parseDuration, type ApplicationObject } from '../../src/sync/index.js';
import { TestRepo } from '../helpers/git.js';

const cm = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

describe('Application controller', () => {
  let dir: string;
  let repo: TestRepo;
  let store: RevisionedStore;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-ctrl-'));
    repo = new TestRepo();
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
  });
  afterEach(async () => {
    await store.close();
    repo.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([['30s', 30_000], ['1m30s', 90_000], ['250ms', 250], ['1h', 3_600_000], [undefined, 30_000], ['soon', 30_000]] as const)('parses poll interval %j', (s, ms) => {
    expect(parseDuration(s, 30_000)).toBe(ms);
  });

  it('syncs a new Application at once, then each push within its poll interval, and stops cleanly', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1') });
    repo.commit('first');
    const ac = new AbortController();
    const controller = new ApplicationController({ store, source: new GitSource({ dataDir: dir }), log: pino({ level: 'silent' }) });
    const running = controller.start(ac.signal);
    try {
      await store.create<ApplicationObject>({
        apiVersion: 'berth.dev/v1', kind: 'Application', metadata: { name: 'shop', namespace: 'default', generation: 1 },
        // allowEmpty: the last commit removes every object, which an automated sync refuses otherwise.
        spec: { source: { repoURL: repo.bare, path: 'app' }, syncPolicy: { automated: { prune: true, allowEmpty: true } }, pollInterval: '200ms' },
      });
      const value = async () => ((await store.list({ group: '', kind: 'ConfigMap' })).items[0] as any)?.data.value;
      const until = async (want: string | undefined) => {
        const deadline = Date.now() + 10_000;
        while ((await value()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(await value()).toBe(want);
      };
      await until('1');
      repo.write({ 'app/a.yaml': cm('a', '2') });
      repo.commit('second');
      await until('2');
      repo.write({ 'app/a.yaml': null, 'app/keep.txt': 'nothing to apply' });
      repo.commit('remove a');
      await until(undefined);
    } finally {
      ac.abort();
      await running;
    }
  }, 30_000);
});
