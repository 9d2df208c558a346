/**
 * Services by name on the Docker runtime, two nodes (issue 19): two test hosts in network
 * namespaces of the test's own (10.77.0.1 and 10.77.0.2 on a veth pair), each with its own dockerd
 * and a `berth agent --runtime docker`; the server on the first. The service range is Kubernetes'
 * default 10.96.0.0/12: each agent holds the ClusterIPs on its namespace's `lo`, as it would on a
 * real node. Every request is made from pods (`berth exec`, itself run inside the first host), so
 * no traffic leaves the test's namespaces. Pods run the agents' own busybox image.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_IMAGE } from '../../src/agent/docker/sandbox.js';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { createTestNetwork, testNetworkUnavailable, type TestNetwork } from '../helpers/netns.js';
import { until } from '../helpers/wait.js';
import { headlessPeers, podClient, servicesApp, type AppRuntime } from '../helpers/services-app.js';

const RUNTIME: AppRuntime = {
  image: DEFAULT_SANDBOX_IMAGE,
  nodes: ['node-a', 'node-b'],
  idle: "[sleep, '3600']",
  serve: (body, port) =>
    `[sh, -c, 'mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p ${port} -h /www']`,
};
const MANIFESTS = `${servicesApp(RUNTIME)}---
${headlessPeers(RUNTIME, '/tmp/ready')}---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: api.default.svc.cluster.local
---
# Kubernetes' own use of a UDP ClusterIP: the cluster DNS behind 10.96.0.10 (here, node A's).
apiVersion: v1
kind: Service
metadata: {name: kube-dns}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: kube-dns}
subsets: [{addresses: [{ip: 10.77.0.1}], ports: [{name: dns, port: 53, protocol: UDP}]}]
`;

describe.skipIf(testNetworkUnavailable() !== undefined)(
  'cluster DNS and ClusterIPs, Docker runtime, two nodes in network namespaces',
  () => {
    let network: TestNetwork;
    let server: BerthServerProcess;
    const agents: AgentProcess[] = [];
    let home: string;
    const berth = (...args: string[]) => server.cli(...args);
    const { inPod, httpGet, get, ready } = podClient(berth);

    beforeAll(async () => {
      buildOnce();
      home = mkdtempSync(path.join(tmpdir(), 'berth-dns-docker-'));
      network = createTestNetwork(path.join(home, 'hosts'));
      await network.startDocker();
      const [a, b] = network.hosts;
      server = await startBerthServer({
        netns: a!.ns,
        args: [
          '--log-level',
          'warn',
          '--listen',
          `${a!.address}:0`,
          '--tls-san',
          a!.address,
          '--service-cidr',
          '10.96.0.0/12',
        ],
      });
      for (const [name, host] of [
        ['node-a', a!],
        ['node-b', b!],
      ] as const) {
        agents.push(
          await startAgent(server, {
            name,
            address: host.address,
            runtime: 'docker',
            netns: host.ns,
            env: { DOCKER_HOST: host.dockerHost! },
          }),
        );
      }
      writeFileSync(path.join(home, 'app.yaml'), MANIFESTS);
      const applied = await berth('apply', '-f', path.join(home, 'app.yaml'));
      expect(applied.code, applied.err).toBe(0);
      await until('api, front, db-0 and db-1 ready', () => ready(['front', 'db-0', 'db-1'], ['api']), 120_000);
    }, 240_000);

    afterAll(async () => {
      for (const a of agents) await a.stop();
      await server?.stop();
      await network?.remove();
      rmSync(home, { recursive: true, force: true });
    }, 120_000);

    it('a pod on node B reaches a Service whose only pod is on node A: by short name, namespace, FQDN and ClusterIP', async () => {
      const ip = (await get('service', 'api')).spec.clusterIP;
      expect(ip).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
      for (const host of ['api', 'api.default', 'api.default.svc.cluster.local', ip]) {
        expect(await httpGet('front', host), host).toMatchObject({ code: 0, out: 'api\n' });
      }
    });

    it("gives the container Kubernetes' resolv.conf, and nslookup answers in its shape", async () => {
      const conf = await inPod('front', 'cat /etc/resolv.conf');
      expect(conf.out).toMatch(/nameserver 10\.77\.0\.2/);
      expect(conf.out).toMatch(/search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
      expect(conf.out).toMatch(/options ndots:5/);
      const ip = (await get('service', 'api')).spec.clusterIP;
      const r = await inPod('front', 'nslookup api.default.svc.cluster.local');
      expect(r.out).toMatch(/Server:\s+10\.77\.0\.2/);
      expect(r.out).toMatch(
        new RegExp(`Name:\\s+api\\.default\\.svc\\.cluster\\.local\\s+Address:?\\s*${ip.replace(/\./g, '\\.')}`),
      );
    });

    it("a StatefulSet's pods reach each other as db-0.db", async () => {
      const db0 = await get('pod', 'db-0');
      const port = db0.status.hostPorts.find((p: any) => p.containerPort === 7000).hostPort;
      expect(await httpGet('db-1', 'db-0.db', port)).toMatchObject({ code: 0, out: 'db-0\n' });
    });

    it("carries UDP through a ClusterIP: node A's DNS behind kube-dns at 10.96.0.10, asked from node B", async () => {
      const ip = (await get('service', 'api')).spec.clusterIP;
      const r = await inPod('front', 'nslookup api.default.svc.cluster.local 10.96.0.10');
      expect(r.out).toMatch(/Server:\s+10\.96\.0\.10/);
      expect(r.out).toContain(ip);
    });

    it('resolves a headless Service to its ready pods only, and an ExternalName to its target', async () => {
      const peers = async () =>
        [
          ...(await inPod('front', 'nslookup peers.default.svc.cluster.local')).out.matchAll(
            /Address: (10\.77\.0\.\d)/g,
          ),
        ]
          .map((m) => m[1])
          .sort()
          .join();
      expect(await peers()).toBe('');
      await until(
        'peer-1 running (exec works)',
        async () => (await inPod('peer-1', 'touch /tmp/ready')).code === 0,
        30_000,
      );
      await until('peer-1 (node B) in DNS', async () => (await peers()) === '10.77.0.2', 10_000);
      await until(
        'peer-0 running (exec works)',
        async () => (await inPod('peer-0', 'touch /tmp/ready')).code === 0,
        30_000,
      );
      await until('both peers in DNS', async () => (await peers()) === '10.77.0.1,10.77.0.2', 10_000);
      expect(await httpGet('front', 'ext')).toMatchObject({ code: 0, out: 'api\n' });
    }, 90_000);
  },
);
