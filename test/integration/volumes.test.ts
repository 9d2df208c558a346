/**
 * The PersistentVolume controller over a SQLite store, with the other controllers: static volumes
 * bind to the claims they fit (and no other), local-path volumes are made on the node chosen for a
 * claim's first pod, and a volume whose claim goes is Released (Retain) or deleted (Delete).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  InformerFactory,
  ObjectWriter,
  storeEventSink,
} from '../../src/runtime/index.js';
import { Scheduler } from '../../src/scheduler/index.js';
import { openStore, type RevisionedStore } from '../../src/store/index.js';
import { startHarness, type Harness } from '../helpers/controllers.js';

const PV = { group: '', kind: 'PersistentVolume' };
const PVC = { group: '', kind: 'PersistentVolumeClaim' };
const EVENT = { group: '', kind: 'Event' };

const volume = (name: string, storage: string, o: { labels?: Record<string, string>; reclaim?: string } = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
  spec: {
    capacity: { storage },
    accessModes: ['ReadWriteOnce'],
    storageClassName: '',
    persistentVolumeReclaimPolicy: o.reclaim ?? 'Retain',
    hostPath: { path: `/srv/${name}` },
  },
});
const claim = (name: string, storage: string, o: { cls?: string; selector?: Record<string, string> } = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: 'default' },
  spec: {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage } },
    ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
    ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
  },
});

describe('PersistentVolumes and claims', () => {
  let dir: string;
  let store: RevisionedStore;
  let h: Harness;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-volumes-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
    h = startHarness(store);
  });
  afterEach(async () => {
    await h.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** The default class the server ships, and a node whose agent keeps its data in `dataDir`. */
  const localPathWithNode = async (node: string, dataDir: string) => {
    await h.create({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'berth.dev/local-path',
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Delete',
    });
    await store.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node, uid: node, annotations: { 'berth.dev/data-dir': dataDir } },
    });
  };
  const get = async (kind: typeof PV, name: string, namespace = '') =>
    (await h.list<any>(kind, namespace || undefined)).find((o) => o.metadata.name === name);

  it('binds a claim to the smallest volume that fits and its selector matches; the others stay Available', async () => {
    await h.create(volume('small', '1Gi'));
    await h.create(volume('large', '10Gi'));
    await h.create(volume('labelled', '5Gi', { labels: { tier: 'db' } }));
    await h.create(claim('logs', '1Gi', { cls: '' }));
    await h.create(claim('db', '2Gi', { cls: '', selector: { tier: 'db' } }));
    const bound = await h.until('both claims Bound', async () => {
      const [logs, db] = [await get(PVC, 'logs', 'default'), await get(PVC, 'db', 'default')];
      return logs?.status?.phase === 'Bound' && db?.status?.phase === 'Bound' && { logs, db };
    });
    expect(bound.logs.spec.volumeName).toBe('small');
    expect(bound.logs.status).toMatchObject({
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      path: '/srv/small',
    });
    expect(bound.db.spec.volumeName).toBe('labelled');
    await h.until('the volumes Bound and Available', async () => {
      const phases = Object.fromEntries((await h.list<any>(PV)).map((v) => [v.metadata.name, v.status?.phase]));
      return JSON.stringify(phases) === JSON.stringify({ labelled: 'Bound', large: 'Available', small: 'Bound' });
    });
    expect((await get(PV, 'small')).spec.claimRef).toMatchObject({ namespace: 'default', name: 'logs' });
    // Nothing fits a third claim: it stays Pending, saying why.
    await h.create(claim('more', '50Gi', { cls: '' }));
    await h.until('the reason as an Event', async () =>
      (await h.list<any>(EVENT, 'default')).some(
        (e) => e.reason === 'FailedBinding' && e.involvedObject.name === 'more',
      ),
    );
    expect((await get(PVC, 'more', 'default')).status?.phase).toBe('Pending');
  });

  it('makes a local-path volume on the node its first pod was given, in that node’s data directory', async () => {
    await localPathWithNode('n2', '/var/lib/berth/agent-n2');
    await h.create(claim('data', '3Gi'));
    await h.until('waiting for its first consumer', async () =>
      (await h.list<any>(EVENT, 'default')).some((e) => e.reason === 'WaitForFirstConsumer'),
    );
    expect(await h.list(PV)).toEqual([]);
    // The scheduler (or a StatefulSet) says where the first pod went.
    await h.modify(PVC, 'data', (c) => {
      c.metadata.annotations = { 'volume.kubernetes.io/selected-node': 'n2' };
    });
    const bound = await h.until('Bound', async () => {
      const c = await get(PVC, 'data', 'default');
      return c?.status?.phase === 'Bound' && c;
    });
    const made = await get(PV, bound.spec.volumeName);
    expect(made).toMatchObject({
      metadata: {
        name: `pvc-${bound.metadata.uid}`,
        annotations: { 'pv.kubernetes.io/provisioned-by': 'berth.dev/local-path' },
      },
      spec: {
        capacity: { storage: '3Gi' },
        storageClassName: 'local-path',
        persistentVolumeReclaimPolicy: 'Delete',
        hostPath: { path: '/var/lib/berth/agent-n2/claims/default/data', type: 'DirectoryOrCreate' },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n2'] }] },
            ],
          },
        },
      },
    });
    expect(bound.status).toMatchObject({ nodeName: 'n2', path: '/var/lib/berth/agent-n2/claims/default/data' });
    // Delete: the claim goes, its volume is deleted, and waits for its node's agent to remove its directory.
    expect(made.metadata.finalizers).toEqual(['berth.dev/local-path-cleanup']);
    await store.delete({ ...PVC, namespace: 'default', name: 'data' });
    const deleting = await h.until('the volume deleted', async () => {
      const v = await get(PV, made.metadata.name);
      return v?.metadata.deletionTimestamp && v;
    });
    expect(deleting.status.phase).toBe('Released');
  });

  it('a claim whose pod was bound without a node written on it (an older Berth) gets its volume on that pod’s node', async () => {
    await localPathWithNode('n3', '/data/n3');
    await h.create(claim('old', '1Gi'));
    await h.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'user', namespace: 'default' },
      spec: {
        nodeName: 'n3',
        containers: [{ name: 'c', image: 'busybox' }],
        volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'old' } }],
      },
    });
    const bound = await h.until('Bound', async () => {
      const c = await get(PVC, 'old', 'default');
      return c?.status?.phase === 'Bound' && c;
    });
    expect(bound.status).toMatchObject({ nodeName: 'n3', path: '/data/n3/claims/default/old' });
  });

  it('a claim deleted while a pod uses it waits for the pod to go (pvc-protection), then releases its volume', async () => {
    await h.create(volume('guarded', '1Gi'));
    const made = await h.create<any>(claim('in-use', '1Gi', { cls: '' }));
    expect(made.metadata.finalizers).toEqual(['kubernetes.io/pvc-protection']);
    await h.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'user', namespace: 'default' },
      spec: {
        containers: [{ name: 'c', image: 'busybox' }],
        volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'in-use' } }],
      },
    });
    const bound = await h.until('bound', async () => {
      const c = await get(PVC, 'in-use', 'default');
      return c?.status?.phase === 'Bound' && c;
    });
    await new ObjectWriter(store).delete(bound);
    await h.until('told why it waits', async () =>
      (await h.list<any>(EVENT, 'default')).some(
        (e) => e.reason === 'WaitingForPods' && e.message.includes('pod user no longer uses it'),
      ),
    );
    await h.settled();
    expect((await get(PVC, 'in-use', 'default')).metadata.deletionTimestamp).toEqual(expect.any(String));
    expect((await get(PV, 'guarded')).status.phase).toBe('Bound');
    await store.delete({ group: '', kind: 'Pod', namespace: 'default', name: 'user' });
    await h.until('the claim gone', async () => !(await get(PVC, 'in-use', 'default')));
    await h.until('its volume Released', async () => (await get(PV, 'guarded'))?.status?.phase === 'Released');
  });

  it('a StatefulSet pod whose claim lives on a lost node stays Pending, saying why, and is not placed elsewhere', async () => {
    // The scheduler, as the server runs it beside the controllers.
    const abort = new AbortController();
    const informers = new InformerFactory(store);
    const events = new EventBroadcaster(new EventRecorder(storeEventSink(store), { component: 'test-scheduler' }));
    const scheduler = new Scheduler({ informers, writer: new ObjectWriter(store), events, now: Date.now });
    const scheduling = new ControllerManager(informers, [scheduler]).start(abort.signal);
    try {
      await localPathWithNode('n1', '/data/n1');
      const readyNode = (name: string) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'kubernetes.io/hostname': name } },
        spec: {},
        status: {
          allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      });
      // n1 as a Ready node (localPathWithNode made it without a status), n2 beside it.
      await h.modify(
        { group: '', kind: 'Node' },
        'n1',
        (n) =>
          Object.assign(n, readyNode('n1'), { metadata: { ...n.metadata, labels: readyNode('n1').metadata.labels } }),
        '',
      );
      await h.create(readyNode('n2'));
      await h.create({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: 'default' },
        spec: {
          serviceName: 'db',
          replicas: 1,
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: { nodeSelector: { 'kubernetes.io/hostname': 'n1' }, containers: [{ name: 'c', image: 'busybox' }] },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
            },
          ],
        },
      });
      const pod = (await h.until('db-0 on n1 with its claim bound', async () => {
        const p = await get({ group: '', kind: 'Pod' }, 'db-0', 'default');
        const c = await get(PVC, 'data-db-0', 'default');
        return p?.spec?.nodeName === 'n1' && c?.status?.phase === 'Bound' && p;
      })) as { metadata: { uid: string } };
      // n1 is lost for good (its Node deleted), and the pod with it; the StatefulSet makes db-0 again,
      // now free to go anywhere but for its claim.
      await store.delete({ group: '', kind: 'Node', namespace: '', name: 'n1' });
      await h.modify({ group: 'apps', kind: 'StatefulSet' }, 'db', (sts) => {
        delete sts.spec.template.spec.nodeSelector;
      });
      await store.delete({ group: '', kind: 'Pod', namespace: 'default', name: 'db-0' });
      const again = await h.until('the new db-0 unschedulable', async () => {
        const p = await get({ group: '', kind: 'Pod' }, 'db-0', 'default');
        const scheduled = p?.status?.conditions?.find((c: { type: string }) => c.type === 'PodScheduled');
        return p && p.metadata.uid !== pod.metadata.uid && scheduled?.status === 'False' && p;
      });
      expect(again.spec.nodeName).toBeUndefined();
      expect(again.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled')).toMatchObject({
        reason: 'Unschedulable',
        message: '0/1 nodes are available: 1 node(s) had volume node affinity conflict.',
      });
      expect((await get(PVC, 'data-db-0', 'default')).status.phase).toBe('Bound');
    } finally {
      abort.abort();
      await scheduling;
      await events.flush();
    }
  });

  it('a volume whose claim is gone is Released with Retain (not bound again), deleted with Delete', async () => {
    await h.create(volume('kept', '1Gi'));
    await h.create(claim('a', '1Gi', { cls: '' }));
    await h.until('bound', async () => (await get(PV, 'kept'))?.status?.phase === 'Bound');
    await store.delete({ ...PVC, namespace: 'default', name: 'a' });
    await h.until('Released', async () => (await get(PV, 'kept'))?.status?.phase === 'Released');
    await h.create(claim('b', '1Gi', { cls: '' }));
    await h.settled();
    expect((await get(PVC, 'b', 'default')).status?.phase).toBe('Pending');

    await h.create(volume('dropped', '1Gi', { reclaim: 'Delete' }));
    await h.until(
      'b bound to the new one',
      async () => (await get(PVC, 'b', 'default'))?.spec?.volumeName === 'dropped',
    );
    await store.delete({ ...PVC, namespace: 'default', name: 'b' });
    await h.until('deleted', async () => !(await get(PV, 'dropped')));
    expect((await get(PV, 'kept')).status.phase).toBe('Released');
  });
});
