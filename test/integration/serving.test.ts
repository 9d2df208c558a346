/** The ledger's "serving" moment: an Ingress's Services have ready endpoints on the current revision's pods. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { servesCurrentPods } from '../../src/sync/serving.js';

describe('servesCurrentPods', () => {
  let dir = '';
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-serving-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', ...extra });
  const owner = (kind: string, name: string) => ({
    ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: name, controller: true }],
  });
  const ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta('web'),
    spec: {
      rules: [
        {
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }],
          },
        },
      ],
    },
  };
  const endpointsOn = (pods: string[]) => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta('web'),
    subsets: [
      {
        addresses: pods.map((p) => ({ ip: '127.0.0.1', targetRef: { kind: 'Pod', namespace: 'default', name: p } })),
        ports: [{ port: 40000 }],
      },
    ],
  });

  it('waits for a router to publish the Ingress and for a pod of the Deployment revision behind it', async () => {
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('web', { annotations: { 'deployment.kubernetes.io/revision': '2' } }),
    } as never);
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: meta('web-old', {
        annotations: { 'deployment.kubernetes.io/revision': '1' },
        ...owner('Deployment', 'web'),
      }),
    } as never);
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: meta('web-new', {
        annotations: { 'deployment.kubernetes.io/revision': '2' },
        ...owner('Deployment', 'web'),
      }),
    } as never);
    await store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: meta('old-1', owner('ReplicaSet', 'web-old')),
    } as never);
    await store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: meta('new-1', owner('ReplicaSet', 'web-new')),
    } as never);
    const created = await store.create({ ...ingress, status: {} } as never);
    await store.create(endpointsOn(['old-1']) as never);
    expect(await servesCurrentPods(store, [ingress as never])).toBe(false); // not published
    await store.update({
      ...(created as object),
      status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } },
    } as never);
    expect(await servesCurrentPods(store, [ingress as never])).toBe(false); // only the old revision serves
    const ep = await store.get({ group: '', kind: 'Endpoints', namespace: 'default', name: 'web' });
    await store.update({ ...endpointsOn(['old-1', 'new-1']), metadata: ep.metadata } as never);
    expect(await servesCurrentPods(store, [ingress as never])).toBe(true);
    expect(await servesCurrentPods(store, [])).toBe(false); // no Ingress: nothing to serve
  });
});
