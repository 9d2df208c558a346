/** Service ports (NodePorts, proxy ports), Service environment variables, and Endpoints planning. */
import { describe, expect, it } from 'vitest';
import { parseCidr, reverseName, addressOfReverseName } from '../../src/api/cidr.js';
import {
  assignServicePorts,
  portsInUse,
  proxyPortsOf,
  readyEndpoints,
  serviceEnv,
  PROXY_PORTS_ANNOTATION,
  type ServiceObject,
} from '../../src/api/services.js';
import { planEndpoints, planSlices } from '../../src/controllers/endpoints/plan.js';

const CIDR = parseCidr('10.96.0.0/12');
const svc = (name: string, spec: ServiceObject['spec'], annotations?: Record<string, string>): ServiceObject =>
  ({ metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec }) as ServiceObject;

describe('assignServicePorts', () => {
  it('allocates a NodePort and a proxy port per port; keeps them on update', () => {
    const inUse = portsInUse([
      svc(
        'other',
        { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] },
        { [PROXY_PORTS_ANNOTATION]: '80/TCP=20000' },
      ),
    ]);
    const { service, problems } = assignServicePorts(
      svc('web', {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80 },
          { name: 'https', port: 443 },
        ],
      }),
      undefined,
      inUse,
      CIDR,
    );
    expect(problems).toEqual([]);
    expect(service.spec!.ports!.map((p) => p.nodePort)).toEqual([30001, 30002]);
    expect([...proxyPortsOf(service)]).toEqual([
      ['80/TCP', 20001],
      ['443/TCP', 20002],
    ]);
    // An update that leaves nodePort out keeps what was given.
    const again = assignServicePorts(
      svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] }),
      service,
      portsInUse([], undefined),
      CIDR,
    );
    expect(again.service.spec!.ports![0]!.nodePort).toBe(30001);
    expect(proxyPortsOf(again.service).get('80/TCP')).toBe(20001);
  });
  it('rejects a NodePort another Service holds, naming it', () => {
    const inUse = portsInUse([svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })]);
    const { problems } = assignServicePorts(
      svc('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
      undefined,
      inUse,
      CIDR,
    );
    expect(problems).toEqual([
      {
        path: ['spec', 'ports', 0, 'nodePort'],
        message: 'provided port 30080 is already allocated (to Service default/other)',
      },
    ]);
  });
  it('gives ClusterIP Services proxy ports but no NodePorts; ExternalName neither', () => {
    const inUse = portsInUse([]);
    expect(
      assignServicePorts(svc('a', { type: 'ClusterIP', ports: [{ port: 80 }] }), undefined, inUse, CIDR).service.spec!
        .ports![0]!.nodePort,
    ).toBeUndefined();
    expect(
      proxyPortsOf(
        assignServicePorts(svc('b', { type: 'ExternalName', externalName: 'x.example.com' }), undefined, inUse, CIDR)
          .service,
      ).size,
    ).toBe(0);
  });
});

describe('ClusterIPs', () => {
  const assign = (spec: ServiceObject['spec'], held: ServiceObject[] = [], previous?: ServiceObject) =>
    assignServicePorts(svc('web', spec), previous, portsInUse(held, { namespace: 'default', name: 'web' }), CIDR);
  const holding = (name: string, clusterIP: string) => svc(name, { clusterIP, ports: [{ port: 80 }] });
  it.each([
    ['the first address above the static band', { ports: [{ port: 80 }] }, [], '10.96.1.0'],
    ['the next free one', { ports: [{ port: 80 }] }, [holding('a', '10.96.1.0')], '10.96.1.1'],
    ['one asked for in the static band', { clusterIP: '10.96.0.10', ports: [{ port: 53 }] }, [], '10.96.0.10'],
    ['None: headless', { clusterIP: 'None', ports: [{ port: 5432 }] }, [], 'None'],
    ['a NodePort Service gets one too', { type: 'NodePort', ports: [{ port: 80 }] }, [], '10.96.1.0'],
  ] as const)('gives %s', (_, spec, held, ip) => {
    const { service, problems } = assign(structuredClone(spec) as unknown as ServiceObject['spec'], [...held]);
    expect(problems).toEqual([]);
    expect(service.spec).toMatchObject({
      clusterIP: ip,
      clusterIPs: [ip],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
    });
  });
  it.each([
    [
      'an address another Service holds',
      { clusterIP: '10.96.0.10', ports: [{ port: 80 }] },
      'spec.clusterIP',
      'failed to allocate IP 10.96.0.10: provided IP is already allocated (to Service default/dns)',
    ],
    [
      'an address outside the range',
      { clusterIP: '10.0.0.1', ports: [{ port: 80 }] },
      'spec.clusterIP',
      'failed to allocate IP 10.0.0.1: the provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    ],
    [
      'a headless NodePort Service',
      { type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] },
      'spec.clusterIP',
      "may not be set to 'None' for NodePort services",
    ],
    [
      'IPv6',
      { ipFamilies: ['IPv6'], ports: [{ port: 80 }] },
      'spec.ipFamilies',
      'only IPv4 is configured on this cluster',
    ],
    [
      'two addresses',
      { clusterIPs: ['10.96.0.20', '10.96.0.21'], ports: [{ port: 80 }] },
      'spec.clusterIPs',
      'may hold one address: this cluster is single-stack IPv4',
    ],
    [
      'an address on ExternalName',
      { type: 'ExternalName', externalName: 'db.example.com', clusterIP: '10.96.0.30' },
      'spec.clusterIP',
      'may not be set for ExternalName services',
    ],
  ] as const)('refuses %s', (_, spec, field, message) => {
    const { problems } = assign(structuredClone(spec) as unknown as ServiceObject['spec'], [
      holding('dns', '10.96.0.10'),
    ]);
    expect(problems.map((p) => ({ field: p.path.join('.'), message: p.message }))).toContainEqual({
      field: field,
      message,
    });
  });
  it('keeps the address on update, and refuses to change it', () => {
    const first = assign({ ports: [{ port: 80 }] }).service;
    expect(assign({ ports: [{ port: 8080 }] }, [], first).service.spec!.clusterIP).toBe('10.96.1.0');
    expect(assign({ clusterIP: '10.96.0.99', ports: [{ port: 80 }] }, [], first).problems).toEqual([
      { path: ['spec', 'clusterIP'], message: 'field is immutable (it is 10.96.1.0)' },
    ]);
  });
  it('drops it when the Service becomes ExternalName, and gives a new one back', () => {
    const first = assign({ ports: [{ port: 80 }] }).service;
    const external = assign({ type: 'ExternalName', externalName: 'x.example.com' }, [], first).service;
    expect(external.spec!.clusterIP).toBeUndefined();
    expect(assign({ ports: [{ port: 80 }] }, [holding('a', '10.96.1.0')], external).service.spec!.clusterIP).toBe(
      '10.96.1.1',
    );
  });
  it('allocates a batch in one pass: each the first value free, around values held below and above', () => {
    const inUse = portsInUse([holding('a', '10.96.1.0'), holding('b', '10.96.1.2')]);
    const given = ['x', 'y', 'z'].map((n) => {
      const { service } = assignServicePorts(svc(n, { ports: [{ port: 80 }] }), undefined, inUse, CIDR);
      return [service.spec!.clusterIP, proxyPortsOf(service).get('80/TCP')];
    });
    expect(given).toEqual([
      ['10.96.1.1', 20000],
      ['10.96.1.3', 20001],
      ['10.96.1.4', 20002],
    ]);
    // A value asked for in between is skipped by the next search, not handed out twice.
    assignServicePorts(svc('w', { clusterIP: '10.96.1.5', ports: [{ port: 80 }] }), undefined, inUse, CIDR);
    expect(
      assignServicePorts(svc('v', { ports: [{ port: 80 }] }), undefined, inUse, CIDR).service.spec!.clusterIP,
    ).toBe('10.96.1.6');
  });
  it('falls back to the static band when the upper part is full, and says when none is left', () => {
    const small = parseCidr('10.0.0.0/28');
    // 16 addresses: network, .1 and broadcast are never given; the static band is all of it.
    const held: ServiceObject[] = [];
    for (let i = 2; i <= 14; i++) held.push(holding(`s${i}`, `10.0.0.${i}`));
    expect(
      assignServicePorts(svc('web', { ports: [{ port: 80 }] }), undefined, portsInUse(held.slice(1)), small).service
        .spec!.clusterIP,
    ).toBe('10.0.0.2');
    expect(
      assignServicePorts(svc('web', { ports: [{ port: 80 }] }), undefined, portsInUse(held), small).problems,
    ).toEqual([{ path: ['spec', 'clusterIP'], message: 'no ClusterIP is free in 10.0.0.0/28' }]);
  });
  it('parses ranges and reverse names', () => {
    expect(parseCidr('10.100.3.4/12').text).toBe('10.96.0.0/12');
    expect(() => parseCidr('fd00::/108')).toThrow(/IPv6 service ranges are not supported/);
    expect(() => parseCidr('10.96.0.0')).toThrow(/is not a CIDR/);
    expect(reverseName('10.96.0.10')).toBe('10.0.96.10.in-addr.arpa');
    expect(addressOfReverseName('10.0.96.10.in-addr.arpa.')).toBe('10.96.0.10');
    expect(addressOfReverseName('x.in-addr.arpa')).toBeUndefined();
  });
});

describe('serviceEnv', () => {
  it('writes the Kubernetes variables, pointing at the node proxy', () => {
    const env = serviceEnv(
      [
        svc(
          'redis-primary',
          { ports: [{ name: 'redis', port: 6379 }] },
          { [PROXY_PORTS_ANNOTATION]: '6379/TCP=20007' },
        ),
      ],
      '127.0.0.2',
    );
    expect(env).toEqual({
      REDIS_PRIMARY_SERVICE_HOST: '127.0.0.2',
      REDIS_PRIMARY_SERVICE_PORT: '20007',
      REDIS_PRIMARY_SERVICE_PORT_REDIS: '20007',
      REDIS_PRIMARY_PORT: 'tcp://127.0.0.2:20007',
      REDIS_PRIMARY_PORT_20007_TCP: 'tcp://127.0.0.2:20007',
      REDIS_PRIMARY_PORT_20007_TCP_PROTO: 'tcp',
      REDIS_PRIMARY_PORT_20007_TCP_PORT: '20007',
      REDIS_PRIMARY_PORT_20007_TCP_ADDR: '127.0.0.2',
    });
  });
});

const pod = (
  name: string,
  o: {
    ready?: boolean;
    labels?: Record<string, string>;
    ports?: { name?: string; containerPort: number; hostPort: number }[];
    deleting?: boolean;
    phase?: string;
    node?: string;
  } = {},
) =>
  ({
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: 'web' },
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { nodeName: o.node ?? 'n1', containers: [{ name: 'c', image: 'x' }] },
    status: {
      phase: o.phase ?? 'Running',
      hostIP: o.node === 'n2' ? '127.0.0.3' : '127.0.0.2',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      hostPorts: (o.ports ?? [{ name: 'http', containerPort: 8080, hostPort: 40001 }]).map((p) => ({
        containerName: 'c',
        protocol: 'TCP',
        ...p,
      })),
    },
  }) as any;

describe('planEndpoints', () => {
  const service = { spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] } } as any;
  it('lists ready pods as addresses and the others as notReadyAddresses, at their host ports', () => {
    const subsets = planEndpoints(service, [
      pod('a'),
      pod('b', { ready: false, ports: [{ name: 'http', containerPort: 8080, hostPort: 40001 }] }),
      pod('c', { node: 'n2', ports: [{ name: 'http', containerPort: 8080, hostPort: 40002 }] }),
    ]);
    expect(subsets).toEqual([
      {
        addresses: [
          expect.objectContaining({
            ip: '127.0.0.2',
            nodeName: 'n1',
            targetRef: expect.objectContaining({ name: 'a' }),
          }),
        ],
        notReadyAddresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'b' }) })],
        ports: [{ name: 'web', port: 40001, protocol: 'TCP' }],
      },
      {
        addresses: [expect.objectContaining({ ip: '127.0.0.3', nodeName: 'n2' })],
        ports: [{ name: 'web', port: 40002, protocol: 'TCP' }],
      },
    ]);
    expect(readyEndpoints({ subsets }, 'web').map((t) => `${t.ip}:${t.port}`)).toEqual([
      '127.0.0.2:40001',
      '127.0.0.3:40002',
    ]);
  });
  it('leaves out terminating, finished, unselected and unpublished pods; resolves a numeric targetPort', () => {
    const byNumber = { spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } } as any;
    const subsets = planEndpoints(byNumber, [
      pod('gone', { deleting: true }),
      pod('done', { phase: 'Succeeded' }),
      pod('other', { labels: { app: 'db' } }),
      pod('closed', { ports: [] }),
      pod('ok'),
    ]);
    expect(subsets).toEqual([
      {
        addresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'ok' }) })],
        ports: [{ port: 40001, protocol: 'TCP' }],
      },
    ]);
  });
});

describe('EndpointSlices from endpoints', () => {
  const address = (ip: string, name: string) => ({
    ip,
    nodeName: 'n1',
    targetRef: { kind: 'Pod', namespace: 'default', name },
  });
  it('one slice per port set; ready endpoints ready and serving, the others neither; names stable per port set', () => {
    const subsets = [
      {
        addresses: [address('127.0.0.2', 'a')],
        notReadyAddresses: [address('127.0.0.3', 'b')],
        ports: [{ port: 30001, protocol: 'TCP' as const }],
      },
      { addresses: [address('127.0.0.2', 'c')], ports: [{ name: 'http', port: 30002 }] },
    ];
    const slices = planSlices('web', subsets);
    expect(slices.map((s) => s.ports)).toEqual([
      [{ name: '', port: 30001, protocol: 'TCP' }],
      [{ name: 'http', port: 30002, protocol: 'TCP' }],
    ]);
    expect(
      slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions.ready, e.conditions.serving, e.targetRef?.name]),
    ).toEqual([
      ['127.0.0.2', true, true, 'a'],
      ['127.0.0.3', false, false, 'b'],
    ]);
    expect(slices.every((s) => /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/.test(s.name))).toBe(true);
    expect(planSlices('web', subsets).map((s) => s.name)).toEqual(slices.map((s) => s.name));
    expect(new Set(slices.map((s) => s.name)).size).toBe(2);
    expect(planSlices('web', [])).toEqual([]);
  });
});
