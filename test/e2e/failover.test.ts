/**
 * A control plane that survives losing a machine: three `berth server`s on a three-member etcd
 * (sharing one cluster CA, as kubeadm's control-plane nodes do), two agents that know all three,
 * the ingress on the agents. A rolling update runs under client load through the ingress; the
 * leader is SIGKILLed mid-rollout; a new leader is elected (the time is printed), the rollout
 * completes, no client request fails and no pod is duplicated or orphaned. Then the new leader
 * is stalled (SIGSTOP) for longer than its lease: another takes over, and the stalled one, resumed,
 * steps down without writing (its writes are fenced: see the leader-election integration test).
 */
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { TestRepo } from '../helpers/git.js';
import { freePort, testServiceCidr } from '../helpers/ports.js';
import { keepAliveGet } from '../helpers/http.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 4 });
const LEASE_SECONDS = 10;
const WEBHOOK_SECRET = 'failover-webhook-secret';

/** GET through a node's ingress (see keepAliveGet). */
const get = (address: string, port: number) =>
  keepAliveGet({ address, port, host: 'ha.example.com', path: '/', agent: keepAlive });

const app = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ha}
spec:
  replicas: 3
  selector: {matchLabels: {app: ha}}
  template:
    metadata: {labels: {app: ha}}
    spec:
      terminationGracePeriodSeconds: 5
      volumes: [{name: www, emptyDir: {}}]
      containers:
        - name: web
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo "ha ${version} $POD_NAME" > $BERTH_VOLUME_WWW/index.html; exec /bin/busybox httpd -f -p $PORT -h $BERTH_VOLUME_WWW']
          env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
          ports: [{name: http, containerPort: 8080}]
          volumeMounts: [{name: www, mountPath: /www}]
          readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: ha}
spec:
  selector: {app: ha}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ha}
spec:
  defaultBackend: {service: {name: ha, port: {number: 80}}}
`;

describe('several servers on etcd: leader election, failover, fencing', () => {
  let etcd: EtcdCluster;
  const servers: BerthServerProcess[] = [];
  const agents: AgentProcess[] = [];
  let ingressPort: number;
  beforeAll(async () => {
    buildOnce();
    etcd = await startEtcd(3);
    const cidr = testServiceCidr();
    const args = (name: string) => [
      '--store',
      etcd.url('ha'),
      '--server-name',
      name,
      '--service-cidr',
      cidr,
      '--leader-lease',
      `${LEASE_SECONDS}s`,
      '--log-level',
      'info',
    ];
    const env = { BERTH_WEBHOOK_SECRET: WEBHOOK_SECRET };
    servers.push(await startBerthServer({ env, args: args('s1') }));
    // The others get the first one's cluster CA before their first start (kubeadm copies it so too).
    for (const name of ['s2', 's3']) {
      const dir = mkdtempSync(path.join(tmpdir(), 'berth-proc-'));
      mkdirSync(path.join(dir, 'pki'), { mode: 0o700 });
      for (const f of ['ca.crt', 'ca.key'])
        copyFileSync(path.join(servers[0]!.dir, 'pki', f), path.join(dir, 'pki', f));
      servers.push(await startBerthServer({ env, dir, args: args(name) }));
    }
    const token = (await servers[0]!.cli('token', 'create', '--role', 'node')).out.trim();
    ingressPort = await freePort();
    const all = servers.map((s) => s.url).join(',');
    for (const [name, address] of [
      ['n1', '127.0.0.2'],
      ['n2', '127.0.0.3'],
    ] as const)
      agents.push(
        await startAgent(servers[0]!, {
          name,
          address,
          token,
          servers: all,
          args: ['--ingress', '--ingress-listen', `${address}:${ingressPort}`],
        }),
      );
  }, 180_000);
  afterAll(async () => {
    keepAlive.destroy();
    // A server a failed test left stopped is resumed, so that it can be stopped.
    for (const s of servers.filter((x) => !killed.has(x)))
      try {
        process.kill(s.pid, 'SIGCONT');
      } catch {
        // gone already
      }
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    await etcd?.stop();
  });

  const alive = () => servers.filter((s) => !killed.has(s));
  const killed = new Set<BerthServerProcess>();
  const request = (method: string, p: string, body?: unknown, via = alive()[0]!) =>
    api(via, method, p, { token: via.token, ...(body !== undefined ? { body } : {}) });
  /** Which servers say (berth_leader) they lead. */
  const leaders = async (among: BerthServerProcess[]) => {
    const out: BerthServerProcess[] = [];
    for (const s of among) {
      const metrics = await api(s, 'GET', '/metrics', { token: s.token }).catch(() => undefined);
      if (metrics && /^berth_leader\{server="[^"]+"\} 1$/m.test(metrics.text)) out.push(s);
    }
    return out;
  };
  const apply = async (via: BerthServerProcess, yaml: string) => {
    const file = path.join(via.dir, 'ha.yaml');
    writeFileSync(file, yaml);
    const r = await via.cli('apply', '-f', file);
    expect(r.code, r.err).toBe(0);
  };
  const pods = async () =>
    (await request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dha')).body.items as any[];

  it('a leader SIGKILLed mid-rollout: a new one within 15 s, the rollout completes, no request fails, no pod doubled or orphaned', async () => {
    const leader = await until('one leader', async () => {
      const l = await leaders(servers);
      return l.length === 1 && l[0];
    });
    const followers = servers.filter((s) => s !== leader);
    // Written through a follower: every server serves the API.
    await apply(followers[0]!, app('v1'));
    await until(
      '3 ready',
      async () =>
        (await pods()).filter(
          (p) =>
            !p.metadata.deletionTimestamp &&
            p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
        ).length === 3,
      90_000,
    );
    await until(
      'the ingress serving',
      async () => (await get('127.0.0.2', ingressPort).catch(() => undefined))?.status === 200,
      60_000,
    );

    const results: { status: number; body: string }[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop && i < 200_000; i++) {
        const address = i % 2 ? '127.0.0.3' : '127.0.0.2';
        results.push(await get(address, ingressPort).catch((e) => ({ status: 0, body: String(e) })));
      }
    })();
    await apply(followers[0]!, app('v2'));
    await until('the rollout under way', async () => {
      const d = (await request('GET', '/apis/apps/v1/namespaces/default/deployments/ha', undefined, followers[0])).body;
      return (d.status?.updatedReplicas ?? 0) >= 1;
    });
    const killedAt = Date.now();
    await leader.crash();
    killed.add(leader);
    const successor = await until(
      'a new leader',
      async () => {
        const l = await leaders(followers);
        return l.length === 1 && l[0];
      },
      30_000,
    );
    const takeover = (Date.now() - killedAt) / 1000;
    // berth status (through any server) names the new leader among the servers.
    const status = await followers.find((s) => s !== successor)!.cli('status', '-o', 'json');
    expect(status.code, status.err).toBe(0);
    const names = new Map(servers.map((s, i) => [s, `s${i + 1}`]));
    expect(JSON.parse(status.out)).toMatchObject({
      leader: names.get(successor),
      servers: expect.arrayContaining([
        { name: names.get(successor), role: 'leader', lastHeartbeat: expect.any(String) },
      ]),
      nodes: { ready: 2, notReady: 0 },
    });
    console.log(`failover: a new leader ${takeover.toFixed(1)} s after SIGKILL (lease ${LEASE_SECONDS} s)`);
    expect(takeover).toBeLessThanOrEqual(15);
    await until(
      'the rollout complete, every answer v2',
      async () => {
        const d = (await request('GET', '/apis/apps/v1/namespaces/default/deployments/ha')).body;
        const done = d.status?.updatedReplicas === 3 && d.status?.replicas === 3 && d.status?.availableReplicas === 3;
        return done && results.length > 20 && results.slice(-20).every((r) => r.body.startsWith('ha v2'));
      },
      120_000,
    );
    stop = true;
    await load;
    const failed = results.filter((r) => r.status !== 200);
    console.log(`failover: ${results.length} requests through the ingress during the rollout, ${failed.length} failed`);
    expect(failed.slice(0, 5)).toEqual([]);
    // Exactly the Deployment's pods: 3, each owned by a ReplicaSet that exists.
    const replicaSets = new Set(
      (await request('GET', '/apis/apps/v1/namespaces/default/replicasets')).body.items.map((r: any) => r.metadata.uid),
    );
    await until('the old pods gone', async () => (await pods()).length === 3, 60_000);
    const left = await pods();
    expect(left.map((p) => p.metadata.ownerReferences?.[0]?.uid).every((uid: string) => replicaSets.has(uid))).toBe(
      true,
    );
    expect(new Set(left.map((p) => p.metadata.name)).size).toBe(3);
    expect(successor).not.toBe(leader);
  }, 300_000);

  it('a push webhook received by a follower reaches the leader: the app syncs the pushed commit at once', async () => {
    const leader = await until('one leader', async () => {
      const l = await leaders(alive());
      return l.length === 1 && l[0];
    });
    const follower = alive().find((s) => s !== leader)!;
    const repo = new TestRepo('hooked');
    try {
      const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hook}\ndata: {value: "${v}"}\n`;
      repo.write({ 'app/hook.yaml': cm('1') });
      repo.commit('first');
      const app = {
        apiVersion: 'berth.dev/v1',
        kind: 'Application',
        metadata: { name: 'hooked' },
        spec: {
          source: { repoURL: repo.bare, targetRevision: 'main', path: 'app' },
          syncPolicy: { automated: { prune: true } },
          pollInterval: '1h',
        },
      };
      expect((await request('POST', '/apis/berth.dev/v1/namespaces/default/applications', app)).status).toBe(201);
      const value = async () =>
        (await request('GET', '/api/v1/namespaces/default/configmaps/hook')).body?.data?.value as string | undefined;
      await until('the first commit synced', async () => (await value()) === '1', 30_000);
      repo.write({ 'app/hook.yaml': cm('2') });
      repo.commit('second');
      const body = JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: repo.bare } });
      const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;
      const sent = Date.now();
      const answer = await api(follower, 'POST', '/api/v1/webhooks/git', {
        rawBody: body,
        headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': signature },
      });
      expect(answer.status).toBe(202);
      expect(answer.body.message).toBe('1 application refreshed');
      // An hour's poll: only the webhook, passed on through the store, brings the commit this soon.
      await until('the pushed commit synced', async () => (await value()) === '2', 15_000);
      console.log(`failover: a webhook at a follower synced the push in ${((Date.now() - sent) / 1000).toFixed(1)} s`);
    } finally {
      repo.remove();
    }
  }, 60_000);

  it('a leader stalled past its lease (SIGSTOP) is replaced; resumed, it steps down without writing', async () => {
    const leader = await until('one leader', async () => {
      const l = await leaders(alive());
      return l.length === 1 && l[0];
    });
    const others = alive().filter((s) => s !== leader);
    process.kill(leader.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    const successor = await until(
      'another leader',
      async () => {
        const l = await leaders(others);
        return l.length === 1 && l[0];
      },
      30_000,
    );
    console.log(`fencing: another leader ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after SIGSTOP`);
    // Stalled for longer than its lease in all.
    await new Promise((r) => setTimeout(r, Math.max(0, LEASE_SECONDS * 1000 + 2000 - (Date.now() - stoppedAt))));
    process.kill(leader.pid, 'SIGCONT');
    await until('the old leader steps down', async () => /no longer the leader/.test(leader.logs()), 30_000);
    const refused = leader.logs().match(/its election key is gone or another\): the write was refused/g)?.length ?? 0;
    console.log(`fencing: the resumed leader stepped down; ${refused} of its writes were refused by the fence`);
    // One leader, not the resumed one (under load the lease may have moved on again meanwhile, to the
    // successor or the third server: what matters is that the stalled one does not lead).
    const now = await until('one leader, not the resumed one', async () => {
      const l = await leaders(alive());
      return l.length === 1 && l[0] !== leader && l[0];
    });
    expect([successor, ...others]).toContain(now);
    // The cluster is as it was: still 3 pods of the Deployment, all Ready.
    await until('3 pods', async () => (await pods()).length === 3, 30_000);
  }, 120_000);
});
