/**
 * Pod Security Admission at the API (security issue, item 8): pods and workload pod templates
 * are checked against their namespace's level (unlabelled: the server's default, baseline), with
 * Kubernetes' messages; no pod mounts the server's or an agent's data directory, at any level.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const pod = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'app', image: 'busybox' }], ...spec },
});
const ns = (name: string, level?: string) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, ...(level ? { labels: { 'pod-security.kubernetes.io/enforce': level } } : {}) },
});

describe('Pod Security at the API', () => {
  let server: TestServer;
  const post = (path: string, body: unknown) => api(server, 'POST', path, { token: server.adminToken, body });
  beforeAll(async () => {
    server = await startTestServer();
    await post('/api/v1/namespaces', ns('ops', 'privileged'));
    await post('/api/v1/namespaces', ns('locked', 'restricted'));
    // An agent's announced data directory is protected too.
    await post('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', annotations: { 'berth.dev/data-dir': '/var/lib/berth-agent' } },
    });
  });
  afterAll(() => server?.stop());

  it("refuses a hostPath: / pod in an unlabelled namespace with Kubernetes' message, and stores nothing", async () => {
    const res = await post(
      '/api/v1/namespaces/default/pods',
      pod('root', { volumes: [{ name: 'root', hostPath: { path: '/' } }] }),
    );
    expect({ status: res.status, reason: res.body.reason }).toEqual({ status: 403, reason: 'Forbidden' });
    expect(res.body.message).toContain(
      'pods "root" is forbidden: hostPath volume "root" (/) reaches Berth\'s data directory',
    );
    expect(
      (await api(server, 'GET', '/api/v1/namespaces/default/pods/root', { token: server.adminToken })).status,
    ).toBe(404);
    const other = await post(
      '/api/v1/namespaces/default/pods',
      pod('srv', { volumes: [{ name: 'root', hostPath: { path: '/srv' } }] }),
    );
    expect({ status: other.status, message: other.body.message }).toEqual({
      status: 403,
      message: 'pods "srv" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "root")',
    });
  });

  it('a privileged namespace admits host access, but never a data directory', async () => {
    expect(
      (
        await post(
          '/api/v1/namespaces/ops/pods',
          pod('tools', { hostNetwork: true, volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }] }),
        )
      ).status,
    ).toBe(201);
    const own = await post(
      '/api/v1/namespaces/ops/pods',
      pod('steal', { volumes: [{ name: 'state', hostPath: { path: `${server.dir}/pki` } }] }),
    );
    expect({ status: own.status, message: own.body.message }).toEqual({
      status: 403,
      message: `pods "steal" is forbidden: hostPath volume "state" (${server.dir}/pki) reaches Berth's data directory ${server.dir}: no pod may mount it`,
    });
    const agent = await post(
      '/api/v1/namespaces/ops/pods',
      pod('agent', { volumes: [{ name: 't', hostPath: { path: '/var/lib/berth-agent/node.token' } }] }),
    );
    expect(agent.status).toBe(403);
    expect(agent.body.message).toContain('/var/lib/berth-agent');
  });

  it('checks workload pod templates too, and a restricted namespace at its level', async () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'nginx', securityContext: { privileged: true } }] },
        },
      },
    };
    const res = await post('/apis/apps/v1/namespaces/default/deployments', deploy);
    expect({ status: res.status, message: res.body.message }).toEqual({
      status: 403,
      message:
        'deployments "web" is forbidden: violates PodSecurity "baseline:latest": privileged (container "web" must not set securityContext.privileged=true)',
    });
    const plain = await post('/api/v1/namespaces/locked/pods', pod('plain', {}));
    expect(plain.status).toBe(403);
    expect(plain.body.message).toMatch(
      /^pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
    );
  });

  it('does not check a write that leaves the pod template alone (status, scale, labels)', async () => {
    expect((await post('/api/v1/namespaces/default/pods', pod('fine', {}))).status).toBe(201);
    // The namespace becomes restricted afterwards: the existing pod's status can still be written.
    await api(server, 'PATCH', '/api/v1/namespaces/default', {
      token: server.adminToken,
      body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    const status = await api(server, 'PATCH', '/api/v1/namespaces/default/pods/fine/status', {
      token: server.adminToken,
      body: { status: { phase: 'Running' } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(status.status).toBe(200);
    const label = await api(server, 'PATCH', '/api/v1/namespaces/default/pods/fine', {
      token: server.adminToken,
      body: { metadata: { labels: { a: 'b' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(label.status).toBe(200);
    await api(server, 'PATCH', '/api/v1/namespaces/default', {
      token: server.adminToken,
      body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': null } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
  });
});
