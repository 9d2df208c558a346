/**
 * pods/NAME/eviction against a real API server: a budget with one disruption to spare grants it
 * to exactly one of two evictions racing for it; a refusal is Kubernetes' 429 with its cause; a
 * dry run changes nothing; a pod no budget covers is simply deleted. Budget status is written as
 * the disruption controller would (there is no controller in this server).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const PODS = '/api/v1/namespaces/default/pods';
const PDBS = '/apis/policy/v1/namespaces/default/poddisruptionbudgets';

describe('eviction', () => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) =>
    api(server, method, path, { token: server.adminToken, ...(body !== undefined ? { body } : {}) });
  const evict = (name: string, query = '') =>
    call('POST', `${PODS}/${name}/eviction${query}`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace: 'default' },
    });
  const live = async (name: string) => (await call('GET', `${PODS}/${name}`)).body;

  beforeEach(async () => {
    server = await startTestServer();
    for (const name of ['a', 'b', 'c', 'loner']) {
      await call('POST', PODS, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: { app: name === 'loner' ? 'other' : 'web' } },
        spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
      });
      const pod = await live(name);
      expect(
        (
          await call('PUT', `${PODS}/${name}/status`, {
            ...pod,
            status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
          })
        ).status,
      ).toBe(200);
    }
    await call('POST', PDBS, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web' },
      spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
    });
    const pdb = (await call('GET', `${PDBS}/web`)).body;
    await call('PUT', `${PDBS}/web/status`, {
      ...pdb,
      status: { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3 },
    });
  });
  afterEach(() => server.stop());

  it('two evictions racing for the last disruption: one is granted, the other refused with 429', async () => {
    const [first, second] = await Promise.all([evict('a'), evict('b')]);
    expect([first.status, second.status].sort()).toEqual([201, 429]);
    const refused = first.status === 429 ? first : second;
    expect(refused.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'TooManyRequests',
      code: 429,
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      details: {
        causes: [
          { reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 3 currently' },
        ],
      },
    });
    const granted = first.status === 201 ? 'a' : 'b';
    // The grant is charged to the budget, and the pod is on its way out (graceful: it has a node).
    const status = (await call('GET', `${PDBS}/web`)).body.status;
    expect(status.disruptionsAllowed).toBe(0);
    expect(Object.keys(status.disruptedPods)).toEqual([granted]);
    expect((await live(granted)).metadata.deletionTimestamp).toBeTruthy();
  });

  it('a dry run is answered and changes nothing; a pod no budget covers is deleted; names must agree', async () => {
    const before = (await call('GET', `${PDBS}/web`)).body.metadata.resourceVersion;
    expect((await evict('a', '?dryRun=All')).status).toBe(201);
    expect((await call('GET', `${PDBS}/web`)).body.metadata.resourceVersion).toBe(before);
    expect((await live('a')).metadata.deletionTimestamp).toBeUndefined();
    expect((await evict('loner')).status).toBe(201);
    expect((await live('loner')).metadata.deletionTimestamp).toBeTruthy();
    const mismatch = await call('POST', `${PODS}/a/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'b' },
    });
    expect(mismatch.status).toBe(400);
    expect((await call('POST', '/api/v1/namespaces/default/configmaps/x/eviction', {})).status).toBe(404);
  });
});
