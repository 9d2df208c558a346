/** Service ports (NodePorts, proxy ports), Service environment variables, and Endpoints planning. */
import { describe, expect, it } from 'vitest';
import { assignServicePorts, portsInUse, proxyPortsOf, readyEndpoints, serviceEnv, PROXY_PORTS_ANNOTATION, type ServiceObject } from '../../src/api/services.js';
import { planEndpoints, planSlices } from '../../src/controllers/endpoints/plan.js';

const svc = (name: string, spec: ServiceObject['spec'], annotations?: Record<string, string>): ServiceObject => ({ metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec } as ServiceObject);

describe('assignServicePorts', () => {
  it('allocates a NodePort and a proxy port per port; keeps them on update', () => {
    const inUse = portsInUse([svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] }, { [PROXY_PORTS_ANNOTATION]: '80/TCP=20000' })]);
    const { service, problems } = assignServicePorts(svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }), undefined, inUse);
    expect(problems).toEqual([]);
    expect(service.spec!.ports!.map((p) => p.nodePort)).toEqual([30001, 30002]);
    expect([...proxyPortsOf(service)]).toEqual([['80/TCP', 20001], ['443/TCP', 20002]]);
    // An update that leaves nodePort out keeps what was given.
    const again = assignServicePorts(svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] }), service, portsInUse([], undefined));
    expect(again.service.spec!.ports![0]!.nodePort).toBe(30001);
    expect(proxyPortsOf(again.service).get('80/TCP')).toBe(20001);
  });
  it('rejects a NodePort another Service holds, naming it', () => {
    const inUse = portsInUse([svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })]);
    const { problems } = assignServicePorts(svc('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }), undefined, inUse);
    expect(problems).toEqual([{ path: ['spec', 'ports', 0, 'nodePort'], message: 'provided port 30080 is already allocated (to Service default/other)' }]);
  });
  it('gives ClusterIP Services proxy ports but no NodePorts; ExternalName neither', () => {
    const inUse = portsInUse([]);
    expect(assignServicePorts(svc('a', { type: 'ClusterIP', ports: [{ port: 80 }] }), undefined, inUse).service.spec!.ports![0]!.nodePort).toBeUndefined();
    expect(proxyPortsOf(assignServicePorts(svc('b', { type: 'ExternalName', externalName: 'x.example.com' }), undefined, inUse).service).size).toBe(0);
  });
});

describe('serviceEnv', () => {
  it('writes the Kubernetes variables, pointing at the node proxy', () => {
    const env = serviceEnv([svc('redis-primary', { ports: [{ name: 'redis', port: 6379 }] }, { [PROXY_PORTS_ANNOTATION]: '6379/TCP=20007' })], '127.0.0.2');
    expect(env).toEqual({
      REDIS_PRIMARY_SERVICE_HOST: '127.0.0.2', REDIS_PRIMARY_SERVICE_PORT: '20007', REDIS_PRIMARY_SERVICE_PORT_REDIS: '20007',
      REDIS_PRIMARY_PORT: 'tcp://127.0.0.2:20007', REDIS_PRIMARY_PORT_20007_TCP: 'tcp://127.0.0.2:20007',
      REDIS_PRIMARY_PORT_20007_TCP_PROTO: 'tcp', REDIS_PRIMARY_PORT_20007_TCP_PORT: '20007', REDIS_PRIMARY_PORT_20007_TCP_ADDR: '127.0.0.2',
    });
  });
});

const pod = (name: string, o: { ready?: boolean; labels?: Record<string, string>; ports?: { name?: string; containerPort: number; hostPort: number }[]; deleting?: boolean; phase?: string; node?: string } = {}) => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: o.node ?? 'n1', containers: [{ name: 'c', image: 'x' }] },
  status: { phase: o.phase ?? 'Running', hostIP: o.node === 'n2' ? '127.0.0.3' : '127.0.0.2', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }], hostPorts: (o.ports ?? [{ name: 'http', containerPort: 8080, hostPort: 40001 }]).map((p) => ({ containerName: 'c', protocol: 'TCP', ...p })) },
}) as any;

describe('planEndpoints', () => {
  const service = { spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] } } as any;
  it('lists ready pods as addresses and the others as notReadyAddresses, at their host ports', () => {
    const subsets = planEndpoints(service, [pod('a'), pod('b', { ready: false, ports: [{ name: 'http', containerPort: 8080, hostPort: 40001 }] }), pod('c', { node: 'n2', ports: [{ name: 'http', containerPort: 8080, hostPort: 40002 }] })]);
    expect(subsets).toEqual([
      { addresses: [expect.objectContaining({ ip: '127.0.0.2', nodeName: 'n1', targetRef: expect.objectContaining({ name: 'a' }) })], notReadyAddresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'b' }) })], ports: [{ name: 'web', port: 40001, protocol: 'TCP' }] },
      { addresses: [expect.objectContaining({ ip: '127.0.0.3', nodeName: 'n2' })], ports: [{ name: 'web', port: 40002, protocol: 'TCP' }] },
    ]);
    expect(readyEndpoints({ subsets }, 'web').map((t) => `${t.ip}:${t.port}`)).toEqual(['127.0.0.2:40001', '127.0.0.3:40002']);
  });
  it('leaves out terminating, finished, unselected and unpublished pods; resolves a numeric targetPort', () => {
    const byNumber = { spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } } as any;
    const subsets = planEndpoints(byNumber, [pod('gone', { deleting: true }), pod('done', { phase: 'Succeeded' }), pod('other', { labels: { app: 'db' } }), pod('closed', { ports: [] }), pod('ok')]);
    expect(subsets).toEqual([{ addresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'ok' }) })], ports: [{ port: 40001, protocol: 'TCP' }] }]);
  });
});

describe('EndpointSlices from endpoints', () => {
  const address = (ip: string, name: string) => ({ ip, nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name } });
  it('one slice per port set; ready endpoints ready and serving, the others neither; names stable per port set', () => {
    const subsets = [
      { addresses: [address('127.0.0.2', 'a')], notReadyAddresses: [address('127.0.0.3', 'b')], ports: [{ port: 30001, protocol: 'TCP' as const }] },
      { addresses: [address('127.0.0.2', 'c')], ports: [{ name: 'http', port: 30002 }] },
    ];
    const slices = planSlices('web', subsets);
    expect(slices.map((s) => s.ports)).toEqual([[{ name: '', port: 30001, protocol: 'TCP' }], [{ name: 'http', port: 30002, protocol: 'TCP' }]]);
    expect(slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions.ready, e.conditions.serving, e.targetRef?.name])).toEqual([['127.0.0.2', true, true, 'a'], ['127.0.0.3', false, false, 'b']]);
    expect(slices.every((s) => /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/.test(s.name))).toBe(true);
    expect(planSlices('web', subsets).map((s) => s.name)).toEqual(slices.map((s) => s.name));
    expect(new Set(slices.map((s) => s.name)).size).toBe(2);
    expect(planSlices('web', [])).toEqual([]);
  });
});
