/**
 * Property-based fuzzing (security issue, item 4): random request lines, methods, paths, headers,
 * content types and bodies — and every route's real shape with mutated fields — sent over raw
 * sockets to a real `berth server` process and to the ingress router. After each request both
 * still answer; no answer is a 5xx other than 503; and at the end, no stored object changed or
 * appeared unless a 2xx answer said so (or a controller made it for such an object).
 *
 * FUZZ_RUNS scales the run (default 1): `FUZZ_RUNS=10 npx vitest run test/e2e/fuzz.test.ts` is
 * the longer run; a failure prints fast-check's seed and the shrunk request to replay it.
 */
import { createServer, type Server } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KINDS, apiVersionOf } from '../../src/api/kinds.js';
import { IngressRouter } from '../../src/network/router.js';
import { buildRouteTable } from '../../src/network/routes.js';
import { ClusterView } from '../../src/network/view.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';

const SCALE = Number(process.env.FUZZ_RUNS ?? 1);

interface Answer {
  status: number;
  body: string;
}

/** Writes `bytes` on a fresh connection and reads one answer (status line, headers, body). */
function exchange(open: () => Socket, bytes: Buffer, bodyNeeded: boolean, endAfterWrite = false): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = open();
    let data = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = data.toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const head = text.indexOf('\r\n\r\n');
      resolve({ status, body: head === -1 ? '' : data.subarray(head + 4).toString('utf8') });
    };
    // Generous: on 2 busy cores (the whole suite running beside it) an answer once took over 3 s.
    const timer = setTimeout(finish, 10_000);
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const head = data.indexOf('\r\n\r\n');
      if (head === -1) return;
      const headers = data.subarray(0, head).toString('latin1');
      // Streams (watches, follows) are judged by their status line; writes are read whole.
      if (!bodyNeeded || /transfer-encoding: chunked/i.test(headers)) return finish();
      const length = /content-length: (\d+)/i.exec(headers);
      if (length && data.length - head - 4 >= Number(length[1])) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    // A raw request may promise a body it never sends: ending the connection ends the wait.
    if (endAfterWrite) socket.end(bytes);
    else socket.write(bytes);
  });
}

// ---- what a request is made of ------------------------------------------------------------

const NAMES = ['fz', 'kept', 'web', 'x', 'a.b', 'UPPER', '..', '%2e%2e', '%zz', 'z'.repeat(300)];
const NAMESPACES = ['default', 'fuzz', 'nowhere', 'kube-system', '%00', '..'];
const SUBRESOURCES = ['status', 'log', 'exec', 'diff', 'revisions', 'heartbeat', 'scale', 'proxy', 'eviction'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'application/json-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
  'application/yaml',
  'application/vnd.kubernetes.protobuf',
  'text/plain',
  'multipart/form-data; boundary=x',
  '',
  ';;;',
  'application/json; charset=latin1',
];
const QUERIES = [
  '',
  '?watch=1&timeoutSeconds=1',
  '?labelSelector=a%3Db',
  '?labelSelector=!!',
  '?fieldSelector=metadata.name%3Dfz',
  '?limit=1',
  '?limit=-1',
  '?continue=abc',
  '?dryRun=All',
  '?propagationPolicy=Orphan',
  '?resourceVersion=0&watch=true&timeoutSeconds=1',
  '?fieldValidation=Strict',
  '?%zz=1',
  '?tailLines=x',
  '?revision=HEAD',
];

const collectionPath = (k: (typeof KINDS)[number], ns: string) =>
  `/${k.group ? `apis/${k.group}` : 'api'}/${k.version}${k.namespaced ? `/namespaces/${ns}` : ''}/${k.plural}`;

/** A plausible object of the kind, for mutation. */
function objectOf(k: (typeof KINDS)[number], name: string, ns: string): Record<string, any> {
  const base: Record<string, any> = {
    apiVersion: apiVersionOf(k),
    kind: k.kind,
    metadata: { name, ...(k.namespaced ? { namespace: ns } : {}), labels: { app: 'fz' } },
  };
  const pod = { containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1'] }] };
  const template = { metadata: { labels: { app: 'fz' } }, spec: pod };
  switch (k.kind) {
    case 'ConfigMap':
      return { ...base, data: { a: '1' } };
    case 'Secret':
      return { ...base, stringData: { password: 'p' } };
    case 'Pod':
      return { ...base, spec: pod };
    case 'Service':
      return { ...base, spec: { selector: { app: 'fz' }, ports: [{ port: 80 }] } };
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      return { ...base, spec: { replicas: 0, selector: { matchLabels: { app: 'fz' } }, template } };
    case 'Job':
      return { ...base, spec: { template: { ...template, spec: { ...pod, restartPolicy: 'Never' } } } };
    case 'CronJob':
      return {
        ...base,
        spec: {
          schedule: '0 0 1 1 *',
          jobTemplate: { spec: { template: { ...template, spec: { ...pod, restartPolicy: 'Never' } } } },
        },
      };
    case 'Ingress':
      return {
        ...base,
        spec: {
          rules: [
            {
              host: 'fz.test',
              http: {
                paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'fz', port: { number: 80 } } } }],
              },
            },
          ],
        },
      };
    case 'Application':
      return {
        ...base,
        spec: { source: { repoURL: 'file:///nonexistent', path: '.' }, destination: { namespace: ns } },
      };
    default:
      return base;
  }
}

/** One mutation of a document: set a path to a random value, delete a path, or keep it. */
const mutation = fc.record({
  op: fc.constantFrom('set', 'delete', 'keep', 'replace'),
  path: fc.array(
    fc.oneof(
      fc.constantFrom(
        'metadata',
        'spec',
        'data',
        'name',
        'labels',
        'containers',
        'ports',
        '0',
        'status',
        'kind',
        'apiVersion',
        '__proto__',
        'constructor',
        'replicas',
        'namespace',
        'resourceVersion',
      ),
      fc.string({ maxLength: 6 }),
    ),
    { minLength: 1, maxLength: 4 },
  ),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(-1, 1e308, '', 'x'.repeat(70), '\u0000', '\ud800', null, [], {}),
  ),
});

type Mutation = { op: string; path: string[]; value: unknown };

function mutate(doc: unknown, m: Mutation): unknown {
  if (m.op === 'keep') return doc;
  if (m.op === 'replace') return m.value;
  const root = (typeof doc === 'object' && doc !== null ? structuredClone(doc) : {}) as Record<string, any>;
  let cur: Record<string, any> = root;
  // Own properties only: reading `__proto__` here would walk into (and pollute) this process's prototypes.
  const own = (o: Record<string, any>, k: string) => (Object.hasOwn(o, k) ? o[k] : undefined);
  for (const seg of m.path.slice(0, -1)) {
    if (typeof own(cur, seg) !== 'object' || own(cur, seg) === null)
      Object.defineProperty(cur, seg, { value: {}, enumerable: true, writable: true, configurable: true });
    cur = own(cur, seg);
  }
  const last = m.path[m.path.length - 1]!;
  if (m.op === 'delete') delete cur[last];
  // defineProperty, so that a `__proto__` key goes into the JSON as a key.
  else Object.defineProperty(cur, last, { value: m.value, enumerable: true, writable: true, configurable: true });
  return root;
}

const token = (admin: string) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constant(`Bearer ${admin}`) },
    fc.constantFrom('', 'Bearer ', 'Bearer x.y', `Basic ${Buffer.from('a:b').toString('base64')}`),
  );

/** A request in a route's real shape: method, Kubernetes path, query, content type, mutated body. */
function shapedRequest(admin: string) {
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'GET', 'POST', 'PATCH', 'OPTIONS', 'HEAD'),
      kind: fc.constantFrom(...KINDS),
      ns: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('default', 'fuzz') }, fc.constantFrom(...NAMESPACES)),
      name: fc.option(
        fc.oneof({ weight: 3, arbitrary: fc.constantFrom('fz', 'kept', 'web', 'x') }, fc.constantFrom(...NAMES)),
        { nil: undefined },
      ),
      sub: fc.option(fc.constantFrom(...SUBRESOURCES), { nil: undefined, freq: 3 }),
      query: fc.constantFrom(...QUERIES),
      // Mostly the media type the verb takes, so that requests get past the front door.
      type: fc.oneof(
        { weight: 3, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      auth: token(admin),
      mutations: fc.oneof(fc.constant([]), fc.array(mutation, { maxLength: 3 })),
      encoding: fc.oneof(
        { weight: 6, arbitrary: fc.constant('json') },
        fc.constantFrom('truncated', 'latin1', 'empty'),
      ),
    })
    .map((r) => {
      let path = collectionPath(r.kind, r.ns);
      if (r.name !== undefined) path += `/${r.name}${r.sub ? `/${r.sub}` : ''}`;
      const doc = (r.mutations as Mutation[]).reduce<unknown>(
        (d, m) => mutate(d, m),
        objectOf(r.kind, r.name ?? 'fz', r.ns),
      );
      let body =
        r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(JSON.stringify(doc) ?? '', 'utf8');
      if (r.encoding === 'truncated') body = body.subarray(0, Math.floor(body.length / 2));
      if (r.encoding === 'latin1') body = Buffer.from(body.toString('utf8').replace(/"a"/, '"\u00e9"'), 'latin1');
      if (r.encoding === 'empty') body = Buffer.alloc(0);
      const type = r.type || (r.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      const head = [
        `${r.method} ${path}${r.query} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Connection: close',
        ...(r.auth ? [`Authorization: ${r.auth}`] : []),
        `Content-Type: ${type}`,
        `Content-Length: ${body.length}`,
      ];
      return {
        method: r.method,
        path,
        query: r.query,
        bytes: Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), body]),
      };
    });
}

/** A request line and headers from anywhere: random methods, targets, versions, header bytes. */
function rawRequest(admin: string) {
  const target = fc
    .oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        'http://[bad',
        '*',
        '//',
        '/api/v1/namespaces/default/configmaps/%',
        '/api/v1/../../etc/passwd',
        'http://x/api',
        '/\u0000',
        '/api/v1/namespaces/default/configmaps?' + 'a=1&'.repeat(500),
        '/' + 'a/'.repeat(2000),
      ),
      fc.webPath(),
    )
    .map((t) => t.replace(/[\r\n ]/g, '') || '/');
  return fc
    .record({
      method: fc.oneof(
        fc.constantFrom('GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'CONNECT', 'TRACE', 'PRI', 'G ET'),
        fc.stringMatching(/^[A-Z]{1,8}$/),
      ),
      target,
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', ''),
      headers: fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(
              'Host',
              'Content-Type',
              'Content-Length',
              'Transfer-Encoding',
              'Authorization',
              'Upgrade',
              'Connection',
              'Expect',
              'Accept',
            ),
            fc.stringMatching(/^[a-zA-Z-]{1,12}$/),
          ),
          fc.oneof(
            fc.string({ maxLength: 30 }),
            fc.constantFrom(
              'chunked',
              '-1',
              '99999999999',
              'application/json',
              `Bearer ${admin}`,
              'websocket',
              '100-continue',
              'application/json;as=Table',
            ),
          ),
        ),
        { maxLength: 5 },
      ),
      body: fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 60 }),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      ),
    })
    .map((r) => {
      const lines = [
        `${r.method} ${r.target} ${r.version}`.trimEnd(),
        ...r.headers.map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, '')}`),
        'Connection: close',
      ];
      return {
        method: r.method,
        path: r.target,
        query: '',
        raw: true,
        bytes: Buffer.from(`${lines.join('\r\n')}\r\n\r\n${r.body}`, 'utf8'),
      };
    });
}

const HEALTH = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');

type Request = { method: string; path: string; query: string; bytes: Buffer; raw?: boolean };

// ---- the checks -------------------------------------------------------------------------------

const key = (o: { kind: string; metadata: { namespace?: string; name: string } }) =>
  `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

describe('fuzzing the API server and the ingress router', () => {
  let server: BerthServerProcess;
  const router = new IngressRouter(new ClusterView({} as never), {});
  let routerPort = 0;
  let echo: Server;

  beforeAll(async () => {
    buildOnce();
    server = await startBerthServer();
    const admin = { url: server.url, ca: server.ca };
    const post = (path: string, body: unknown) => api(admin, 'POST', path, { token: server.token, body });
    await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fuzz' } });
    for (const ns of ['default', 'fuzz']) {
      await post(`/api/v1/namespaces/${ns}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kept' },
        data: { a: '1' },
      });
      await post(`/api/v1/namespaces/${ns}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'kept' },
        stringData: { p: 'x' },
      });
    }
    echo = createServer((q, s) => {
      q.resume();
      q.on('end', () => s.end(JSON.stringify({ url: q.url, method: q.method })));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const view = (router as unknown as { view: ClusterView }).view;
    const echoPort = (echo.address() as { port: number }).port;
    view.services.set('default/echo', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo', namespace: 'default' },
      spec: { ports: [{ port: 80 }] },
    } as never);
    view.endpoints.set('default/echo', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'echo', namespace: 'default' },
      subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: echoPort }] }],
    } as never);
    view.routes = buildRouteTable([
      {
        metadata: { name: 'i', namespace: 'default' },
        spec: {
          rules: [
            {
              host: '127.0.0.1',
              http: {
                paths: [
                  { path: '/', pathType: 'Prefix', backend: { service: { name: 'echo', port: { number: 80 } } } },
                ],
              },
            },
          ],
        },
      } as never,
    ]);
    routerPort = (await router.listen({ host: '127.0.0.1', port: 0 })).http!;
  }, 120_000);

  afterAll(async () => {
    await router.close();
    echo?.close();
    await server?.stop();
  });

  it('the API server answers every request, never with a 5xx but 503, and stores only what a 2xx said', async () => {
    const port = Number(new URL(server.url).port);
    const open = () => tlsConnect({ host: '127.0.0.1', port, ca: server.ca, servername: 'localhost' });
    const snapshot = async () => {
      const out = new Map<string, { rv: string; owned: boolean }>();
      for (const k of KINDS) {
        const list = await api(
          { url: server.url, ca: server.ca },
          'GET',
          collectionPath({ ...k, namespaced: false } as never, ''),
          { token: server.token },
        );
        expect(list.status, `listing ${k.plural}`).toBe(200);
        for (const o of list.body.items)
          out.set(key({ ...o, kind: k.kind }), {
            rv: o.metadata.resourceVersion,
            owned: (o.metadata.ownerReferences ?? []).length > 0,
          });
      }
      return out;
    };
    const before = await snapshot();
    const statuses = new Map<number, number>();
    const written = new Set<string>();
    let sent = 0;
    const check = async (req: Request) => {
      const isWrite = !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
      const answer = await exchange(open, req.bytes, isWrite, req.raw);
      sent++;
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      // A raw request cut short (a body promised, never sent) may get no answer; the server must still be up.
      if (answer.status === 0 && req.raw)
        expect(
          (await exchange(open, HEALTH, true)).status,
          `after ${JSON.stringify(req.bytes.toString('latin1').slice(0, 300))}`,
        ).toBe(200);
      else expect(answer.status, `${req.method} ${req.path}${req.query} answered nothing`).not.toBe(0);
      expect(
        answer.status >= 500 && answer.status !== 503,
        `${req.method} ${req.path}${req.query} answered ${answer.status}: ${answer.body.slice(0, 300)}`,
      ).toBe(false);
      if (isWrite && answer.status >= 200 && answer.status < 300) {
        // What a 2xx wrote: the object it names (and, for a Namespace, everything in it).
        try {
          const o = JSON.parse(answer.body);
          if (o?.metadata?.name && o.kind) written.add(key(o));
          // A delete answered with a Status (as Kubernetes answers most deletes) names what it removed in its details.
          if (o?.kind === 'Status' && o.details?.name) {
            const kind = KINDS.find((k) => k.plural === o.details.kind)?.kind;
            const ns = /\/namespaces\/([^/]+)\//.exec(req.path)?.[1] ?? '';
            if (kind) written.add(`${kind}/${decodeURIComponent(ns)}/${o.details.name}`);
          }
          if (o?.kind === 'Namespace' && req.method === 'DELETE') written.add(`ns:${o.metadata.name}`);
        } catch {
          written.add(`unparsed:${req.path}`);
        }
      }
    };
    await fc.assert(fc.asyncProperty(shapedRequest(server.token), check), { numRuns: 2500 * SCALE });
    await fc.assert(fc.asyncProperty(rawRequest(server.token), check), { numRuns: 1000 * SCALE });
    expect((await api({ url: server.url, ca: server.ca }, 'GET', '/healthz')).status).toBe(200);
    expect(Object.keys(Object.prototype), 'the fuzzer itself must not pollute prototypes').toEqual([]);

    const after = await snapshot();
    // What controllers make for a written object: Events, Endpoints, owned objects, a new namespace's
    // default ServiceAccount; and the allocation lock a Service's write moves with it.
    const madeFor = (k: string) => /^ServiceAccount\/([^/]+)\/default$/.exec(k)?.[1];
    const allocationLock = (k: string) =>
      k === 'ConfigMap/berth-system/service-allocations' && [...written].some((w) => w.startsWith('Service/'));
    // A workload's pods (and a Deployment's ReplicaSets) keep its name as their prefix; one a
    // delete with propagationPolicy=Orphan freed has no owner left, but a written object made it.
    const workloads = new Set([
      'Deployment',
      'ReplicaSet',
      'ReplicationController',
      'StatefulSet',
      'DaemonSet',
      'Job',
      'CronJob',
    ]);
    const madeByWritten = (k: string) => {
      const [, ns, name] = k.split('/');
      return [...written].some((w) => {
        const [kind, wns, wname] = w.split('/');
        return workloads.has(kind!) && wns === ns && name!.startsWith(`${wname}-`);
      });
    };
    const explained = (k: string, owned: boolean) =>
      written.has(k) ||
      owned ||
      madeByWritten(k) ||
      k.startsWith('Event/') ||
      k.startsWith('Endpoints/') ||
      written.has(`ns:${k.split('/')[1]}`) ||
      written.has(`Namespace//${madeFor(k)}`) ||
      allocationLock(k);
    const changed = [...before].filter(([k, v]) => after.get(k)?.rv !== v.rv && !explained(k, v.owned)).map(([k]) => k);
    const appeared = [...after].filter(([k, v]) => !before.has(k) && !explained(k, v.owned)).map(([k]) => k);
    expect({ changed, appeared }).toEqual({ changed: [], appeared: [] });
    console.log(
      `fuzz: ${sent} requests to berth server, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${written.size} objects written by 2xx answers: ${[...written].join(' ')}`,
    );
    // The run reached past the front door: objects were written, and refused in many ways.
    expect(written.size).toBeGreaterThan(10);
    expect(statuses.size).toBeGreaterThan(6);
  }, 180_000);

  it('the ingress router answers every request, never with a 5xx but 503', async () => {
    const open = () => tcpConnect({ host: '127.0.0.1', port: routerPort });
    const statuses = new Map<number, number>();
    let sent = 0;
    const check = async (req: Request) => {
      const answer = await exchange(open, req.bytes, false, req.raw);
      sent++;
      if (answer.status === 0 && req.raw)
        expect(
          (await exchange(open, HEALTH, true)).status,
          `after ${JSON.stringify(req.bytes.toString('latin1').slice(0, 300))}`,
        ).toBe(200);
      else expect(answer.status, `${req.method} ${req.path} answered nothing`).not.toBe(0);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      expect(
        answer.status >= 500 && answer.status !== 503,
        `${req.method} ${req.path} answered ${answer.status}: ${answer.body.slice(0, 300)}`,
      ).toBe(false);
    };
    await fc.assert(fc.asyncProperty(fc.oneof(shapedRequest('x'), rawRequest('x')), check), { numRuns: 2000 * SCALE });
    // The echo backend is still reached through it.
    const ok = await exchange(
      open,
      Buffer.from('GET /still HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
      true,
    );
    expect(ok.status).toBe(200);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    console.log(
      `fuzz: ${sent} requests to the ingress router, statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  }, 120_000);
});
