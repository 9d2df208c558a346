/** The Application controller running: a push reaches the store by itself, within the poll interval. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { openStore, type RevisionedStore } from '../../src/store/index.js';
import { ApplicationController, pollIntervalOf, type ApplicationObject } from '../../src/sync/index.js';
import { parseDuration } from '../../src/api/duration.js';
import { ControllerManager, InformerFactory } from '../../src/runtime/index.js';
import { TestRepo } from '../helpers/git.js';
import { startStatusReceiver } from '../helpers/status-receiver.js';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

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
  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['250ms', 250],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1.5s', 1500],
  ] as const)('parses the duration %j', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });
  it.each(['soon', '', '10', '5 m', '1m30', '-1s'])('refuses %j', (s) => {
    expect(() => parseDuration(s)).toThrow(/is not a duration/);
  });
  it('polls an Application without pollInterval every 30 s', () => {
    expect(pollIntervalOf({ spec: {} } as ApplicationObject)).toBe(30_000);
    expect(pollIntervalOf({ spec: { pollInterval: '5s' } } as ApplicationObject)).toBe(5_000);
  });

  /** The controller running, and an Application `shop` on the test repository's app/ (stop() ends both). */
  const runShop = async (spec: Partial<ApplicationObject['spec']>) => {
    const ac = new AbortController();
    const controller = new ApplicationController({
      store,
      source: new GitSource({ dataDir: dir }),
      log: pino({ level: 'silent' }),
    });
    const running = new ControllerManager(new InformerFactory(store), [controller]).start(ac.signal);
    const stop = async () => {
      ac.abort();
      await running;
    };
    await store
      .create<ApplicationObject>({
        apiVersion: 'berth.dev/v1',
        kind: 'Application',
        metadata: { name: 'shop', namespace: 'default', generation: 1 },
        spec: { source: { repoURL: repo.bare, path: 'app' }, ...spec },
      })
      .catch(async (e: unknown) => {
        await stop();
        throw e;
      });
    return stop;
  };

  it('syncs a new Application at once, then each push within its poll interval, and stops cleanly', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1') });
    repo.commit('first');
    // allowEmpty: the last commit removes every object, which an automated sync refuses otherwise.
    const stop = await runShop({ syncPolicy: { automated: { prune: true, allowEmpty: true } }, pollInterval: '200ms' });
    try {
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
      await stop();
    }
  }, 30_000);

  it('follows a managed object at once: health and the commit status within 2 s of the change, whatever the poll interval', async () => {
    const { port, posts, close } = await startStatusReceiver();
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    await store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gh', namespace: 'default' },
      data: { token: b64('ghp_test'), url: b64(`http://127.0.0.1:${port}/repos/o/r`), insecure: b64('true') },
    });
    repo.write({
      'app/web.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n',
    });
    repo.commit('a Deployment');
    const stop = await runShop({
      syncPolicy: { automated: {} },
      pollInterval: '10m',
      notify: {
        commitStatus: {
          url: `http://127.0.0.1:${port}/repos/o/r/statuses/{sha}`,
          tokenSecret: 'gh',
          context: 'berth/shop',
        },
      },
    } as never);
    try {
      const app = () =>
        store.get<ApplicationObject>({ group: 'berth.dev', kind: 'Application', namespace: 'default', name: 'shop' });
      const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
        const deadline = Date.now() + ms;
        while (!(await check())) {
          if (Date.now() > deadline)
            throw new Error(
              `timed out after ${ms} ms waiting for ${what}: ${JSON.stringify((await app()).status?.health)}`,
            );
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await until(
        'Synced and Progressing',
        async () =>
          (await app()).status?.sync?.status === 'Synced' && (await app()).status?.health?.status === 'Progressing',
        10_000,
      );
      // The rollout completes (as the deployment controller writes it): no poll for 10 minutes, yet Healthy within 2 s.
      const web = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
      await store.update({
        ...web,
        status: {
          observedGeneration: web.metadata.generation,
          replicas: 2,
          updatedReplicas: 2,
          readyReplicas: 2,
          availableReplicas: 2,
        },
      });
      const changedAt = Date.now();
      await until('Healthy', async () => (await app()).status?.health?.status === 'Healthy', 2_000);
      expect(Date.now() - changedAt).toBeLessThan(2_000);
      await until('the success status', async () => posts.some((p) => p.body.state === 'success'), 2_000);
      expect(posts.map((p) => p.body.state)).toEqual(['pending', 'success']);
      expect(posts[1]!.at - changedAt).toBeLessThan(2_000);
    } finally {
      await stop();
      await close();
    }
  }, 30_000);
});
