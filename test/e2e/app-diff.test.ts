/**
 * `berth app diff` against a real server: exit 0 no difference, 1 differences, 2 a revision that
 * would not be synced; and the PR plan beside the diff, on simulated nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedNodes, type SimulatedNodes } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

// Each `berth` command is a process of its own (about a second on 2 busy cores).
describe('berth app diff', { timeout: 30_000 }, () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  let gitHttp: GitHttpServer;
  let pullHead: string;
  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    repo.write({ 'app/a.yaml': cm('a', '1'), 'app/b.yaml': cm('b', '1') });
    repo.commit('main');
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    expect(
      (await server.cli('app', 'create', 'shop', '--repo', repo.bare, '--path', 'app', '--auto-sync', '--prune')).code,
    ).toBe(0);
    expect((await server.cli('app', 'sync', 'shop')).code).toBe(0);
    // A pull request's branch: change a, add c, drop b.
    repo.run('checkout', '-q', '-b', 'feature');
    repo.write({ 'app/a.yaml': cm('a', '2'), 'app/c.yaml': cm('c', '1'), 'app/b.yaml': null });
    pullHead = repo.commit('feature work', { branch: 'feature' });
    // The same commit as a pull request's head, as GitHub publishes it (no branch names it there).
    repo.run('push', '-q', 'origin', 'HEAD:refs/pull/7/head');
    repo.write({ 'app/bad.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n' });
    repo.commit('broken', { branch: 'broken' });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await gitHttp?.close();
    repo?.remove();
  });

  it('exits 0 when the tracked revision matches the cluster', async () => {
    const r = await server.cli('app', 'diff', 'shop');
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toMatch(/^no differences at [0-9a-f]{7}$/m);
  });

  it('exits 1 and shows created, changed and pruned for a branch', async () => {
    const r = await server.cli('app', 'diff', 'shop', '--revision', 'feature');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^\+ ConfigMap\/c \(default\) \(created\)$/m);
    expect(r.out).toMatch(/^± ConfigMap\/a \(default\) \(\+1\|-1\)$/m);
    expect(r.out).toMatch(/^-\s+value: "1"$/m);
    expect(r.out).toMatch(/^\+\s+value: "2"$/m);
    expect(r.out).toMatch(/^- ConfigMap\/b \(default\) \(pruned\)$/m);
    const md = await server.cli('app', 'diff', 'shop', '--revision', 'feature', '-o', 'markdown');
    expect(md.out).toMatch(/^## Berth Diff Preview$/m);
    const json = JSON.parse((await server.cli('app', 'diff', 'shop', '--revision', 'feature', '-o', 'json')).out);
    expect([json.created.length, json.changed.length, json.pruned.length]).toEqual([1, 1, 1]);
    // A diff changes nothing.
    expect((await server.cli('get', 'cm', '-o', 'name')).out).toBe('configmap/a\nconfigmap/b\n');
  });

  it('exits 2 for an invalid revision, listing file:line', async () => {
    const r = await server.cli('app', 'diff', 'shop', '--revision', 'broken');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/app\/bad\.yaml:\d+:\d+: error/);
    // As a PR comment: the errors in a CAUTION block, not an empty comment.
    const comment = await server.cli('app', 'diff', 'shop', '--revision', 'broken', '-o', 'markdown');
    expect(comment.code).toBe(2);
    expect(comment.out).toMatch(
      /^> \[!CAUTION\]\n> \*\*The revision has invalid manifests: nothing would be synced\.\*\*$/m,
    );
    expect(comment.out).toMatch(/^> - app\/bad\.yaml:\d+:\d+: error/m);
    expect((await server.cli('app', 'diff', 'shop', '--revision', 'no-such-branch')).code).toBe(2);
  });

  it('diffs a pull request head (refs/pull/N/head), locally and over smart HTTP, following it as it moves', async () => {
    const local = JSON.parse(
      (await server.cli('app', 'diff', 'shop', '--revision', 'refs/pull/7/head', '-o', 'json')).out,
    );
    expect(local.revision).toBe(pullHead);
    expect([local.created.length, local.changed.length, local.pruned.length]).toEqual([1, 1, 1]);

    gitHttp = await startGitHttpServer(repo.root);
    // Over HTTP the repository is cloned: branches and tags come, pull request refs are fetched when asked for.
    expect(
      (
        await server.cli(
          'app',
          'create',
          'preview',
          '--repo',
          `${gitHttp.url}/repo.git`,
          '--path',
          'app',
          '--dest-namespace',
          'preview',
        )
      ).code,
    ).toBe(0);
    // Its destination namespace must exist, or the sync (and so the diff) refuses the revision.
    await api(server, 'POST', '/api/v1/namespaces', {
      token: server.token,
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'preview' } },
    });
    let r = await server.cli('app', 'diff', 'preview', '--revision', 'refs/pull/7/head', '-o', 'json');
    expect(r.code).toBe(1);
    let remote = JSON.parse(r.out);
    expect(remote.revision).toBe(pullHead);
    expect(remote.created.map((c: { name: string }) => c.name).sort()).toEqual(['a', 'c']);

    // A new push to the pull request: the next diff sees it.
    repo.run('checkout', '-q', pullHead);
    repo.write({ 'app/d.yaml': cm('d', '1') });
    repo.run('add', '-A');
    repo.run('commit', '-q', '-m', 'more work');
    const moved = repo.run('rev-parse', 'HEAD');
    repo.run('push', '-q', '--force', 'origin', 'HEAD:refs/pull/7/head');
    r = await server.cli('app', 'diff', 'preview', '--revision', 'refs/pull/7/head', '-o', 'json');
    remote = JSON.parse(r.out);
    expect(remote.revision).toBe(moved);
    expect(remote.created.map((c: { name: string }) => c.name).sort()).toEqual(['a', 'c', 'd']);
    expect((await server.cli('app', 'diff', 'preview', '--revision', 'refs/pull/8/head')).code).toBe(2);
  });
});

const deployment = (
  name: string,
  o: { image: string; cpu: string; replicas: number; hostPath?: boolean },
) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${o.replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: ${name}
          image: ${o.image}
          resources: {requests: {cpu: ${o.cpu}}}
${o.hostPath ? '          volumeMounts: [{name: root, mountPath: /host}]\n      volumes: [{name: root, hostPath: {path: /}}]\n' : ''}`;
const ingress = (name: string) => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}}
spec:
  rules:
    - host: shop.example.com
      http:
        paths: [{path: /api, pathType: Prefix, backend: {service: {name: ${name}, port: {number: 80}}}}]
`;

describe('the PR plan beside the diff (two simulated nodes of 2 cpus)', { timeout: 30_000 }, () => {
  let server: BerthServerProcess;
  let nodes: SimulatedNodes;
  let repo: TestRepo;
  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    repo.write({
      'web/web.yaml': deployment('web', { image: 'registry.example/web:1.0', cpu: '500m', replicas: 1 }),
      'front/ingress.yaml': ingress('front'),
    });
    repo.commit('main');
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    nodes = await startSimulatedNodes(server, { count: 2, cpu: '2' });
    for (const app of ['front', 'web'])
      expect((await server.cli('app', 'create', app, '--repo', repo.bare, '--path', app, '--auto-sync')).code).toBe(0);
    // web's pod runs on one of the nodes: its 500m is taken there.
    await until(
      "web's pod bound to a node",
      async () =>
        JSON.parse((await server.cli('get', 'pods', '-o', 'json')).out).items[0]?.spec.nodeName?.startsWith('sim-'),
      60_000,
    );
    await until('front synced', async () => (await server.cli('get', 'ingress', 'front', '-o', 'name')).code === 0);
    repo.run('checkout', '-q', '-b', 'plan');
    repo.write({
      'web/web.yaml': deployment('web', { image: 'registry.example/web:1.1', cpu: '500m', replicas: 1 }),
      'web/big.yaml': deployment('big', { image: 'registry.example/big:2', cpu: '1500m', replicas: 3 }),
      'web/ingress.yaml': ingress('web'),
    });
    repo.commit('plan', { branch: 'plan' });
    repo.run('checkout', '-q', '-b', 'privileged', 'main');
    repo.write({
      'web/web.yaml': deployment('web', {
        image: 'registry.example/web:1.0',
        cpu: '500m',
        replicas: 1,
        hostPath: true,
      }),
    });
    repo.commit('privileged', { branch: 'privileged' });
  }, 120_000);
  afterAll(async () => {
    await nodes?.stop();
    await server?.stop();
    repo?.remove();
  });

  it("places the new pods on today's nodes, finds the Ingress rule another Application serves, lists changed images", async () => {
    const r = await server.cli('app', 'diff', 'web', '--revision', 'plan', '-o', 'markdown');
    expect(r.code).toBe(1);
    // 1500m fits beside web's 500m on one node and on the empty one; the third does not fit.
    expect(r.out).toContain(
      '> - Deployment/big (default): 1 of 3 new pods would not be scheduled: 0/2 nodes are available: 2 Insufficient cpu.',
    );
    expect(r.out).toContain(
      '> - Ingress default/web claims host `shop.example.com` path `/api` that default/front (Application front) claims too: default/front serves it (the older Ingress)',
    );
    expect(r.out).toContain(
      '| `Deployment/web (default)` | web | `registry.example/web:1.0` | `registry.example/web:1.1` |',
    );
    expect(r.out).toContain('| `Deployment/big (default)` | big | (new) | `registry.example/big:2` |');
    const json = JSON.parse((await server.cli('app', 'diff', 'web', '--revision', 'plan', '-o', 'json')).out);
    expect(json.checks).toMatchObject({ nodes: 2, refusals: [] });
    // A plan changes nothing.
    expect((await server.cli('get', 'deploy', '-o', 'name')).out).toBe('deployment.apps/web\n');
  });

  it('exits 2 with a CAUTION when the sync would refuse the revision (a hostPath of / breaks Pod Security)', async () => {
    const r = await server.cli('app', 'diff', 'web', '--revision', 'privileged', '-o', 'markdown');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(
      /^> \[!CAUTION\]\n> \*\*The sync would refuse this revision: nothing of it would be applied \(1 violation\)\.\*\*\n>\n> - web\/web\.yaml:\d+: .*hostPath/m,
    );
    expect(r.err).toContain('the sync would refuse this revision');
  });
});
