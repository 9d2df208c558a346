/**
 * `berth rollout` and `berth scale` against a real `berth server` process (its controllers
 * included), pods made ready through the API's status subresource as an agent would; and a
 * server killed with SIGKILL mid-rollout that finishes it after a restart.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';

const deployment = (image: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 2, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: main
          image: ${image}
`;

describe('berth rollout', () => {
  let server: BerthServerProcess | undefined;
  beforeAll(() => buildOnce(), 120_000);
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const request = (method: string, p: string, body?: unknown) =>
    api(server!, method, p, { token: server!.token, ...(body !== undefined ? { body } : {}) });
  const pods = async (): Promise<any[]> => (await request('GET', '/api/v1/namespaces/default/pods')).body.items;
  const replicaSets = async (): Promise<any[]> =>
    (await request('GET', '/apis/apps/v1/namespaces/default/replicasets')).body.items;
  /** What an agent does once a pod's containers pass their readiness probes. */
  const makeReady = async (limit = Infinity): Promise<number> => {
    let n = 0;
    for (const p of await pods()) {
      if (n >= limit) break;
      if (p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')) continue;
      const status = {
        phase: 'Running',
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
        ],
      };
      const res = await request('PUT', `/api/v1/namespaces/default/pods/${p.metadata.name}/status`, { ...p, status });
      if (res.status === 200) n++;
    }
    return n;
  };
  /** Runs `berth rollout status` while pods are made ready, until it exits. */
  const statusWhileReadying = async (...extra: string[]) => {
    const status = server!.cli('rollout', 'status', 'deploy/web', '--timeout', '60s', ...extra);
    let done = false;
    void status.then(() => (done = true));
    while (!done) {
      await makeReady();
      await new Promise((r) => setTimeout(r, 100));
    }
    return status;
  };
  const apply = (dir: string, yaml: string) => {
    const file = path.join(dir, 'web.yaml');
    writeFileSync(file, yaml);
    return server!.cli('apply', '-f', file);
  };
  const images = async () => [...new Set((await pods()).map((p) => p.spec.containers[0].image))];

  it('status, history, undo, restart, pause/resume and scale', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    expect((await apply(server.dir, deployment('web:1', 4))).code).toBe(0);
    // Nothing is ready yet: one look reports the wait and exits 1.
    const once = await server.cli('rollout', 'status', 'deploy/web', '--watch=false');
    expect(once.code).toBe(1);
    expect(once.out).toMatch(
      /^(Waiting for deployment "web" rollout to finish: \d+ (out of|of) \d+ .*|Waiting for deployment spec update to be observed\.\.\.)\n$/,
    );
    const first = await statusWhileReadying();
    expect(first).toMatchObject({ code: 0 });
    expect(first.out.trim().split('\n').at(-1)).toBe('deployment "web" successfully rolled out');

    await apply(server.dir, deployment('web:2', 4));
    expect((await statusWhileReadying()).code).toBe(0);
    expect(await images()).toEqual(['web:2']);
    const history = await server.cli('rollout', 'history', 'deploy/web');
    expect(history.out).toBe('deployment.apps/web\nREVISION   CHANGE-CAUSE\n1          <none>\n2          <none>\n');
    expect(
      JSON.parse((await server.cli('rollout', 'history', 'deploy/web', '-o', 'json')).out).map((r: any) => r.revision),
    ).toEqual([1, 2]);
    expect((await server.cli('rollout', 'history', 'deploy/web', '--revision', '1')).out).toContain('image: web:1');

    const undo = await server.cli('rollout', 'undo', 'deploy/web', '--to-revision', '1');
    expect(undo).toMatchObject({ code: 0, out: 'deployment.apps/web rolled back\n' });
    expect((await statusWhileReadying()).code).toBe(0);
    expect(await images()).toEqual(['web:1']);
    expect(
      JSON.parse((await server.cli('rollout', 'history', 'deploy/web', '-o', 'json')).out).map((r: any) => r.revision),
    ).toEqual([2, 3]);
    expect((await server.cli('rollout', 'undo', 'deploy/web', '--to-revision', '9')).code).not.toBe(0);

    const before = new Set((await pods()).map((p) => p.metadata.name));
    expect(await server.cli('rollout', 'restart', 'deploy/web')).toMatchObject({
      code: 0,
      out: 'deployment.apps/web restarted\n',
    });
    expect((await statusWhileReadying()).code).toBe(0);
    expect((await pods()).some((p) => before.has(p.metadata.name))).toBe(false);

    expect((await server.cli('rollout', 'pause', 'deploy/web')).out).toBe('deployment.apps/web paused\n');
    // (A patch, as `berth apply` would replace the whole spec, paused included.)
    const patched = await api(server, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/web', {
      token: server.token,
      body: { spec: { template: { spec: { containers: [{ name: 'main', image: 'web:3' }] } } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(patched.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await images()).toEqual(['web:1']);
    expect((await server.cli('rollout', 'resume', 'deploy/web')).out).toBe('deployment.apps/web resumed\n');
    expect((await statusWhileReadying()).code).toBe(0);
    expect(await images()).toEqual(['web:3']);

    expect(await server.cli('scale', 'deploy/web', '--replicas', '2')).toMatchObject({
      code: 0,
      out: 'deployment.apps/web scaled\n',
    });
    expect((await statusWhileReadying()).code).toBe(0);
    expect(await pods()).toHaveLength(2);
    expect((await server.cli('scale', 'deploy/web', '--replicas', '-1')).code).toBe(2);
  }, 120_000);

  it('a server killed with SIGKILL mid-rollout finishes it after a restart: no duplicate pods, no orphans, history kept', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    const dir = server.dir;
    await apply(dir, deployment('web:1', 12));
    expect((await statusWhileReadying()).code).toBe(0);
    await apply(dir, deployment('web:2', 12));
    // Part of the way: some new pods exist and are ready, old ones remain.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const imgs = (await pods()).map((p) => p.spec.containers[0].image);
      if (imgs.filter((i) => i === 'web:2').length >= 4 && imgs.includes('web:1')) break;
      await makeReady(2);
      await new Promise((r) => setTimeout(r, 50));
    }
    await server.crash();
    server = await startBerthServer({ args: ['--log-level', 'warn'], dir });
    expect((await statusWhileReadying()).code).toBe(0);

    const all = await pods();
    const rss = await replicaSets();
    expect(all).toHaveLength(12);
    expect(new Set(all.map((p) => p.metadata.name)).size).toBe(12);
    expect(await images()).toEqual(['web:2']);
    const rsUids = new Set(rss.map((r) => r.metadata.uid));
    expect(all.every((p) => rsUids.has(p.metadata.ownerReferences?.[0]?.uid))).toBe(true);
    const d = (await request('GET', '/apis/apps/v1/namespaces/default/deployments/web')).body;
    expect(rss.every((r) => r.metadata.ownerReferences?.[0]?.uid === d.metadata.uid)).toBe(true);
    expect(rss.map((r) => r.metadata.annotations['deployment.kubernetes.io/revision']).sort()).toEqual(['1', '2']);
    expect(d.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
    expect(d.status).toMatchObject({ replicas: 12, updatedReplicas: 12, availableReplicas: 12 });
  }, 120_000);

  it('a StatefulSet across a server SIGKILL: ordinals in order, never two of one, claims kept', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    const dir = server.dir;
    const file = path.join(dir, 'db.yaml');
    writeFileSync(
      file,
      `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 4
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
        - name: main
          image: db:1
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
`,
    );
    expect((await server.cli('apply', '-f', file)).code).toBe(0);
    const names = async () => (await pods()).map((p) => p.metadata.name).sort();
    const seen: string[][] = [];
    const watchOrder = async (until: (n: string[]) => boolean) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const n = await names();
        if (seen.at(-1)?.join() !== n.join()) seen.push(n);
        if (until(n) || Date.now() > deadline) return n;
        await makeReady(1);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await watchOrder((n) => n.length >= 2);
    await server.crash();
    server = await startBerthServer({ args: ['--log-level', 'warn'], dir });
    await watchOrder((n) => n.length === 4);
    await makeReady();
    const st = await server.cli('rollout', 'status', 'sts/db', '--timeout', '30s');
    expect(st.code).toBe(0);
    expect(seen.filter((n) => n.length)).toEqual([
      ['db-0'],
      ['db-0', 'db-1'],
      ['db-0', 'db-1', 'db-2'],
      ['db-0', 'db-1', 'db-2', 'db-3'],
    ]);
    const claims = (await request('GET', '/api/v1/namespaces/default/persistentvolumeclaims')).body.items
      .map((c: any) => c.metadata.name)
      .sort();
    expect(claims).toEqual(['data-db-0', 'data-db-1', 'data-db-2', 'data-db-3']);
  }, 120_000);
});
