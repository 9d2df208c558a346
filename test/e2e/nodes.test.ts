/**
 * Nodes end to end: a real `berth server` and `berth simulate nodes` processes joining with a
 * node join token. A killed node goes NotReady, its Deployment pods come back on the others, its
 * StatefulSet pod is not doubled, and when it returns its replaced pods are removed; cordon,
 * drain and uncordon; what a node token may and may not do.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSimulatedNodes } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

describe('nodes and scheduling', () => {
  let server: BerthServerProcess | undefined;
  const simulators = new Map<string, ChildProcess>();
  beforeAll(() => buildOnce(), 120_000);
  afterEach(async () => {
    for (const child of simulators.values())
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(
      [...simulators.values()].map((c) =>
        c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined,
      ),
    );
    simulators.clear();
    await server?.stop();
    server = undefined;
  });

  const request = (method: string, p: string, body?: unknown, token = server!.token) =>
    api(server!, method, p, { token, ...(body !== undefined ? { body } : {}) });
  const pods = async (): Promise<any[]> => (await request('GET', '/api/v1/pods')).body.items;
  const nodes = async (): Promise<any[]> => (await request('GET', '/api/v1/nodes')).body.items;
  const ready = (o: any) => o.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
  const simulate = (prefix: string, token: string) => {
    const child = spawnSimulatedNodes(server!, token, { count: 1, prefix, cpu: '2', memory: '4Gi', stderr: 'pipe' });
    child.stderr!.on('data', (d) => process.env.SIM_LOG && appendFileSync(process.env.SIM_LOG, `[${prefix}] ${d}`));
    simulators.set(prefix, child);
    return child;
  };
  const joinToken = async () => {
    const created = await server!.cli('token', 'create', '--role', 'node');
    expect(created.code).toBe(0);
    return created.out.trim();
  };
  const apply = async (name: string, yaml: string) => {
    const file = path.join(server!.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    expect((await server!.cli('apply', '-f', file)).code).toBe(0);
  };
  const web = (replicas: number) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: ${replicas}\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: main\n          image: web:1\n          resources: {requests: {cpu: 100m, memory: 64Mi}}\n`;
  const running = (p: any) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && p.spec.nodeName;

  it('a lost node: NotReady, its Deployment pods recreated elsewhere within 15 s, its StatefulSet pod not doubled; back again: replaced pods removed', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    const token = await joinToken();
    expect(token).toMatch(/^B10[0-9a-f]{64}::/);
    for (const prefix of ['a', 'b', 'c']) simulate(prefix, token);
    await until('3 ready nodes', async () => (await nodes()).filter((n) => ready(n) === 'True').length === 3);
    const node = (await nodes()).find((n) => n.metadata.name === 'a-0');
    expect(node.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': 'a-0',
      'kubernetes.io/os': 'linux',
      'berth.dev/simulated': 'true',
    });
    expect(node.status.capacity).toMatchObject({ cpu: '2', memory: '4Gi', pods: '110' });

    await apply('web', web(6));
    await apply(
      'db',
      `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  replicas: 1\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: main, image: db:1}]\n`,
    );
    await until('7 running pods', async () => (await pods()).filter(running).length === 7);
    const webNodes = (await pods()).filter((p) => p.metadata.labels?.app === 'web').map((p) => p.spec.nodeName);
    expect(new Set(webNodes).size).toBe(3); // spread over the nodes

    const lost = (await pods()).find((p) => p.metadata.name === 'db-0').spec.nodeName as string;
    simulators.get(lost.slice(0, 1))!.kill('SIGKILL');
    const killedAt = Date.now();
    await until(
      'NotReady',
      async () => {
        const n = (await nodes()).find((x) => x.metadata.name === lost);
        return (
          ready(n) === 'Unknown' &&
          n.spec.taints?.some((t: any) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute')
        );
      },
      15_000,
    );
    expect(Date.now() - killedAt).toBeLessThan(13_000);
    await until(
      'web pods back on the other nodes',
      async () => {
        const ws = (await pods()).filter((p) => p.metadata.labels?.app === 'web' && running(p));
        return ws.length === 6 && ws.every((p) => p.spec.nodeName !== lost);
      },
      15_000 - (Date.now() - killedAt),
    );
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    const dbs = (await pods()).filter((p) => p.metadata.labels?.app === 'db');
    expect(dbs).toHaveLength(1);
    expect(dbs[0]).toMatchObject({ metadata: { name: 'db-0' }, spec: { nodeName: lost } });
    expect(dbs[0].metadata.deletionTimestamp).toBeDefined();

    simulate(lost.slice(0, 1), token);
    await until('back: Ready, untainted, replaced pods gone', async () => {
      const n = (await nodes()).find((x) => x.metadata.name === lost);
      const left = (await pods()).filter((p) => p.spec.nodeName === lost && p.metadata.deletionTimestamp);
      return (
        ready(n) === 'True' &&
        !n.spec.taints?.some((t: any) => t.key === 'node.kubernetes.io/unreachable') &&
        left.length === 0
      );
    });
    await until('db-0 running again, once', async () => {
      const dbNow = (await pods()).filter((p) => p.metadata.labels?.app === 'db');
      return dbNow.length === 1 && running(dbNow[0]);
    });
  }, 120_000);

  it('cordon keeps new pods off, drain moves them (DaemonSet pods stay), uncordon; unschedulable pods say why', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    const token = await joinToken();
    for (const prefix of ['a', 'b']) simulate(prefix, token);
    await until('2 ready nodes', async () => (await nodes()).filter((n) => ready(n) === 'True').length === 2);
    await apply(
      'ds',
      `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: main, image: agent:1}]\n`,
    );
    await apply('web', web(4));
    await until('6 running', async () => (await pods()).filter(running).length === 6);

    expect(await server.cli('cordon', 'b-0')).toMatchObject({ code: 0, out: 'node/b-0 cordoned\n' });
    expect((await server.cli('drain', 'b-0')).code).toBe(1); // DaemonSet pods need --ignore-daemonsets
    const drained = await server.cli('drain', 'b-0', '--ignore-daemonsets', '--timeout', '30s');
    expect(drained.code).toBe(0);
    expect(drained.out).toMatch(/node\/b-0 drained\n$/);
    await until('web all on a-0', async () => {
      const ws = (await pods()).filter((p) => p.metadata.labels?.app === 'web');
      return ws.length === 4 && ws.every((p) => running(p) && p.spec.nodeName === 'a-0');
    });
    expect(
      (await pods())
        .filter((p) => p.metadata.labels?.app === 'agent')
        .map((p) => p.spec.nodeName)
        .sort(),
    ).toEqual(['a-0', 'b-0']);

    // Too big for any node: Unschedulable, with the scheduler's reasons.
    await apply(
      'big',
      `apiVersion: v1\nkind: Pod\nmetadata: {name: big}\nspec:\n  containers:\n    - name: main\n      image: big\n      resources: {requests: {cpu: "3"}}\n`,
    );
    const big = await until('unschedulable', async () => {
      const p = (await pods()).find((x) => x.metadata.name === 'big');
      return p?.status?.conditions?.find((c: any) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(big).toMatchObject({
      reason: 'Unschedulable',
      message: '0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.',
    });

    expect(await server.cli('uncordon', 'b-0')).toMatchObject({ code: 0, out: 'node/b-0 uncordoned\n' });
    await apply('web', web(8));
    await until('new pods on b-0 again', async () =>
      (await pods()).some((p) => p.metadata.labels?.app === 'web' && running(p) && p.spec.nodeName === 'b-0'),
    );

    expect((await server.cli('taint', 'a-0', 'dedicated=db:NoSchedule')).out).toBe('node/a-0 tainted\n');
    expect((await server.cli('label', 'a-0', 'disk=ssd')).out).toBe('node/a-0 labeled\n');
    const a = (await nodes()).find((n) => n.metadata.name === 'a-0');
    expect(a.metadata.labels.disk).toBe('ssd');
    expect(a.spec.taints).toContainEqual({ key: 'dedicated', value: 'db', effect: 'NoSchedule' });
    expect((await server.cli('taint', 'a-0', 'dedicated:NoSchedule-')).out).toBe('node/a-0 untainted\n');
  }, 120_000);

  it("a node token may update only its own Node and lease and read only its pods' Secrets; a revoked join token registers nothing", async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    const join = (await joinToken()).split('::')[1]!;
    const node = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      status: { capacity: { cpu: '1', memory: '1Gi', pods: '10' } },
    });
    const registered = await api(server, 'POST', '/api/v1/nodes', { token: join, body: node('n1') });
    expect(registered.status).toBe(201);
    const nodeToken = registered.headers['x-berth-node-token'] as string;
    expect(nodeToken).toMatch(/\./);
    // A second agent claiming a live node's name is refused.
    expect((await api(server, 'POST', '/api/v1/nodes', { token: join, body: node('n1') })).status).toBe(409);
    await request('POST', '/api/v1/nodes', node('n2'));
    expect(
      (await request('PUT', '/api/v1/nodes/n1/heartbeat', { spec: { leaseDurationSeconds: 10 } }, nodeToken)).status,
    ).toBe(200);
    expect((await request('PUT', '/api/v1/nodes/n2/heartbeat', {}, nodeToken)).status).toBe(403);
    expect((await request('PATCH', '/api/v1/nodes/n2', { metadata: { labels: { x: 'y' } } }, nodeToken)).status).toBe(
      403,
    );
    await request('POST', '/api/v1/namespaces/default/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'other' },
      stringData: { a: 'b' },
    });
    expect((await request('GET', '/api/v1/namespaces/default/secrets/other', undefined, nodeToken)).status).toBe(403);

    const id = join.split('.')[0]!;
    expect((await server.cli('token', 'revoke', id)).code).toBe(0);
    await new Promise((r) => setTimeout(r, 5500)); // validated tokens are cached for 5 s
    const refused = await api(server, 'POST', '/api/v1/nodes', { token: join, body: node('n3') });
    expect(refused.status).toBe(401);
    expect((await nodes()).map((n) => n.metadata.name).sort()).toEqual(['n1', 'n2']);
  }, 60_000);
});
