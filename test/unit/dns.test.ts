/** Cluster DNS: the records (CoreDNS' kubernetes plugin's shapes), pods' resolv.conf and hosts, and the server over real UDP and TCP. */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsIndex } from '../../src/network/dns.js';
import { ClusterDns } from '../../src/network/dns-server.js';
import type { ClusterView } from '../../src/network/view.js';
import { podDns, podHosts, renderResolvConf } from '../../src/agent/dns-config.js';
import type { PodObject } from '../../src/agent/resolve.js';

const service = (name: string, namespace: string, spec: object) => ({ metadata: { name, namespace }, spec }) as never;
const SERVICES = [
  service('api', 'default', {
    clusterIP: '10.96.1.0',
    ports: [
      { name: 'http', port: 80, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
  }),
  service('db', 'default', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }),
  service('empty', 'default', { clusterIP: 'None', ports: [{ port: 80 }] }),
  service('search', 'shop', { type: 'ExternalName', externalName: 'search.example.com' }),
  service('alias', 'shop', { type: 'ExternalName', externalName: 'api.default.svc.cluster.local' }),
];
const ENDPOINTS = new Map([
  [
    'default/db',
    {
      metadata: { name: 'db', namespace: 'default' },
      subsets: [
        {
          addresses: [
            { ip: '127.0.0.41', hostname: 'db-0' },
            { ip: '127.0.0.42', hostname: 'db-1' },
          ],
          notReadyAddresses: [{ ip: '127.0.0.43', hostname: 'db-2' }],
          ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
        },
      ],
    },
  ],
  [
    'default/api',
    {
      metadata: { name: 'api', namespace: 'default' },
      subsets: [{ addresses: [{ ip: '127.0.0.41' }], ports: [{ name: 'http', port: 31000 }] }],
    },
  ],
]) as never;
const index = new DnsIndex('cluster.local', SERVICES, ENDPOINTS);

type Row = [string, string, string, { rcode?: string; answers?: string[]; additionals?: string[]; forward?: boolean }];
const show = (r: { type: string; name: string; data: unknown }) =>
  `${r.name} ${r.type} ${typeof r.data === 'string' ? r.data : Object.values(r.data as object).join(' ')}`;

describe('DnsIndex', () => {
  it.each<Row>([
    [
      'a Service: its ClusterIP',
      'api.default.svc.cluster.local',
      'A',
      { answers: ['api.default.svc.cluster.local A 10.96.1.0'] },
    ],
    [
      'case and the trailing dot do not matter',
      'API.Default.svc.cluster.local.',
      'A',
      { answers: ['API.Default.svc.cluster.local. A 10.96.1.0'] },
    ],
    [
      'a headless Service: its ready pods only',
      'db.default.svc.cluster.local',
      'A',
      { answers: ['db.default.svc.cluster.local A 127.0.0.41', 'db.default.svc.cluster.local A 127.0.0.42'] },
    ],
    [
      'a StatefulSet pod by its hostname',
      'db-1.db.default.svc.cluster.local',
      'A',
      { answers: ['db-1.db.default.svc.cluster.local A 127.0.0.42'] },
    ],
    ['a pod that is not ready: no name', 'db-2.db.default.svc.cluster.local', 'A', { rcode: 'NXDOMAIN' }],
    ['a headless Service without ready pods', 'empty.default.svc.cluster.local', 'A', { rcode: 'NXDOMAIN' }],
    [
      'SRV of a named port',
      '_http._tcp.api.default.svc.cluster.local',
      'SRV',
      {
        answers: ['_http._tcp.api.default.svc.cluster.local SRV 0 100 80 api.default.svc.cluster.local'],
        additionals: ['api.default.svc.cluster.local A 10.96.1.0'],
      },
    ],
    [
      'SRV of a UDP port',
      '_dns._udp.api.default.svc.cluster.local',
      'SRV',
      { answers: ['_dns._udp.api.default.svc.cluster.local SRV 0 100 53 api.default.svc.cluster.local'] },
    ],
    [
      'SRV of a headless Service: each pod and its port',
      '_pg._tcp.db.default.svc.cluster.local',
      'SRV',
      {
        answers: [
          '_pg._tcp.db.default.svc.cluster.local SRV 0 50 5432 db-0.db.default.svc.cluster.local',
          '_pg._tcp.db.default.svc.cluster.local SRV 0 50 5432 db-1.db.default.svc.cluster.local',
        ],
        additionals: [
          'db-0.db.default.svc.cluster.local A 127.0.0.41',
          'db-1.db.default.svc.cluster.local A 127.0.0.42',
        ],
      },
    ],
    [
      'ExternalName: a CNAME, its target looked up outside',
      'search.shop.svc.cluster.local',
      'A',
      { answers: ['search.shop.svc.cluster.local CNAME search.example.com'] },
    ],
    [
      'ExternalName inside the cluster: followed here',
      'alias.shop.svc.cluster.local',
      'A',
      {
        answers: [
          'alias.shop.svc.cluster.local CNAME api.default.svc.cluster.local',
          'api.default.svc.cluster.local A 10.96.1.0',
        ],
      },
    ],
    ['AAAA of an existing name: no data', 'api.default.svc.cluster.local', 'AAAA', { rcode: 'NOERROR', answers: [] }],
    ['a namespace: exists, no data', 'default.svc.cluster.local', 'A', { rcode: 'NOERROR', answers: [] }],
    ['an unknown Service', 'nope.default.svc.cluster.local', 'A', { rcode: 'NXDOMAIN' }],
    ['a search-path miss for an outside name', 'example.com.default.svc.cluster.local', 'A', { rcode: 'NXDOMAIN' }],
    [
      'a pod by its dashed address',
      '10-1-2-3.default.pod.cluster.local',
      'A',
      { answers: ['10-1-2-3.default.pod.cluster.local A 10.1.2.3'] },
    ],
    [
      'PTR of a ClusterIP',
      '0.1.96.10.in-addr.arpa',
      'PTR',
      { answers: ['0.1.96.10.in-addr.arpa PTR api.default.svc.cluster.local'] },
    ],
    [
      'PTR of a named pod',
      '42.0.0.127.in-addr.arpa',
      'PTR',
      { answers: ['42.0.0.127.in-addr.arpa PTR db-1.db.default.svc.cluster.local'] },
    ],
    ['an outside name: forwarded', 'example.com', 'A', { forward: true }],
    ['an unknown reverse name: forwarded', '8.8.8.8.in-addr.arpa', 'PTR', { forward: true }],
  ])('%s', (_, name, type, want) => {
    const got = index.answer(name, type);
    if (want.forward) return expect(got.kind).toBe('forward');
    if (got.kind !== 'answer') throw new Error('forwarded');
    expect(got.rcode).toBe(want.rcode ?? 'NOERROR');
    if (want.answers) expect(got.answers.map(show)).toEqual(want.answers);
    if (want.additionals) expect(got.additionals.map(show)).toEqual(want.additionals);
    if (got.rcode === 'NXDOMAIN' || !got.answers.length) expect(got.authorities.map((a) => a.type)).toEqual(['SOA']);
    if (name === 'search.shop.svc.cluster.local') expect(got.chase).toBe('search.example.com');
  });
  it('serves another cluster domain', () => {
    const other = new DnsIndex('corp.internal', SERVICES, ENDPOINTS);
    expect(other.answer('api.default.svc.corp.internal', 'A')).toMatchObject({
      rcode: 'NOERROR',
      answers: [{ data: '10.96.1.0' }],
    });
    expect(other.answer('api.default.svc.cluster.local', 'A').kind).toBe('forward');
  });
});

const pod = (spec: object, name = 'web-0', namespace = 'shop'): PodObject =>
  ({ metadata: { name, namespace }, spec: { containers: [], ...spec } }) as unknown as PodObject;
const NODE = {
  nameserver: '127.0.0.41',
  domain: 'cluster.local',
  hostResolvConf: 'nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n',
};

describe('pod resolv.conf and hosts', () => {
  it.each([
    [
      'ClusterFirst (the default)',
      {},
      NODE,
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 127.0.0.41\noptions ndots:5\n',
    ],
    ['hostNetwork falls back to the node', { hostNetwork: true }, NODE, undefined],
    [
      'ClusterFirstWithHostNet',
      { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' },
      NODE,
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 127.0.0.41\noptions ndots:5\n',
    ],
    ['Default', { dnsPolicy: 'Default' }, NODE, undefined],
    [
      'Default with dnsConfig',
      { dnsPolicy: 'Default', dnsConfig: { searches: ['extra.example'] } },
      NODE,
      'search corp.example extra.example\nnameserver 10.0.0.2\noptions edns0\n',
    ],
    [
      'None: dnsConfig alone',
      {
        dnsPolicy: 'None',
        dnsConfig: {
          nameservers: ['1.1.1.1'],
          searches: ['a.example'],
          options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
        },
      },
      NODE,
      'search a.example\nnameserver 1.1.1.1\noptions ndots:2 edns0\n',
    ],
    [
      'dnsConfig options override by name',
      { dnsConfig: { options: [{ name: 'ndots', value: '1' }] } },
      NODE,
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 127.0.0.41\noptions ndots:1\n',
    ],
    ["no cluster DNS on the node: the node's", {}, { ...NODE, nameserver: undefined }, undefined],
  ] as const)('%s', (_, spec, node, want) => {
    const dns = podDns(pod(spec), node as typeof NODE);
    expect(dns ? renderResolvConf(dns) : undefined).toBe(want);
  });
  it('writes the kubelet hosts file: the FQDN with a subdomain, then hostAliases', () => {
    const hosts = podHosts(
      pod({
        hostname: 'web-0',
        subdomain: 'web',
        hostAliases: [{ ip: '10.1.1.1', hostnames: ['foo.local', 'bar.local'] }],
      }),
      '127.0.0.41',
      'cluster.local',
    );
    expect(hosts.split('\n').slice(0, 2)).toEqual(['# Kubernetes-managed hosts file.', '127.0.0.1\tlocalhost']);
    expect(hosts).toContain('127.0.0.41\tweb-0.web.shop.svc.cluster.local\tweb-0\n');
    expect(hosts).toMatch(/\n# Entries added by HostAliases\.\n10\.1\.1\.1\tfoo\.local\tbar\.local\n$/);
    expect(podHosts(pod({}, 'api-7d9'), '127.0.0.41', 'cluster.local')).toContain('127.0.0.41\tapi-7d9\n');
  });
});

describe('ClusterDns over UDP and TCP', () => {
  // A view as the network's ClusterView keeps it (filled from the API's watches in the product).
  const view = {
    services: new Map(
      SERVICES.map((s: { metadata: { name: string; namespace: string } }) => [
        `${s.metadata.namespace}/${s.metadata.name}`,
        s,
      ]),
    ),
    endpoints: ENDPOINTS,
    onChange: () => undefined,
  } as unknown as ClusterView;
  let upstream: ReturnType<typeof createSocket>;
  let dns: ClusterDns;
  beforeAll(async () => {
    // An upstream resolver of the test's own, answering every name with 192.0.2.1.
    upstream = createSocket('udp4');
    upstream.on('message', (m, from) => {
      const q = dnsPacket.decode(m);
      upstream.send(
        dnsPacket.encode({
          id: q.id,
          type: 'response',
          flags: dnsPacket.RECURSION_AVAILABLE,
          questions: q.questions,
          answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '192.0.2.1' }],
        }),
        from.port,
        from.address,
      );
    });
    await new Promise<void>((r) => upstream.bind(53, '127.0.0.53', () => r())).catch(() => undefined);
    dns = new ClusterDns(view, { hosts: ['127.0.0.1'], port: 0, domain: 'cluster.local', upstreams: ['127.0.0.53'] });
    await dns.listen();
  });
  afterAll(async () => {
    await dns.close();
    upstream.close();
  });
  const udp = (name: string, type: dnsPacket.RecordType, edns?: number) =>
    new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.on('message', (m) => {
        socket.close();
        resolve(dnsPacket.decode(m));
      });
      socket.on('error', reject);
      const additionals = edns ? [{ type: 'OPT' as const, name: '.', udpPayloadSize: edns }] : [];
      socket.send(
        dnsPacket.encode({
          type: 'query',
          id: 7,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type, name }],
          additionals: additionals as never,
        }),
        dns.port,
        '127.0.0.1',
      );
    });
  it('answers a Service name authoritatively', async () => {
    const reply = await udp('api.default.svc.cluster.local', 'A');
    expect(reply).toMatchObject({
      id: 7,
      rcode: 'NOERROR',
      flag_aa: true,
      answers: [{ type: 'A', data: '10.96.1.0', ttl: 5 }],
    });
  });
  it("answers a repeated question from its cache, with each query's id and case", async () => {
    const query = (id: number, name: string) =>
      dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
    const first = dnsPacket.decode((await dns.respond(query(11, 'api.default.svc.cluster.local'), 'udp'))!);
    const again = dnsPacket.decode((await dns.respond(query(12, 'api.default.svc.cluster.local'), 'udp'))!);
    expect(again).toEqual({ ...first, id: 12 });
    const upper = dnsPacket.decode((await dns.respond(query(13, 'API.default.svc.cluster.local'), 'udp'))!);
    expect(upper.questions![0]!.name).toBe('API.default.svc.cluster.local');
    expect(upper.answers).toMatchObject([{ data: '10.96.1.0' }]);
  });
  it('answers NXDOMAIN with the SOA', async () => {
    const reply = await udp('nope.default.svc.cluster.local', 'A');
    expect((reply as { rcode?: string }).rcode).toBe('NXDOMAIN');
    expect(reply.authorities?.[0]).toMatchObject({ type: 'SOA', name: 'cluster.local' });
  });
  it('forwards other names, and an ExternalName target', async () => {
    expect((await udp('example.com', 'A')).answers).toMatchObject([{ type: 'A', data: '192.0.2.1' }]);
    expect((await udp('search.shop.svc.cluster.local', 'A')).answers).toMatchObject([
      { type: 'CNAME', data: 'search.example.com' },
      { type: 'A', name: 'search.example.com', data: '192.0.2.1' },
    ]);
  });
  it('answers over TCP, several queries on one connection', async () => {
    const socket = connect(dns.port, '127.0.0.1');
    const replies: dnsPacket.DecodedPacket[] = [];
    let buffered = Buffer.alloc(0);
    const done = new Promise<void>((resolve) =>
      socket.on('data', (d) => {
        buffered = Buffer.concat([buffered, d]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          replies.push(dnsPacket.decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
        }
        if (replies.length === 2) resolve();
      }),
    );
    socket.write(
      Buffer.concat([
        dnsPacket.streamEncode({
          type: 'query',
          id: 1,
          questions: [{ type: 'A', name: 'api.default.svc.cluster.local' }],
        }),
        dnsPacket.streamEncode({
          type: 'query',
          id: 2,
          questions: [{ type: 'SRV', name: '_pg._tcp.db.default.svc.cluster.local' }],
        }),
      ]),
    );
    await done;
    socket.destroy();
    expect(replies.map((r) => [r.id, r.answers?.length])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });
  it('truncates a UDP answer larger than 512 bytes; the client asks again over TCP', async () => {
    const many = {
      metadata: { name: 'big', namespace: 'default' },
      subsets: [
        { addresses: Array.from({ length: 60 }, (_, i) => ({ ip: `127.1.0.${i + 1}` })), ports: [{ port: 80 }] },
      ],
    };
    const bigView = {
      services: new Map([['default/big', service('big', 'default', { clusterIP: 'None', ports: [{ port: 80 }] })]]),
      endpoints: new Map([['default/big', many]]),
      onChange: () => undefined,
    } as unknown as ClusterView;
    const big = new ClusterDns(bigView, { hosts: ['127.0.0.1'], port: 0, domain: 'cluster.local', upstreams: [] });
    await big.listen();
    try {
      const query = dnsPacket.encode({
        type: 'query',
        id: 3,
        questions: [{ type: 'A', name: 'big.default.svc.cluster.local' }],
      });
      const truncated = dnsPacket.decode((await big.respond(query, 'udp'))!);
      expect(truncated.flag_tc).toBe(true);
      expect(truncated.answers).toEqual([]);
      expect(dnsPacket.decode((await big.respond(query, 'tcp'))!).answers).toHaveLength(60);
    } finally {
      await big.close();
    }
  });
});
