/** The Application controller running: a push reaches the store by itself, within the poll interval. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { openStore, type RevisionedStore } from '../../src/store/index.js';
import { ApplicationController, pollIntervalOf, type ApplicationObject } from '../../src/sync/index.js';
import { parseDuration } from '../../src/api/duration.js';
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

  // One parser for every duration; bad input is an error (it was silently the default before).
  it.each([['30s', 30_000], ['1m30s', 90_000], ['250ms', 250], ['1h', 3_600_000], ['7d', 604_800_000], ['1.5s', 1500]] as const)('parses the duration %j', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });
  it.each(['soon', '', '10', '5 m', '1m30', '-1s'])('refuses %j', (s) => {
    expect(() => parseDuration(s)).toThrow(/is not a duration/);
  });
  it('polls an Application without pollInterval every 30 s', () => {
    expect(pollIntervalOf({ spec: {} } as ApplicationObject)).toBe(30_000);
    expect(pollIntervalOf({ spec: { pollInterval: '5s' } } as ApplicationObject)).toBe(5_000);
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

  it('follows a managed object at once: health and the commit status within 2 s of the change, whatever the poll interval', async () => {
    const posts: { at: number; state: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        posts.push({ at: Date.now(), state: JSON.parse(body).state });
        res.writeHead(201).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const port = (receiver.address() as { port: number }).port;
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    await store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gh', namespace: 'default' }, data: { token: b64('ghp_test'), url: b64(`http://127.0.0.1:${port}/repos/o/r`), insecure: b64('true') } });
    repo.write({ 'app/web.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n' });
    repo.commit('a Deployment');
    const ac = new AbortController();
    const controller = new ApplicationController({ store, source: new GitSource({ dataDir: dir }), log: pino({ level: 'silent' }) });
    const running = controller.start(ac.signal);
    try {
      await store.create<ApplicationObject>({
        apiVersion: 'berth.dev/v1', kind: 'Application', metadata: { name: 'shop', namespace: 'default', generation: 1 },
        spec: { source: { repoURL: repo.bare, path: 'app' }, syncPolicy: { automated: {} }, pollInterval: '10m', notify: { commitStatus: { url: `http://127.0.0.1:${port}/repos/o/r/statuses/{sha}`, tokenSecret: 'gh', context: 'berth/shop' } } } as never,
      });
      const app = () => store.get<ApplicationObject>({ group: 'berth.dev', kind: 'Application', namespace: 'default', name: 'shop' });
      const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
        const deadline = Date.now() + ms;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${JSON.stringify((await app()).status?.health)}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await until('Synced and Progressing', async () => (await app()).status?.sync?.status === 'Synced' && (await app()).status?.health?.status === 'Progressing', 10_000);
      // The rollout completes (as the deployment controller writes it): no poll for 10 minutes, yet Healthy within 2 s.
      const web = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
      await store.update({ ...web, status: { observedGeneration: web.metadata.generation, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 } });
      const changedAt = Date.now();
      await until('Healthy', async () => (await app()).status?.health?.status === 'Healthy', 2_000);
      expect(Date.now() - changedAt).toBeLessThan(2_000);
      await until('the success status', async () => posts.some((p) => p.state === 'success'), 2_000);
      expect(posts.map((p) => p.state)).toEqual(['pending', 'success']);
      expect(posts[1]!.at - changedAt).toBeLessThan(2_000);
    } finally {
      ac.abort();
      await running;
      await new Promise((r) => receiver.close(r));
    }
  }, 30_000);
});
