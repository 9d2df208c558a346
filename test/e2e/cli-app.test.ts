/**
 * `berth app` against a real `berth server` process and a repository made with the git CLI:
 * create, wait until synced, list, get, sync on demand, delete with --cascade.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { TestRepo } from '../helpers/git.js';
const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

describe('berth app', () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  const berth = (...args: string[]) => server.cli(...args);
  const until = async (fn: () => Promise<boolean>, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await fn()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await fn()).toBe(true);
  };

  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    repo.write({ 'app/a.yaml': cm('a', '1'), 'app/b.yaml': cm('b', '1') });
    repo.commit('first');
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    repo?.remove();
  });

  it('create, sync from Git, list, get, sync on demand, delete --cascade', async () => {
    expect(
      await berth(
        'app',
        'create',
        'shop',
        '--repo',
        repo.bare,
        '--path',
        'app',
        '--auto-sync',
        '--prune',
        '--poll-interval',
        '500ms',
      ),
    ).toMatchObject({ code: 0, out: 'application.berth.dev/shop created\n' });
    await until(
      async () => JSON.parse((await berth('app', 'get', 'shop', '-o', 'json')).out).status?.sync?.status === 'Synced',
    );
    expect((await berth('get', 'cm', '-o', 'name')).out).toBe('configmap/a\nconfigmap/b\n');
    // Created again: "already exists" (exit 1), unless --upsert, which gives it the new spec.
    const again = ['app', 'create', 'shop', '--repo', repo.bare, '--path', 'app', '--auto-sync', '--prune'];
    expect(await berth(...again, '--poll-interval', '500ms')).toMatchObject({
      code: 1,
      err: expect.stringMatching(/already exists/),
    });
    expect(await berth(...again, '--poll-interval', '400ms', '--upsert')).toMatchObject({
      code: 0,
      out: 'application.berth.dev/shop updated\n',
    });
    expect(JSON.parse((await berth('app', 'get', 'shop', '-o', 'json')).out).spec.pollInterval).toBe('400ms');
    // app set: only what is given changes.
    const set = await berth(
      'app',
      'set',
      'shop',
      '--poll-interval',
      '500ms',
      '--self-heal',
      '--commit-status-url',
      'http://127.0.0.1:9/repos/o/r/statuses/{sha}',
      '--commit-status-target-url',
      'https://berth.example.com/{namespace}/{app}/{sha}',
    );
    expect(set).toMatchObject({ code: 0, out: 'application.berth.dev/shop configured\n' });
    const afterSet = JSON.parse((await berth('app', 'get', 'shop', '-o', 'json')).out).spec;
    expect(afterSet).toMatchObject({
      pollInterval: '500ms',
      source: { path: 'app' },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
      notify: {
        commitStatus: {
          url: 'http://127.0.0.1:9/repos/o/r/statuses/{sha}',
          targetURL: 'https://berth.example.com/{namespace}/{app}/{sha}',
        },
      },
    });
    expect(await berth('app', 'set', 'shop', '--no-self-heal', '--no-commit-status')).toMatchObject({ code: 0 });
    const unset = JSON.parse((await berth('app', 'get', 'shop', '-o', 'json')).out).spec;
    expect(unset.syncPolicy.automated).toEqual({ prune: true, selfHeal: false });
    expect(unset.notify?.commitStatus).toBeUndefined();
    expect((await berth('app', 'set', 'shop')).code).toBe(2);

    const list = await berth('app', 'list');
    expect(list.out.split('\n')[0]).toMatch(/^NAME\s+SYNC STATUS\s+HEALTH STATUS\s+REVISION\s+AGE$/);
    expect(list.out).toMatch(/^shop\s+Synced\s+Healthy\s+[0-9a-f]{7}\s/m);

    const get = await berth('app', 'get', 'shop');
    expect(get.out).toMatch(/^Sync Status:\s+Synced to [0-9a-f]{7}$/m);
    expect(get.out).toMatch(/^ConfigMap\s+default\s+a\s+Synced\s+Healthy$/m);
    expect(get.out).toMatch(/^1\s+\S+\s+[0-9a-f]{7}\s+first$/m);
    // The syncs, and what the tracked revision would apply.
    const history = (await berth('app', 'history', 'shop')).out.split('\n');
    expect(history[0]).toMatch(/^ID\s+DEPLOYED\s+REVISION\s+INITIATED BY\s+RESULT\s+DURATION\s+MESSAGE$/);
    expect(history[1]).toMatch(/^1\s+\S+\s+[0-9a-f]{7}\s+auto\s+Healthy\s+\d+s\s+first$/);
    const manifests = await berth('app', 'manifests', 'shop');
    expect(manifests.code, manifests.err).toBe(0);
    expect(manifests.out).toMatch(/^kind: ConfigMap$/m);
    expect(manifests.out).toMatch(/berth\.dev\/tracking-id: default\/shop:/);
    expect(manifests.out.split(/^---$/m)).toHaveLength(2);
    expect(JSON.parse((await berth('app', 'manifests', 'shop', '-o', 'json')).out).items).toHaveLength(2);

    // app wait: 0 when synced at a revision; 3 on timeout; 1 when the commit is invalid.
    const head = repo.run('rev-parse', 'HEAD');
    expect(
      await berth('app', 'wait', 'shop', '--revision', head.slice(0, 8), '--health', '--timeout', '20s'),
    ).toMatchObject({ code: 0 });
    expect((await berth('app', 'wait', 'shop', '--revision', 'deadbeef', '--timeout', '1s')).code).toBe(3);
    // 2: the wait itself cannot go on (no such app, no server).
    const noApp = await berth('app', 'wait', 'no-such-app', '--timeout', '5s');
    expect(noApp.code).toBe(2);
    expect(noApp.err).toMatch(/no-such-app: .*not found/);
    expect((await berth('--server', 'https://127.0.0.1:1', 'app', 'wait', 'shop', '--timeout', '5s')).code).toBe(2);
    repo.write({ 'app/bad.yaml': 'kind: ConfigMap\n' });
    const bad = repo.commit('bad');
    const waitBad = await berth('app', 'wait', 'shop', '--revision', bad, '--timeout', '20s');
    expect(waitBad.code).toBe(1);
    expect(waitBad.err).toMatch(/ComparisonError: app\/bad\.yaml:1:1: error: missing apiVersion/);
    repo.write({ 'app/bad.yaml': null });
    repo.commit('fix');

    repo.write({ 'app/b.yaml': null });
    repo.commit('drop b');
    const sync = await berth('app', 'sync', 'shop');
    expect(sync.code).toBe(0);
    expect(sync.out).toMatch(/^shop: Synced at [0-9a-f]{7}/);
    await until(async () => (await berth('get', 'cm', '-o', 'name')).out === 'configmap/a\n');

    // Roll back to the first sync: b returns, and the app says it is pinned.
    const rb = await berth('app', 'rollback', 'shop', '1');
    expect(rb.code).toBe(0);
    expect((await berth('get', 'cm', '-o', 'name')).out).toBe('configmap/a\nconfigmap/b\n');
    expect((await berth('app', 'get', 'shop')).out).toMatch(
      /^Condition:\s+RollbackActive \(RolledBack\)\n\s+rolled back to [0-9a-f]{7}; automated sync is paused/m,
    );
    expect((await berth('app', 'list')).out).toMatch(/^shop\s+Synced\s+Healthy\s+[0-9a-f]{7} \(rolled back\)\s/m);
    const resume = await berth('app', 'sync', 'shop', '--resume');
    expect(resume.code).toBe(0);
    // The rollback's status fits the schema: writing the app again warns about nothing.
    expect(resume.err).not.toMatch(/Warning/);
    expect((await berth('get', 'cm', '-o', 'name')).out).toBe('configmap/a\n');

    // Sync a tag instead of the branch: pinned the same way, until --resume.
    repo.run('tag', 'v1', repo.run('rev-list', '--max-parents=0', 'HEAD'));
    repo.run('push', '-q', 'origin', 'v1');
    const pinned = await berth('app', 'sync', 'shop', '--revision', 'v1');
    expect(pinned).toMatchObject({ code: 0, err: 'sync of default/shop to v1 requested\n' });
    expect((await berth('get', 'cm', '-o', 'name')).out).toBe('configmap/a\nconfigmap/b\n');
    expect((await berth('app', 'list')).out).toMatch(/^shop\s+Synced\s+Healthy\s+[0-9a-f]{7} \(pinned\)\s/m);
    expect((await berth('app', 'get', 'shop')).out).toMatch(
      /^Condition:\s+RollbackActive \(PinnedRevision\)\n\s+synced to "v1" \([0-9a-f]{7}\) by request; automated sync is paused/m,
    );
    const missing = await berth('app', 'sync', 'shop', '--revision', 'no-such-tag');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/SourceError: revision "no-such-tag" is not a branch, tag or commit/);
    expect((await berth('app', 'sync', 'shop', '--resume')).code).toBe(0);
    expect((await berth('get', 'cm', '-o', 'name')).out).toBe('configmap/a\n');

    const del = await berth('app', 'delete', 'shop', '--cascade');
    expect(del.code).toBe(0);
    expect(del.out).toBe('configmap/a deleted\napplication.berth.dev/shop deleted\n');
    expect((await berth('get', 'cm', '-o', 'name')).out).toBe('');
  }, 90_000);
});
