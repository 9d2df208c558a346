/**
 * Services and Ingress end to end, on loopback with two process-runtime agents (127.0.0.2 and
 * 127.0.0.3) and the server's ingress, in both modes (the built-in router, and nginx): two Deployments behind one Ingress by host and by
 * path, load spread over pods on both nodes; a NodePort on each node's address; a pod reaching a
 * Service through its `<NAME>_SERVICE_HOST/PORT` variables; a TLS host served with its Secret's
 * certificate; a UDP NodePort Service whose flows reach both of its pods (once, not per mode);
 * and a rolling update under continuous traffic with no failed request.
 */
import { spawnSync } from 'node:child_process';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createSocket as createUdpSocket } from 'node:dgram';
import { afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createCA, issueServingCert } from '../../src/server/pki.js';
import { startAgent, stillOurs, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';
import { keepAliveGet } from '../helpers/http.js';
import { api } from '../helpers/server.js';
import { until as waitUntil } from '../helpers/wait.js';

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 8 });
/** The ingress's own loopback address: other suites' `berth up` agents use 127.0.0.1 (and nginx mode runs a service proxy where the ingress is). */
const INGRESS = '127.0.0.9';

/** GET through the ingress (see keepAliveGet: a request on a connection closed under it is sent again once). */
function get(
  port: number,
  host: string,
  urlPath: string,
  address = INGRESS,
): Promise<{ status: number; body: string }> {
  return keepAliveGet({ address, port, host, path: urlPath, agent: keepAlive });
}

/** One datagram to address:port from a fresh socket; the first answer, or undefined after 1 s. */
function udpAsk(address: string, port: number, message: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createUdpSocket('udp4');
    const done = (answer: string | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), 1000);
    socket.on('message', (m) => done(m.toString('utf8')));
    socket.on('error', () => done(undefined));
    socket.send(message, port, address);
  });
}

/** A Deployment of busybox httpd serving "APP VERSION POD NODE" at / and its environment at /env.txt. */
/** A process-runtime agent's containers as its state directory has them: pod, version, pid, running, exit status. */
/**
 * Every process on the machine running one of `app`'s pods (found by its environment), and which
 * TCP ports it listens on: what answers on a port, whatever the agents' records say.
 */
function podProcesses(app: string): string {
  const listening = new Map<string, string>(); // socket inode -> port
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') listening.set(f[9]!, String(parseInt(f[1]!.split(':')[1]!, 16)));
    }
  }
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (!env.includes(`APP=${app}`)) continue;
      const v = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [ppid, pgid] = stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .slice(1, 3);
      const ports = readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .flatMap((inode) => (inode && listening.has(inode) ? [listening.get(inode)!] : []));
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 60);
      out.push(
        `pid ${pid} ppid ${ppid} pgid ${pgid} ${v('POD_NAME')} ${v('VERSION')} PORT=${v('PORT')} listening [${ports.join(',')}] ${cmd}`,
      );
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out.join('\n') || '(none)';
}

function containersOf(agentDir: string): string {
  const dir = path.join(agentDir, 'process');
  if (!existsSync(dir)) return '(none)';
  return readdirSync(dir)
    .map((id) => {
      try {
        const meta = JSON.parse(readFileSync(path.join(dir, id, 'meta.json'), 'utf8')) as {
          pid: number;
          procStart: string;
          env: Record<string, string>;
        };
        const exit = existsSync(path.join(dir, id, 'exit'))
          ? readFileSync(path.join(dir, id, 'exit'), 'utf8').trim()
          : '-';
        return `${meta.env.POD_NAME ?? id} ${meta.env.VERSION ?? ''} pid ${meta.pid} ${stillOurs(meta) ? 'running' : 'gone'} exit ${exit}`;
      } catch {
        return `${id} (unreadable)`;
      }
    })
    .join('; ');
}

function app(name: string, o: { replicas: number; version?: string; labels?: string }): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${o.replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 5
      volumes: [{name: www, emptyDir: {}}]
      containers:
        - name: web
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo "$APP $VERSION $POD_NAME $NODE_NAME" > $BERTH_VOLUME_WWW/index.html; env > $BERTH_VOLUME_WWW/env.txt; exec /bin/busybox httpd -f -p $PORT -h $BERTH_VOLUME_WWW']
          env:
            - {name: APP, value: ${name}}
            - {name: VERSION, value: ${o.version ?? 'v1'}}
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
          ports: [{name: http, containerPort: 8080}]
          volumeMounts: [{name: www, mountPath: /www}]
          readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
`;
}

describe.each(['builtin', 'nginx'])('Services and Ingress (two agents, %s ingress)', (mode) => {
  let server: BerthServerProcess | undefined;
  const agents: AgentProcess[] = [];
  beforeAll(() => buildOnce(), 120_000);
  afterEach(async () => {
    keepAlive.destroy();
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await server?.stop();
    server = undefined;
  });

  const request = (method: string, p: string, body?: unknown) =>
    api(server!, method, p, { token: server!.token, ...(body !== undefined ? { body } : {}) });
  const until = <T>(what: string, check: () => Promise<T | false | undefined>, ms = 60_000) =>
    waitUntil(what, check, ms);
  const apply = async (name: string, yaml: string) => {
    const file = path.join(server!.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    const r = await server!.cli('apply', '-f', file);
    expect(r.code, r.err).toBe(0);
  };
  const readyPods = async (app: string): Promise<any[]> =>
    (await request('GET', `/api/v1/namespaces/default/pods?labelSelector=app%3D${app}`)).body.items.filter(
      (p: any) =>
        !p.metadata.deletionTimestamp &&
        p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
    );
  const start = async (ingressArgs: string[]) => {
    server = await startBerthServer({ args: ['--log-level', 'warn', '--ingress-mode', mode, ...ingressArgs] });
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    agents.push(
      await startAgent(server, { name: 'n1', address: '127.0.0.2', token }),
      await startAgent(server, { name: 'n2', address: '127.0.0.3', token }),
    );
    await until('two Ready nodes', async () => {
      const nodes = (await request('GET', '/api/v1/nodes')).body.items;
      return (
        nodes.length === 2 &&
        nodes.every((n: any) => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'))
      );
    });
  };

  it('routes by host and path over pods on both nodes; NodePort on each node; Service variables; TLS by SNI', async () => {
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    await start(['--ingress-listen', `${INGRESS}:${httpPort}`, '--ingress-tls-listen', `${INGRESS}:${httpsPort}`]);
    const ca = createCA('test-ca');
    const cert = issueServingCert(ca, ['tls.example.com']);
    // Services first: pods started after them get their variables.
    await apply(
      'services',
      `apiVersion: v1
kind: Service
metadata: {name: blue}
spec:
  selector: {app: blue}
  ports: [{name: web, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: green}
spec:
  type: NodePort
  selector: {app: green}
  ports: [{name: web, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  selector: {app: blue}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Secret
metadata: {name: tls-cert}
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(cert.cert).toString('base64')}
  tls.key: ${Buffer.from(cert.key).toString('base64')}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site}
spec:
  tls: [{hosts: [tls.example.com], secretName: tls-cert}]
  rules:
    - host: blue.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: blue, port: {name: web}}}}]}
    - host: apps.example.com
      http:
        paths:
          - {path: /green, pathType: Prefix, backend: {service: {name: green, port: {number: 80}}}}
          - {path: /, pathType: Prefix, backend: {service: {name: blue, port: {number: 80}}}}
    - host: tls.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: green, port: {number: 80}}}}]}
`,
    );
    await apply('apps', `${app('blue', { replicas: 4 })}---\n${app('green', { replicas: 2 })}`);
    await until(
      '4 blue and 2 green pods ready',
      async () => (await readyPods('blue')).length === 4 && (await readyPods('green')).length === 2,
    );
    await until(
      'blue endpoints',
      async () =>
        (await request('GET', '/api/v1/namespaces/default/endpoints/blue')).body.subsets?.flatMap(
          (s: any) => s.addresses ?? [],
        ).length === 4,
    );
    // nginx mode follows endpoints by a (debounced) reload: a moment later than the Endpoints object.
    await until(
      'the ingress serving blue and green',
      async () =>
        (await get(httpPort, 'blue.example.com', '/')).status === 200 &&
        (await get(httpPort, 'tls.example.com', '/')).status === 200,
    );

    // By host: load spread over the 4 pods, on both nodes (nginx mode: once its reload is in).
    const seen = new Map<string, number>();
    await until(
      'requests spread over 4 pods',
      async () => {
        for (let i = 0; i < 20; i++) {
          const r = await get(httpPort, 'blue.example.com', '/');
          expect(r.status, r.body).toBe(200);
          const [appName, , pod, node] = r.body.trim().split(' ');
          expect(appName).toBe('blue');
          seen.set(`${node}/${pod}`, (seen.get(`${node}/${pod}`) ?? 0) + 1);
        }
        return seen.size === 4;
      },
      15_000,
    );
    expect(new Set([...seen.keys()].map((k) => k.split('/')[0]))).toEqual(new Set(['n1', 'n2']));
    // By path: /green/… to green (busybox serves /green/index.html as 404, so ask for the root through Exact-free Prefix).
    expect((await get(httpPort, 'apps.example.com', '/index.html')).body).toMatch(/^blue /);
    const green = await get(httpPort, 'apps.example.com', '/green');
    expect(green.status).toBe(404); // routed to green's httpd, which has no /green file
    expect((await get(httpPort, 'apps.example.com', '/green')).body).not.toMatch(/no Ingress rule/);
    const none = await get(httpPort, 'nothing.example.com', '/');
    expect(none.status).toBe(404);
    expect(none.body).toMatch(/no Ingress rule matches host "nothing.example.com"/);

    // Endpoints follow readiness within one probe period (1 s): a pod whose probe fails leaves
    // them once it is NotReady, and comes back once Ready again.
    const probed = (await readyPods('blue'))[0];
    const port = probed.status.hostPorts[0].hostPort;
    const www = (await get(port, 'x', '/env.txt', probed.status.hostIP)).body.match(/^BERTH_VOLUME_WWW=(.*)$/m)![1]!;
    const listed = async () =>
      (await request('GET', '/api/v1/namespaces/default/endpoints/blue')).body.subsets.some((s: any) =>
        (s.addresses ?? []).some((a: any) => a.targetRef.name === probed.metadata.name),
      );
    const lag = async (ready: boolean) => {
      let readyAt: number | undefined;
      return until(
        `endpoints to follow Ready=${ready}`,
        async () => {
          const pod = (await request('GET', `/api/v1/namespaces/default/pods/${probed.metadata.name}`)).body;
          const isReady = pod.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True');
          if (isReady === ready) readyAt ??= Date.now();
          return readyAt !== undefined && (await listed()) === ready && Date.now() - readyAt + 1;
        },
        20_000,
      );
    };
    const html = readFileSync(path.join(www, 'index.html'));
    rmSync(path.join(www, 'index.html'));
    expect(await lag(false)).toBeLessThanOrEqual(1000);
    writeFileSync(path.join(www, 'index.html'), html);
    expect(await lag(true)).toBeLessThanOrEqual(1000);

    // The Ingress publishes where it is served.
    await until(
      'Ingress status',
      async () =>
        (await request('GET', '/apis/networking.k8s.io/v1/namespaces/default/ingresses/site')).body.status?.loadBalancer
          ?.ingress?.[0]?.ip === INGRESS,
    );

    // NodePort on each node's address.
    const svc = (await request('GET', '/api/v1/namespaces/default/services/green')).body;
    const nodePort = svc.spec.ports[0].nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const r = await until(
        `NodePort on ${address}`,
        async () => {
          const x = await get(nodePort, 'whatever', '/', address);
          return x.status === 200 && x;
        },
        10_000,
      );
      expect(r.body).toMatch(/^green v1 /);
    }

    // LoadBalancer: a NodePort, and the Ready nodes' addresses as its ingress; ClientIP affinity
    // keeps one client on one pod, connection after connection.
    const sticky = await until('the LoadBalancer address', async () => {
      const x = (await request('GET', '/api/v1/namespaces/default/services/sticky')).body;
      return x.status?.loadBalancer?.ingress?.length === 2 && x;
    });
    expect(sticky.status.loadBalancer.ingress.map((i: any) => i.ip).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    const fresh = (address: string) =>
      new Promise<string>((resolve, reject) => {
        httpRequest({ host: address, port: sticky.spec.ports[0].nodePort, path: '/', agent: false }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body.split(' ')[2]!));
        })
          .on('error', reject)
          .end();
      });
    const stuck = new Set<string>();
    for (let i = 0; i < 8; i++) stuck.add(await until('the sticky NodePort', () => fresh('127.0.0.2'), 10_000));
    expect(stuck.size).toBe(1);

    // A pod reaches green through the variables Kubernetes gives it (its node's service proxy).
    const env = Object.fromEntries(
      (await get(httpPort, 'blue.example.com', '/env.txt')).body
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env.GREEN_SERVICE_HOST).toMatch(/^127\.0\.0\.[23]$/);
    const viaService = await get(Number(env.GREEN_SERVICE_PORT), 'green', '/', env.GREEN_SERVICE_HOST);
    expect(viaService.body).toMatch(/^green v1 /);
    expect(env.GREEN_PORT).toBe(`tcp://${env.GREEN_SERVICE_HOST}:${env.GREEN_SERVICE_PORT}`);

    // TLS: the client checks the certificate against the CA that signed the Secret's.
    const tls = await new Promise<{ status: number; body: string; subject: string }>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: INGRESS,
          port: httpsPort,
          path: '/',
          servername: 'tls.example.com',
          headers: { host: 'tls.example.com' },
          ca: ca.cert,
        },
        (res) => {
          let body = '';
          const subject = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subjectaltname);
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, subject }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(tls.status).toBe(200);
    expect(tls.body).toMatch(/^green v1 /);
    expect(tls.subject).toContain('DNS:tls.example.com');

    // UDP through the agents' service proxies (the same in both ingress modes: checked once).
    if (mode !== 'builtin') return;
    await apply(
      'udp',
      `apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{name: echo, port: 53, targetPort: echo, protocol: UDP}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: echo
          image: node
          command: [node, -e, "const d = require('dgram').createSocket('udp4'); d.on('message', (m, r) => d.send(process.env.POD_NAME + ' ' + m, r.port, r.address)); d.bind(+process.env.PORT_ECHO)"]
          env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
          ports: [{name: echo, containerPort: 5353, protocol: UDP}]
`,
    );
    await until(
      '2 echo endpoints',
      async () =>
        (await request('GET', '/api/v1/namespaces/default/endpoints/echo')).body.subsets?.flatMap(
          (x: any) => x.addresses ?? [],
        ).length === 2,
    );
    const echo = (await request('GET', '/api/v1/namespaces/default/services/echo')).body;
    expect(echo.spec.ports[0]).toMatchObject({ protocol: 'UDP', nodePort: expect.any(Number) });
    const answeredBy = new Set<string>();
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      // A fresh client socket is a new flow: flows go to the endpoints in turn.
      for (let i = 0; i < 4; i++) {
        const reply = await until(
          `a UDP answer through ${address}`,
          () => udpAsk(address, echo.spec.ports[0].nodePort, `ping ${i}`),
          20_000,
        );
        expect(reply).toMatch(new RegExp(`^echo-\\S+ ping ${i}$`));
        answeredBy.add(reply.split(' ')[0]!);
      }
    }
    expect(answeredBy.size).toBe(2);
  }, 180_000);

  it('rolls a 3-replica Deployment under continuous traffic with no failed request; a killed endpoint costs no error', async () => {
    // Each stage's time, printed if the test fails or times out: where a slow run spent it.
    const began = Date.now();
    const stages: string[] = [];
    const stage = (what: string) => stages.push(`${what} at ${((Date.now() - began) / 1000).toFixed(1)} s`);
    const httpPort = await freePort();
    await start(['--ingress-listen', `${INGRESS}:${httpPort}`]);
    // Taken now: by the time a failure is reported, afterEach has stopped and forgotten them.
    const [ran, ranAgents] = [server!, [...agents]];
    onTestFailed(() => {
      const nginxLog = path.join(ran.dir, 'nginx', 'error.log');
      console.error(
        [
          `rolling update (${mode}) stages: ${stages.join('; ')}`,
          `server log (last 3000 characters): ${ran.logs().slice(-3000)}`,
          ...ranAgents.map((a) => `agent ${a.name} log: ${a.logs().slice(-2000)}`),
          mode === 'nginx' && existsSync(nginxLog)
            ? `nginx error.log: ${readFileSync(nginxLog, 'utf8').split('\n').slice(-15).join('\n')}`
            : '',
        ].join('\n'),
      );
    });
    await apply(
      'svc',
      `apiVersion: v1
kind: Service
metadata: {name: roll}
spec:
  selector: {app: roll}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: roll}
spec:
  defaultBackend: {service: {name: roll, port: {number: 80}}}
`,
    );
    stage('started');
    await apply('roll', app('roll', { replicas: 3 }));
    await until('3 ready', async () => (await readyPods('roll')).length === 3);
    stage('3 ready');
    await until(
      '3 endpoints',
      async () =>
        (await request('GET', '/api/v1/namespaces/default/endpoints/roll')).body.subsets?.flatMap(
          (s: any) => s.addresses ?? [],
        ).length === 3,
    );
    await until('the ingress serving', async () => (await get(httpPort, 'roll.example.com', '/')).status === 200);
    stage('served');

    const results: { status: number; version: string; body: string; at: number }[] = [];
    let stop = false;
    const client = (async () => {
      while (!stop) {
        const r = await get(httpPort, 'roll.example.com', '/').catch((e) => ({ status: 0, body: String(e) }));
        results.push({
          status: r.status,
          version: r.status === 200 ? r.body.split(' ')[1]! : r.body,
          body: r.body.trim(),
          at: Date.now() - began,
        });
      }
    })();
    // Every pod's address as the Endpoints gave it, so a failure can say who listens there now.
    const addressOf = new Map<string, string>();
    const noteEndpoints = async () => {
      const subsets = (await request('GET', '/api/v1/namespaces/default/endpoints/roll')).body.subsets ?? [];
      for (const s of subsets)
        for (const a of [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])])
          if (a.targetRef?.name) addressOf.set(a.targetRef.name, `${a.ip}:${s.ports?.[0]?.port}`);
    };
    await noteEndpoints();
    let doneAt: number | undefined;
    await new Promise((r) => setTimeout(r, 500));
    await apply('roll', app('roll', { replicas: 3, version: 'v2' }));
    stage('v2 applied');
    let rollout: unknown;
    await until(
      'rollout done, all answers v2',
      async () => {
        const d = (await request('GET', '/apis/apps/v1/namespaces/default/deployments/roll')).body;
        rollout = d.status;
        await noteEndpoints();
        const done = d.status?.updatedReplicas === 3 && d.status?.replicas === 3 && d.status?.availableReplicas === 3;
        if (done) doneAt ??= Date.now() - began;
        return done && results.length > 20 && results.slice(-20).every((r) => r.version === 'v2');
      },
      90_000,
    ).catch(async (e: Error) => {
      // What the router had to go on, taken before afterEach stops the server and removes its data.
      const endpoints = (await request('GET', '/api/v1/namespaces/default/endpoints/roll')).body.subsets;
      const nginxConf = path.join(server!.dir, 'nginx', 'nginx.conf');
      const upstreams = existsSync(nginxConf)
        ? readFileSync(nginxConf, 'utf8')
            .split('\n')
            .filter((l) => /^\s*(upstream|server \d)/.test(l))
            .join('\n')
        : '(no nginx.conf)';
      // Which pods' processes still run (a flake under load once showed deleted v1 pods answering).
      const containers = agents.map((a) => `agent ${a.name}: ${containersOf(a.dir)}`).join('\n');
      // And which processes answer: the pods' processes on the machine, with the ports they listen on.
      const nginxPids = spawnSync('pgrep', ['-a', 'nginx'], { encoding: 'utf8' }).stdout.trim();
      const nginxLog = path.join(server!.dir, 'nginx', 'error.log');
      const nginxErrors = existsSync(nginxLog)
        ? readFileSync(nginxLog, 'utf8').split('\n').slice(-15).join('\n')
        : '(none)';
      // The v1 answers after the rollout was done: when, from which pod, and who holds that
      // pod's old address now (listening or connected, with the owning process).
      const late = results.filter((r) => r.version === 'v1' && doneAt !== undefined && r.at > doneAt);
      const latePods = [...new Set(late.map((r) => r.body.split(' ')[2] ?? ''))];
      const sockets = (spawnSync('ss', ['-tanp'], { encoding: 'utf8' }).stdout ?? '').split('\n');
      // What each endpoint answers asked directly (not through nginx): is it nginx or the pod?
      const direct: string[] = [];
      for (const sub of endpoints ?? [])
        for (const a of sub.addresses ?? []) {
          const at = `${a.ip}:${sub.ports?.[0]?.port}`;
          const answer = await get(Number(sub.ports?.[0]?.port), 'roll.example.com', '/', a.ip).catch((err: Error) => ({
            status: 0,
            body: err.message,
          }));
          direct.push(`${a.targetRef?.name} at ${at}: ${answer.status} ${answer.body.trim()}`);
        }
      const holders = latePods
        .map((pod) => {
          const address = addressOf.get(pod);
          const port = address?.split(':')[1];
          return `${pod} was ${address ?? '(never seen in the Endpoints)'}: ${port ? sockets.filter((l) => l.includes(`:${port} `)).join(' | ') || 'no socket' : ''}`;
        })
        .join('\n');
      throw new Error(
        `${e.message}: Deployment status ${JSON.stringify(rollout)}; ${results.length} answers, the last ${JSON.stringify(results.slice(-3))}; rollout done at ${doneAt} ms, ${late.length} v1 answers after it (at ${late
          .slice(0, 10)
          .map((r) => r.at)
          .join(
            ', ',
          )} ms…); their pods' old addresses now:\n${holders}\nthe endpoints asked directly:\n${direct.join('\n')}\nEndpoints ${JSON.stringify(endpoints)}; nginx upstreams:\n${upstreams}\ncontainers:\n${containers}\npod processes:\n${podProcesses('roll')}\nnginx processes:\n${nginxPids}\nnginx error.log:\n${nginxErrors}`,
      );
    });

    stage(`rolled out (${results.length} answers)`);
    // A pod's process dies (SIGKILL, nothing drains it): the router retries another endpoint, and
    // readiness takes the pod out of the endpoints.
    const before = results.length;
    // A running v2 pod's process: an old pod's state may still be there while it is being removed.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const victim = agents
      .flatMap((a) =>
        readdirSync(path.join(a.dir, 'process')).map((id) => path.join(a.dir, 'process', id, 'meta.json')),
      )
      .filter((f) => existsSync(f))
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { pid: number; env: Record<string, string> })
      .find((m) => m.env.VERSION === 'v2' && alive(m.pid));
    expect(victim, 'a running v2 pod process').toBeDefined();
    process.kill(-victim!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    stop = true;
    await client;
    const failed = results.filter((r) => r.status !== 200);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(results.length - before).toBeGreaterThan(10);
    const versions = results.map((r) => r.version);
    expect(versions[0]).toBe('v1');
    expect(versions.at(-1)).toBe('v2');
  }, 240_000);
});
