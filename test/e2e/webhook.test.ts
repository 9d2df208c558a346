/**
 * Git push webhooks against a real `berth server` process: a valid signature (GitHub, Gitea,
 * GitLab) syncs the tracking Application within a second; a bad or missing one is 401 and
 * nothing is fetched. With an hour's poll, a rollout the webhook started is reported Healthy (to
 * `berth app wait --health` and as the commit status) within 2 s of completing.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedNodes, type SimulatedNodes } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { startStatusReceiver } from '../helpers/status-receiver.js';
import { until } from '../helpers/wait.js';
const SECRET = 'webhook-test-secret';
const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hook\ndata:\n  value: "${value}"\n`;

describe('git webhooks', () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  let git: GitHttpServer;
  let conn: { url: string; ca: string };
  let token: string;
  const value = async () =>
    (await api(conn, 'GET', '/api/v1/namespaces/default/configmaps/hook', { token })).body?.data?.value;

  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    repo.write({ 'app/hook.yaml': cm('1') });
    repo.commit('first');
    git = await startGitHttpServer(repo.root);
    server = await startBerthServer({ env: { BERTH_WEBHOOK_SECRET: SECRET }, args: ['--log-level', 'warn'] });
    conn = { url: server.url, ca: server.ca };
    token = server.token;
    const app = {
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'hooked' },
      spec: {
        source: { repoURL: `${git.url}/repo.git`, targetRevision: 'main', path: 'app' },
        syncPolicy: { automated: { prune: true } },
        pollInterval: '1h',
      },
    };
    expect(
      (await api(conn, 'POST', '/apis/berth.dev/v1/namespaces/default/applications', { token, body: app })).status,
    ).toBe(201);
    const until = Date.now() + 20_000;
    while ((await value()) !== '1' && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await value()).toBe('1');
  }, 120_000);
  let simulator: SimulatedNodes | undefined;
  afterAll(async () => {
    await simulator?.stop();
    await server?.stop();
    await git?.close();
    repo?.remove();
  });

  const push = (headers: Record<string, string>, body: string) =>
    api(conn, 'POST', '/api/v1/webhooks/git', { rawBody: body, headers });
  const githubBody = () =>
    JSON.stringify({
      ref: 'refs/heads/main',
      repository: { clone_url: `${git.url}/repo.git`, html_url: `${git.url}/repo` },
    });

  it('a bad or missing signature is 401 and fetches nothing', async () => {
    repo.write({ 'app/hook.yaml': cm('unsigned') });
    repo.commit('unsigned change');
    git.requests.length = 0;
    const body = githubBody();
    expect((await push({}, body)).status).toBe(401);
    expect((await push({ 'X-Hub-Signature-256': 'sha256=' + 'ab'.repeat(32) }, body)).status).toBe(401);
    expect((await push({ 'X-Gitlab-Token': 'wrong' }, body)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1000));
    expect(git.requests).toEqual([]);
    expect(await value()).toBe('1');
  });

  it.each([
    [
      'GitHub',
      (b: string) => ({
        'X-GitHub-Event': 'push',
        'X-Hub-Signature-256': 'sha256=' + createHmac('sha256', SECRET).update(b).digest('hex'),
      }),
    ],
    [
      'Gitea',
      (b: string) => ({
        'X-Gitea-Event': 'push',
        'X-Gitea-Signature': createHmac('sha256', SECRET).update(b).digest('hex'),
      }),
    ],
    ['GitLab', () => ({ 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET })],
  ])('a signed %s push syncs within a second', async (name, headers) => {
    repo.write({ 'app/hook.yaml': cm(name) });
    repo.commit(`${name} change`);
    const body =
      name === 'GitLab'
        ? JSON.stringify({ ref: 'refs/heads/main', project: { git_http_url: `${git.url}/repo.git` } })
        : githubBody();
    const started = Date.now();
    const res = await push(headers(body), body);
    expect(res.status).toBe(202);
    expect(res.body.message).toBe('1 application refreshed');
    while ((await value()) !== name && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 25));
    expect(await value()).toBe(name);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("a rollout started by a webhook is Healthy to `app wait --health` and the commit status within 2 s of completing, with an hour's poll", async () => {
    const receiver = await startStatusReceiver();
    try {
      simulator = await startSimulatedNodes(server, { count: 2 });
      const b64 = (v: string) => Buffer.from(v).toString('base64');
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'gh' },
        data: {
          token: b64('ghp_test'),
          url: b64(`http://127.0.0.1:${receiver.port}/repos/o/r`),
          insecure: b64('true'),
        },
      };
      expect((await api(conn, 'POST', '/api/v1/namespaces/default/secrets', { token, body: secret })).status).toBe(201);
      const web = (image: string) =>
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: "${image}"}]\n`;
      repo.write({ 'web/web.yaml': web('web:1') });
      repo.commit('web 1');
      const app = {
        apiVersion: 'berth.dev/v1',
        kind: 'Application',
        metadata: { name: 'rollout' },
        spec: {
          source: { repoURL: `${git.url}/repo.git`, targetRevision: 'main', path: 'web' },
          syncPolicy: { automated: {} },
          pollInterval: '1h',
          notify: {
            commitStatus: {
              url: `http://127.0.0.1:${receiver.port}/repos/o/r/statuses/{sha}`,
              tokenSecret: 'gh',
              context: 'berth/rollout',
            },
          },
        },
      };
      expect(
        (await api(conn, 'POST', '/apis/berth.dev/v1/namespaces/default/applications', { token, body: app })).status,
      ).toBe(201);
      const first = await server.cli('app', 'wait', 'rollout', '--health', '--timeout', '60s');
      expect(first.code, first.err).toBe(0);

      repo.write({ 'web/web.yaml': web('web:2') });
      const sha = repo.commit('web 2');
      const body = githubBody();
      expect(
        (
          await push(
            {
              'X-GitHub-Event': 'push',
              'X-Hub-Signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
            },
            body,
          )
        ).status,
      ).toBe(202);
      const wait = server
        .cli('app', 'wait', 'rollout', '--revision', sha, '--health', '--timeout', '60s')
        .then((r) => ({ ...r, at: Date.now() }));
      // Kubernetes' rollout complete: every replica updated and available, the spec observed.
      const completedAt = await until(
        'the rollout of web:2 to complete',
        async () => {
          const d = (await api(conn, 'GET', '/apis/apps/v1/namespaces/default/deployments/web', { token })).body;
          const s = d.status ?? {};
          const done =
            d.spec.template.spec.containers[0].image === 'web:2' &&
            s.observedGeneration >= d.metadata.generation &&
            s.updatedReplicas === 3 &&
            s.replicas === 3 &&
            s.availableReplicas === 3;
          return done && Date.now();
        },
        60_000,
      );
      const waited = await wait;
      expect(waited.code, waited.err).toBe(0);
      expect(waited.at - completedAt).toBeLessThan(2_000);
      const success = await until(
        'the success status',
        async () => receiver.posts.find((p) => p.path.endsWith(sha) && p.body.state === 'success'),
        5_000,
      );
      expect(success.at - completedAt).toBeLessThan(2_000);
      // The summary conditions as kstatus reads them: kubectl waits on the Application's Ready.
      const home = mkdtempSync(path.join(tmpdir(), 'berth-kubectl-home-'));
      try {
        const ready = await promisify(execFile)(
          'kubectl',
          [
            '--kubeconfig',
            path.join(server.dir, 'kubeconfig.yaml'),
            'wait',
            '--for=condition=Ready',
            'applications/rollout',
            '--timeout=30s',
          ],
          { env: { ...process.env, HOME: home, KUBECONFIG: '' } },
        );
        expect(ready.stdout).toMatch(/application\.berth\.dev\/rollout condition met/);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
      if (process.env.BERTH_TEST_FIGURES)
        console.log(
          JSON.stringify({
            waitAfterCompleteMs: waited.at - completedAt,
            successAfterCompleteMs: success.at - completedAt,
          }),
        );
    } finally {
      await receiver.close();
    }
  }, 120_000);
});
