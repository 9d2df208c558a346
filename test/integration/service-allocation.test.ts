/**
 * ClusterIPs, NodePorts and proxy ports are never handed out twice: two API servers (two
 * registries over one store, as two `berth server`s over one etcd) and a sync writing Services at
 * the same moment each get their own; a given ClusterIP is honoured once; the address stays on
 * update and a sync of a manifest that leaves it out is no difference.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/api/cidr.js';
import { proxyPortsOf, type ServiceObject } from '../../src/api/services.js';
import { Registry } from '../../src/server/registry.js';
import { route, type ResourceRequest } from '../../src/server/routes.js';
import type { KubeObject } from '../../src/store/index.js';
import { reconcileApplication } from '../../src/sync/index.js';
import {
  closeSyncFixture,
  createApplication,
  getApplication,
  openSyncFixture,
  type SyncFixture,
} from '../helpers/sync.js';

const CIDR = parseCidr('10.96.0.0/12');
type Svc = KubeObject & ServiceObject;
const body = (name: string, spec: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 80 }], ...spec },
});
const create = (registry: Registry, name: string, spec?: object) =>
  registry
    .create(
      route('POST', '/api/v1/namespaces/default/services', new URLSearchParams()) as ResourceRequest,
      body(name, spec),
    )
    .then((r) => r.object as Svc);

describe('service allocation', () => {
  let f: SyncFixture;
  beforeEach(async () => {
    f = await openSyncFixture('berth-alloc-');
    await f.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  });
  afterEach(() => closeSyncFixture(f));

  it('two servers and a sync racing never share a ClusterIP, NodePort or proxy port', async () => {
    const servers = [new Registry(f.store, undefined, CIDR), new Registry(f.store, undefined, CIDR)];
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++)
      files[`app/git-${i}.yaml`] =
        `apiVersion: v1\nkind: Service\nmetadata:\n  name: git-${i}\n  namespace: default\nspec:\n  type: NodePort\n  selector: {app: git}\n  ports: [{port: 80}]\n`;
    f.repo.write(files).commit('ten Services');
    await createApplication(f, 'app');
    const api = Array.from({ length: 20 }, (_, i) => create(servers[i % 2]!, `api-${i}`));
    const sync = reconcileApplication(
      { store: f.store, source: f.source, memo: f.memo, serviceCidr: CIDR },
      await getApplication(f.store, 'app'),
    );
    await Promise.all([...api, sync]);
    // A sync that lost a race to the API allocates again; if it ran out of attempts, the next reconcile writes.
    for (let i = 0; i < 3 && (await f.store.list({ group: '', kind: 'Service' })).items.length < 30; i++) {
      await reconcileApplication(
        { store: f.store, source: f.source, memo: f.memo, serviceCidr: CIDR },
        await getApplication(f.store, 'app'),
        { manual: true },
      );
    }
    const services = (await f.store.list<Svc>({ group: '', kind: 'Service' })).items;
    expect(services).toHaveLength(30);
    const ips = services.map((s) => s.spec!.clusterIP!);
    const nodePorts = services.map((s) => s.spec!.ports![0]!.nodePort!);
    const proxyPorts = services.map((s) => proxyPortsOf(s).get('80/TCP')!);
    for (const values of [ips, nodePorts, proxyPorts] as unknown[][]) expect(new Set(values).size).toBe(30);
    for (const s of services)
      expect(s.spec).toMatchObject({
        clusterIPs: [s.spec!.clusterIP!],
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
      });
  });

  it('a sync that loses the race for its wave allocates again, not keeping what it had picked', async () => {
    f.repo
      .write({
        'app/svc.yaml':
          'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports: [{port: 80}]\n',
      })
      .commit('a Service');
    await createApplication(f, 'app');
    // The API takes the ClusterIP and NodePort the sync picked, at the moment the sync writes its wave.
    const api = new Registry(f.store, undefined, CIDR);
    let raced = false;
    const store = new Proxy(f.store, {
      get(target, key, receiver) {
        if (key !== 'txn') return Reflect.get(target, key, receiver);
        return async (ops: Parameters<typeof target.txn>[0]) => {
          const picked = ops.find((o) => o.op === 'create' && o.object.kind === 'Service');
          if (picked && !raced) {
            raced = true;
            const spec = (picked as { object: Svc }).object.spec!;
            await create(api, 'api-took-it', {
              clusterIP: spec.clusterIP,
              ports: [{ port: 80, nodePort: spec.ports![0]!.nodePort }],
            });
          }
          return target.txn(ops);
        };
      },
    });
    const outcome = await reconcileApplication(
      { store, source: f.source, memo: f.memo, serviceCidr: CIDR },
      await getApplication(f.store, 'app'),
    );
    expect(raced).toBe(true);
    expect(outcome.result).toBe('synced');
    const [took, web] = await Promise.all(
      ['api-took-it', 'web'].map((name) =>
        f.store.get<Svc>({ group: '', kind: 'Service', namespace: 'default', name }),
      ),
    );
    expect(web!.spec!.clusterIP).not.toBe(took!.spec!.clusterIP);
    expect(web!.spec!.ports![0]!.nodePort).not.toBe(took!.spec!.ports![0]!.nodePort);
  });

  it('honours a given ClusterIP once, keeps it on update, refuses to change it', async () => {
    const registry = new Registry(f.store, undefined, CIDR);
    expect(
      (
        await create(registry, 'dns', {
          type: 'ClusterIP',
          clusterIP: '10.96.0.10',
          ports: [{ port: 53, protocol: 'UDP' }],
        })
      ).spec!.clusterIP,
    ).toBe('10.96.0.10');
    await expect(create(registry, 'dns2', { type: 'ClusterIP', clusterIP: '10.96.0.10' })).rejects.toThrow(
      /spec\.clusterIP: .*provided IP is already allocated \(to Service default\/dns\)/,
    );
    const headless = await create(registry, 'db', { type: 'ClusterIP', clusterIP: 'None' });
    expect(headless.spec).toMatchObject({ clusterIP: 'None', clusterIPs: ['None'] });
    const req = route('PUT', '/api/v1/namespaces/default/services/dns', new URLSearchParams()) as ResourceRequest;
    // An update without the address (a manifest that never had one) keeps it.
    const updated = await registry.update(
      req,
      body('dns', { type: 'ClusterIP', ports: [{ port: 5353, protocol: 'UDP' }] }),
    );
    expect((updated.object as Svc).spec!.clusterIP).toBe('10.96.0.10');
    await expect(registry.update(req, body('dns', { type: 'ClusterIP', clusterIP: '10.96.0.11' }))).rejects.toThrow(
      /field is immutable/,
    );
  });

  it('gives Services stored without a ClusterIP (by an older Berth) one when the server starts', async () => {
    await f.store.create({
      ...body('old', { type: 'ClusterIP' }),
      metadata: { name: 'old', namespace: 'default', uid: 'u1' },
    });
    await f.store.create({
      ...body('ext', { type: 'ExternalName', externalName: 'x.example.com', ports: [] }),
      metadata: { name: 'ext', namespace: 'default', uid: 'u2' },
    });
    expect(await new Registry(f.store, undefined, CIDR).allocateMissingClusterIPs()).toBe(1);
    expect(
      (await f.store.get<Svc>({ group: '', kind: 'Service', namespace: 'default', name: 'old' })).spec!.clusterIP,
    ).toBe('10.96.1.0');
    expect(await new Registry(f.store, undefined, CIDR).allocateMissingClusterIPs()).toBe(0);
  });

  it('syncs a Service without its ClusterIP as no difference, keeping the address', async () => {
    f.repo
      .write({
        'app/svc.yaml':
          'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n',
      })
      .commit('a Service');
    await createApplication(f, 'app');
    const deps = { store: f.store, source: f.source, memo: f.memo, serviceCidr: CIDR };
    await reconcileApplication(deps, await getApplication(f.store, 'app'));
    const first = await f.store.get<Svc>({ group: '', kind: 'Service', namespace: 'default', name: 'web' });
    expect(first.spec!.clusterIP).toMatch(/^10\.9[6-9]|^10\.1[01]/);
    const again = await reconcileApplication(deps, await getApplication(f.store, 'app'), { manual: true });
    expect(again.result).not.toBe('synced');
    const after = await f.store.get<Svc>({ group: '', kind: 'Service', namespace: 'default', name: 'web' });
    expect(after.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect((await getApplication(f.store, 'app')).status?.sync?.status).toBe('Synced');
  });
});
