/**
 * `berth server` SIGKILLed in the middle of a rolling update, then started again on the same data
 * directory and address: the agents carry on, the rollout finishes, and there is exactly one pod
 * per replica — no duplicate, no orphan pod object, no process without a pod.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const REPLICAS = 6;
const deployment = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${REPLICAS}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo ${version} > index.html; exec /bin/busybox httpd -f -p $PORT']
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
`;

describe('server SIGKILLed mid-rollout', () => {
  let server: BerthServerProcess | undefined;
  const agents: AgentProcess[] = [];
  beforeAll(() => buildOnce(), 120_000);
  afterAll(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await server?.stop();
  });

  it('resumes after a restart: the rollout completes with one pod per replica and nothing orphaned', async () => {
    const listen = `127.0.0.1:${await freePort()}`;
    server = await startBerthServer({ args: ['--log-level', 'warn', '--listen', listen] });
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    agents.push(
      await startAgent(server, { name: 'n1', address: '127.0.0.6', token }),
      await startAgent(server, { name: 'n2', address: '127.0.0.7', token }),
    );
    const apply = async (yaml: string) => {
      const file = path.join(server!.dir, 'web.yaml');
      writeFileSync(file, yaml);
      const r = await server!.cli('apply', '-f', file);
      expect(r.code, r.err).toBe(0);
    };
    const request = (method: string, p: string) => api(server!, method, p, { token: server!.token });
    const deploymentStatus = async () =>
      (await request('GET', '/apis/apps/v1/namespaces/default/deployments/web')).body.status ?? {};
    await apply(deployment('v1'));
    await until('v1 available', async () => (await deploymentStatus()).availableReplicas === REPLICAS, 90_000);

    await apply(deployment('v2'));
    await until('the rollout under way', async () => ((await deploymentStatus()).updatedReplicas ?? 0) >= 2, 60_000);
    await server.crash();
    server = await startBerthServer({ dir: server.dir, args: ['--log-level', 'warn', '--listen', listen] });

    const done = await until(
      'the rollout finished after the restart',
      async () => {
        const s = await deploymentStatus();
        return s.updatedReplicas === REPLICAS && s.replicas === REPLICAS && s.availableReplicas === REPLICAS && s;
      },
      120_000,
    );
    expect(done.unavailableReplicas ?? 0).toBe(0);
    // Terminating pods finish; then exactly one pod per replica, each owned, each running once.
    const pods = await until(
      `${REPLICAS} pods, none terminating`,
      async () => {
        const items = (await request('GET', '/api/v1/namespaces/default/pods')).body.items as any[];
        return items.length === REPLICAS && items.every((p) => !p.metadata.deletionTimestamp) && items;
      },
      60_000,
    );
    const replicaSets = (await request('GET', '/apis/apps/v1/namespaces/default/replicasets')).body.items as any[];
    const current = replicaSets.find((rs) => rs.spec.replicas === REPLICAS)!;
    expect(pods.every((p) => p.metadata.ownerReferences?.[0]?.uid === current.metadata.uid)).toBe(true);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(REPLICAS);
    await until(
      'one process per pod on the nodes',
      async () => agents.reduce((n, a) => n + readdirSync(path.join(a.dir, 'process')).length, 0) === REPLICAS,
      30_000,
    );
  }, 360_000);
});
