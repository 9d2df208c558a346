/**
 * Services by name on the process runtime, two nodes (issue 19): a `berth server` with a loopback
 * service range (ClusterIPs in 127.0.0.0/8: only loopback traffic) and two agents as root, each
 * serving cluster DNS on its address:53 and running pods in mount namespaces of their own with the
 * kubelet's resolv.conf. Pods use busybox's own nslookup and wget; nothing here is stubbed.
 */
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podFilesUnavailable } from '../../src/agent/process/runtime.js';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { testServiceCidr } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { parseAllDocuments, stringify } from 'yaml';
import { SHARED } from '../shared.js';
import { headlessPeers, pinned, podClient, servicesApp, type AppRuntime } from '../helpers/services-app.js';

const NODES = [
  { name: 'dns-a', address: '127.0.0.51' },
  { name: 'dns-b', address: '127.0.0.52' },
];
const RUNTIME: AppRuntime = {
  image: 'busybox',
  nodes: ['dns-a', 'dns-b'],
  idle: "[/bin/busybox, sleep, '3600']",
  // The process runtime gives each container its port in $PORT (the container port when free).
  serve: (body) => `[/bin/busybox, sh, -c, 'echo ${body} > index.html; exec busybox httpd -f -p $PORT -h .']`,
};
// A process pod's `ready` is in its own work directory (/tmp is the machine's, shared by both).
const MANIFESTS = `${servicesApp(RUNTIME)}---
${headlessPeers(RUNTIME, 'ready')}---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 53, targetPort: 9053, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  ${pinned('dns-a')}
  terminationGracePeriodSeconds: 1
  containers:
    - name: echo
      image: node
      command: [node, -e, "const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('echo:' + m, r.port, r.address)); s.bind(Number(process.env.PORT))"]
      ports: [{containerPort: 9053, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: api.default.svc.cluster.local
`;

describe.skipIf(podFilesUnavailable() !== undefined)('cluster DNS and ClusterIPs, process runtime, two nodes', () => {
  let server: BerthServerProcess;
  const agents: AgentProcess[] = [];
  let home: string;
  const berth = (...args: string[]) => server.cli(...args);
  const { inPod, httpGet, get, ready } = podClient(berth);

  beforeAll(async () => {
    buildOnce();
    home = mkdtempSync(path.join(tmpdir(), 'berth-dns-'));
    server = await startBerthServer({ args: ['--log-level', 'warn', '--service-cidr', testServiceCidr()] });
    for (const n of NODES) agents.push(await startAgent(server, n));
    writeFileSync(path.join(home, 'app.yaml'), MANIFESTS);
    const applied = await berth('apply', '-f', path.join(home, 'app.yaml'));
    expect(applied.code, applied.err).toBe(0);
    await until(
      'api, front, db-0, db-1 and echo ready',
      () => ready(['front', 'db-0', 'db-1', 'echo'], ['api']),
      90_000,
    );
  }, 150_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('gives Services ClusterIPs that kubectl-style listings show', async () => {
    const api = await get('service', 'api');
    expect(api.spec.clusterIP).toMatch(/^127\./);
    expect(api.spec).toMatchObject({
      clusterIPs: [api.spec.clusterIP],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
    });
    expect((await get('service', 'db')).spec.clusterIP).toBe('None');
    const table = await berth('get', 'services');
    expect(table.out).toMatch(new RegExp(`api\\s+ClusterIP\\s+${api.spec.clusterIP.replace(/\./g, '\\.')}`));
  });

  it('a pod on node B reaches a Service whose only pod is on node A: by short name, namespace, FQDN and ClusterIP', async () => {
    const ip = (await get('service', 'api')).spec.clusterIP;
    for (const host of ['api', 'api.default', 'api.default.svc.cluster.local', ip]) {
      const r = await httpGet('front', host);
      expect(r, host).toMatchObject({ code: 0, out: 'api\n' });
    }
  });

  it("writes the kubelet's resolv.conf and hosts into the pod", async () => {
    const r = await inPod('front', 'cat /etc/resolv.conf; cat /etc/hosts');
    expect(r.out).toContain('search default.svc.cluster.local svc.cluster.local cluster.local');
    expect(r.out).toContain('nameserver 127.0.0.52');
    expect(r.out).toContain('options ndots:5');
    expect(r.out).toContain('127.0.0.52\tfront');
  });

  it("answers nslookup in Kubernetes' shape", async () => {
    const ip = (await get('service', 'api')).spec.clusterIP;
    const r = await inPod('front', 'nslookup api.default.svc.cluster.local');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/Server:\s+127\.0\.0\.52/);
    expect(r.out).toMatch(
      new RegExp(`Name:\\s+api\\.default\\.svc\\.cluster\\.local\\s+Address:?\\s*(1: )?${ip.replace(/\./g, '\\.')}`),
    );
    const missing = await inPod('front', 'nslookup nothing.default.svc.cluster.local');
    expect(missing.code).not.toBe(0);
    expect(missing.out + missing.err).toMatch(/NXDOMAIN|can't find/);
  });

  it("a StatefulSet's pods reach each other as db-0.db", async () => {
    const db0 = await get('pod', 'db-0');
    const port = db0.status.hostPorts.find((p: any) => p.containerPort === 7000).hostPort;
    expect(await httpGet('db-1', 'db-0.db', port)).toMatchObject({ code: 0, out: 'db-0\n' });
    // busybox's nslookup applies the search path only to names without a dot (glibc, above, by ndots).
    const names = await inPod('db-0', 'nslookup db-1.db.default.svc.cluster.local');
    expect(names.out).toContain(`Address: ${(await get('pod', 'db-1')).status.hostIP}`);
  });

  it('resolves a headless Service to its ready pods only, following readiness within a probe period', async () => {
    const resolver = new Resolver();
    resolver.setServers(['127.0.0.51']);
    const peers = () => resolver.resolve4('peers.default.svc.cluster.local').catch(() => [] as string[]);
    expect(await peers()).toEqual([]);
    expect((await inPod('peer-1', 'touch ready')).code).toBe(0);
    const readyAt = Date.now();
    await until('peer-1 in DNS', async () => (await peers()).join() === '127.0.0.52', 5_000);
    // The probe's period (1 s), then the Endpoints and the DNS index follow by watch.
    expect(Date.now() - readyAt).toBeLessThan(2_500);
    expect((await inPod('peer-0', 'touch ready')).code).toBe(0);
    await until('both peers in DNS', async () => (await peers()).sort().join() === '127.0.0.51,127.0.0.52', 5_000);
    expect((await inPod('peer-1', 'rm ready')).code).toBe(0);
    await until('peer-1 gone from DNS', async () => (await peers()).join() === '127.0.0.51', 5_000);
  }, 30_000);

  it('carries UDP through a ClusterIP', async () => {
    const ip = (await get('service', 'echo')).spec.clusterIP;
    const socket = createSocket('udp4');
    try {
      const reply = await until(
        'an echo',
        () =>
          new Promise<string | undefined>((resolve) => {
            const timer = setTimeout(() => resolve(undefined), 500);
            socket.once('message', (m) => {
              clearTimeout(timer);
              resolve(m.toString());
            });
            socket.send('ping', 53, ip);
          }),
        10_000,
      );
      expect(reply).toBe('echo:ping');
    } finally {
      socket.close();
    }
  });

  it('answers an ExternalName Service with its CNAME, and a pod follows it', async () => {
    const r = await inPod('front', 'nslookup ext');
    expect(r.out).toMatch(/ext\.default\.svc\.cluster\.local\s+canonical name = api\.default\.svc\.cluster\.local/);
    expect(await httpGet('front', 'ext')).toMatchObject({ code: 0, out: 'api\n' });
  });

  it("runs the voting app's manifests (shared/corpus) with every hop by Service name", async () => {
    const dir = path.join(SHARED, 'corpus', 'example-voting-app', 'k8s-specifications');
    const objects: any[] = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) =>
        parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))
          .map((d) => d.toJS())
          .filter(Boolean),
      );
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/db',
      'Deployment/redis',
      'Deployment/result',
      'Deployment/vote',
      'Deployment/worker',
      'Service/db',
      'Service/redis',
      'Service/result',
      'Service/vote',
    ]);
    // Only the images change: each becomes busybox running the same part by the same hostnames
    // and ports (redis:6379 a queue, db:5432 a table, vote and result on :80), scripts from a ConfigMap.
    for (const o of objects) {
      o.metadata.namespace = 'voting';
      if (o.kind !== 'Deployment') continue;
      const c = o.spec.template.spec.containers[0];
      c.image = 'busybox';
      c.command = VOTING_COMMANDS[o.metadata.name];
      c.volumeMounts = [...(c.volumeMounts ?? []), { name: 'scripts', mountPath: '/scripts' }];
      o.spec.template.spec.volumes = [
        ...(o.spec.template.spec.volumes ?? []),
        { name: 'scripts', configMap: { name: 'voting-scripts', defaultMode: 0o755 } },
      ];
      o.spec.template.spec.terminationGracePeriodSeconds = 1;
    }
    const file = path.join(home, 'voting.yaml');
    writeFileSync(
      file,
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'voting' } },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'voting-scripts', namespace: 'voting' },
          data: VOTING_SCRIPTS,
        },
        ...objects,
      ]
        .map((o) => stringify(o))
        .join('---\n'),
    );
    const applied = await berth('apply', '-f', file);
    expect(applied.code, applied.err).toBe(0);
    // Each request bounded: one that hangs (a CGI waiting on a lookup under load) is asked again.
    const vote = (choice: string) =>
      fetch(`http://${NODES[0]!.address}:31000/cgi-bin/vote.cgi?vote=${choice}`, {
        signal: AbortSignal.timeout(10_000),
      })
        .then((r) => r.text())
        .catch(() => '');
    await until('the vote app takes a vote', async () => (await vote('a')) === 'voted a\n', 60_000);
    await until('a vote for b taken', async () => (await vote('b')) === 'voted b\n', 30_000);
    await until('a second vote for a taken', async () => (await vote('a')) === 'voted a\n', 30_000);
    // vote → redis → worker → db → result, read through the other node's NodePort.
    const result = () =>
      fetch(`http://${NODES[1]!.address}:31001/cgi-bin/result.cgi`, { signal: AbortSignal.timeout(10_000) })
        .then((r) => r.text())
        .catch(() => '');
    // Counts as `uniq -c` prints them. At least the votes taken: one whose answer came too late for
    // the client (and was asked again) may count as well.
    const counts = async () =>
      Object.fromEntries(
        (await result())
          .trim()
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .map(([n, v]) => [v, Number(n)]),
      );
    await until(
      'the result shows the votes',
      async () => {
        const c = await counts();
        return c.a >= 2 && c.b >= 1;
      },
      30_000,
    );
  }, 120_000);
});

/** What each part of the voting app runs instead of its image: busybox's httpd with CGI scripts, nc as the client. */
const serve = (cgi: string) => [
  '/bin/busybox',
  'sh',
  '-c',
  `mkdir -p cgi-bin && cp $BERTH_VOLUME_SCRIPTS/${cgi} cgi-bin/ && exec busybox httpd -f -p $PORT -h .`,
];
const VOTING_COMMANDS: Record<string, string[]> = {
  redis: serve('push.cgi $BERTH_VOLUME_SCRIPTS/pop.cgi'),
  db: serve('add.cgi $BERTH_VOLUME_SCRIPTS/list.cgi'),
  vote: serve('vote.cgi'),
  result: serve('result.cgi'),
  worker: ['/bin/busybox', 'sh', '-c', 'exec busybox sh $BERTH_VOLUME_SCRIPTS/worker.sh'],
};
/** An HTTP GET by nc (busybox-static's wget crashes here), printing the body. */
const GET = (hostPort: string, pathAndQuery: string) =>
  `printf 'GET %s HTTP/1.0\\r\\n\\r\\n' "${pathAndQuery}" | busybox nc -w 3 ${hostPort} | sed '1,/^\\r$/d'`;
const CGI = (body: string) =>
  `#!/bin/busybox sh\ncd "$(dirname "$0")/.."\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${body}\n`;
const VOTING_SCRIPTS: Record<string, string> = {
  'push.cgi': CGI('echo "${QUERY_STRING#vote=}" >> queue\necho OK'),
  'pop.cgi': CGI('if mv queue queue.$$ 2>/dev/null; then cat queue.$$; rm queue.$$; fi'),
  'add.cgi': CGI('echo "${QUERY_STRING#vote=}" >> votes\necho OK'),
  'list.cgi': CGI('cat votes 2>/dev/null'),
  // A vote counts once the queue has taken it (the test votes again until then).
  'vote.cgi': CGI(
    `v="\${QUERY_STRING#vote=}"\nif ${GET('redis 6379', '/cgi-bin/push.cgi?vote=$v')} | grep -q OK; then echo "voted $v"; else echo "not taken"; fi`,
  ),
  'result.cgi': CGI(`${GET('db 5432', '/cgi-bin/list.cgi')} | sort | uniq -c | sort -rn`),
  // A vote taken from the queue is written until the table has taken it.
  'worker.sh': `while :; do\n  ${GET('redis 6379', '/cgi-bin/pop.cgi')} | while read -r v; do\n    [ -n "$v" ] || continue\n    until ${GET('db 5432', '/cgi-bin/add.cgi?vote=$v')} | grep -q OK; do sleep 0.3; done\n  done\n  sleep 0.3\ndone\n`,
};
