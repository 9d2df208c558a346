/**
 * Git push webhooks against a real `berth server` process: a valid signature (GitHub, Gitea,
 * GitLab) syncs the tracking Application within a second; a bad or missing one is 401 and
 * nothing is fetched.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { api } from '../helpers/server.js';
const SECRET = 'webhook-test-secret';
const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hook\ndata:\n  value: "${value}"\n`;

describe('git webhooks', () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  let git: GitHttpServer;
  let conn: { url: string; ca: string };
  let token: string;
  const value = async () => (await api(conn, 'GET', '/api/v1/namespaces/default/configmaps/hook', { token })).body?.data?.value;

  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    repo.write({ 'app/hook.yaml': cm('1') });
    repo.commit('first');
    git = await startGitHttpServer(repo.root);
    server = await startBerthServer({ env: { BERTH_WEBHOOK_SECRET: SECRET }, args: ['--log-level', 'warn'] });
    conn = { url: server.url, ca: server.ca };
    token = server.token;
    const app = { apiVersion: 'berth.dev/v1', kind: 'Application', metadata: { name: 'hooked' }, spec: { source: { repoURL: `${git.url}/repo.git`, targetRevision: 'main', path: 'app' }, syncPolicy: { automated: { prune: true } }, pollInterval: '1h' } };
    expect((await api(conn, 'POST', '/apis/berth.dev/v1/namespaces/default/applications', { token, body: app })).status).toBe(201);
    const until = Date.now() + 20_000;
    while ((await value()) !== '1' && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await value()).toBe('1');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await git?.close();
    repo?.remove();
  });

  const push = (headers: Record<string, string>, body: string) => api(conn, 'POST', '/api/v1/webhooks/git', { rawBody: body, headers });
  const githubBody = () => JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: `${git.url}/repo.git`, html_url: `${git.url}/repo` } });

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
    ['GitHub', (b: string) => ({ 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': 'sha256=' + createHmac('sha256', SECRET).update(b).digest('hex') })],
    ['Gitea', (b: string) => ({ 'X-Gitea-Event': 'push', 'X-Gitea-Signature': createHmac('sha256', SECRET).update(b).digest('hex') })],
    ['GitLab', () => ({ 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET })],
  ])('a signed %s push syncs within a second', async (name, headers) => {
    repo.write({ 'app/hook.yaml': cm(name) });
    repo.commit(`${name} change`);
    const body = name === 'GitLab' ? JSON.stringify({ ref: 'refs/heads/main', project: { git_http_url: `${git.url}/repo.git` } }) : githubBody();
    const started = Date.now();
    const res = await push(headers(body), body);
    expect(res.status).toBe(202);
    expect(res.body.message).toBe('1 application refreshed');
    while ((await value()) !== name && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 25));
    expect(await value()).toBe(name);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
