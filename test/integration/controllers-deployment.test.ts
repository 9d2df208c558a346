/**
 * Deployments end to end over a SQLite store with the real controllers: create → ReplicaSet and
 * pods; readiness → Available; a new template rolls; history and undo; paused does not roll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { DEPLOY, POD, RS, deployment, ref, startHarness, type Harness } from '../helpers/controllers.js';

describe('deployment controller', () => {
  let dir: string;
  let store: RevisionedStore;
  let h: Harness;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-ctl-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
    h = startHarness(store);
  });
  afterEach(async () => {
    await h.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (name: string) => store.get<any>(ref(DEPLOY, name));
  /** Makes pods ready until the deployment reports a completed rollout. */
  async function rollOut(name: string): Promise<any> {
    return h.until(`${name} rolled out`, async () => {
      await h.makeReady();
      const d = await get(name);
      const s = d.status ?? {};
      const done =
        s.observedGeneration === d.metadata.generation &&
        s.updatedReplicas === d.spec.replicas &&
        s.replicas === d.spec.replicas &&
        s.availableReplicas === d.spec.replicas &&
        s.conditions?.some((c: any) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
      return done && d;
    });
  }

  it('creates a ReplicaSet and its pods, and reports Available once they are ready', async () => {
    await h.create(deployment('web', { replicas: 3 }));
    const pods = await h.until('3 pods', async () => {
      const p = await h.list<any>(POD);
      return p.length === 3 && p;
    });
    const [rs] = await h.list<any>(RS);
    expect(rs.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(rs.metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');
    for (const p of pods) {
      expect(p.metadata.name).toMatch(new RegExp(`^${rs.metadata.name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.metadata.ownerReferences[0]).toMatchObject({
        kind: 'ReplicaSet',
        name: rs.metadata.name,
        controller: true,
      });
      expect(p.metadata.labels['pod-template-hash']).toBe(rs.metadata.labels['pod-template-hash']);
    }
    const d = await rollOut('web');
    expect(d.status).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      unavailableReplicas: 0,
    });
    expect(d.status.conditions.find((c: any) => c.type === 'Available')).toMatchObject({
      status: 'True',
      reason: 'MinimumReplicasAvailable',
    });
    expect(d.metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');
    // Events as Kubernetes records them.
    await h.settled();
    const events = (await h.list<any>({ group: '', kind: 'Event' })).map(
      (e) => `${e.involvedObject.kind} ${e.reason}: ${e.message}`,
    );
    expect(events).toContain(`Deployment ScalingReplicaSet: Scaled up replica set ${rs.metadata.name} from 0 to 3`);
    expect(
      events.filter((e) => e.startsWith(`ReplicaSet SuccessfulCreate: Created pod: ${rs.metadata.name}-`)),
    ).toHaveLength(3);
    // Level-triggered and idempotent: reconciling everything again with nothing changed writes nothing.
    await h.settled();
    const revision = await store.revision();
    await h.resync();
    expect(await store.revision()).toBe(revision);
  });

  it('rolls to a new template, keeps history within the limit, and undo restores a template as a new revision', async () => {
    await h.create(deployment('web', { replicas: 4, revisionHistoryLimit: 2 }));
    await rollOut('web');
    for (const image of ['web:2', 'web:3', 'web:4']) {
      await h.modify(DEPLOY, 'web', (d) => {
        d.spec.template.spec.containers[0].image = image;
      });
      await rollOut('web');
      const pods = await h.list<any>(POD);
      expect(pods.every((p) => p.spec.containers[0].image === image)).toBe(true);
    }
    // 4 revisions made, limit 2 → the newest plus 2 old ReplicaSets remain.
    await h.until('history cleaned', async () => (await h.list(RS)).length === 3);
    const byRevision = Object.fromEntries(
      (await h.list<any>(RS)).map((rs) => [
        rs.metadata.annotations['deployment.kubernetes.io/revision'],
        rs.spec.template.spec.containers[0].image,
      ]),
    );
    expect(byRevision).toEqual({ '2': 'web:2', '3': 'web:3', '4': 'web:4' });

    // undo to revision 2, as `berth rollout undo --to-revision 2` writes it: that template, new revision 5.
    const old = (await h.list<any>(RS)).find(
      (rs) => rs.metadata.annotations['deployment.kubernetes.io/revision'] === '2',
    );
    const template = structuredClone(old.spec.template);
    delete template.metadata.labels['pod-template-hash'];
    await h.modify(DEPLOY, 'web', (d) => {
      d.spec.template = template;
    });
    const after = await rollOut('web');
    expect(after.metadata.annotations['deployment.kubernetes.io/revision']).toBe('5');
    const reused = await store.get<any>(ref(RS, old.metadata.name));
    expect(reused.metadata.annotations['deployment.kubernetes.io/revision']).toBe('5');
    expect(reused.metadata.annotations['deployment.kubernetes.io/revision-history']).toBe('2');
    expect((await h.list<any>(POD)).every((p) => p.spec.containers[0].image === 'web:2')).toBe(true);
  });

  it('does not roll a paused deployment, and rolls once resumed', async () => {
    await h.create(deployment('web', { replicas: 2 }));
    await rollOut('web');
    await h.modify(DEPLOY, 'web', (d) => {
      d.spec.paused = true;
      d.spec.template.spec.containers[0].image = 'web:2';
    });
    const paused = await h.until('paused observed', async () => {
      const x = await get('web');
      return x.status.observedGeneration === x.metadata.generation && x;
    });
    expect(paused.status.conditions.find((c: any) => c.type === 'Progressing')).toMatchObject({
      status: 'Unknown',
      reason: 'DeploymentPaused',
    });
    expect(await h.list(RS)).toHaveLength(1);
    expect((await h.list<any>(POD)).every((p) => p.spec.containers[0].image === 'web:1')).toBe(true);
    await h.modify(DEPLOY, 'web', (d) => {
      d.spec.paused = false;
    });
    await rollOut('web');
    expect((await h.list<any>(POD)).every((p) => p.spec.containers[0].image === 'web:2')).toBe(true);
  });

  it('Recreate stops every old pod before a new one starts', async () => {
    await h.create(deployment('web', { replicas: 3, strategy: { type: 'Recreate' } }));
    await rollOut('web');
    await h.modify(DEPLOY, 'web', (d) => {
      d.spec.template.spec.containers[0].image = 'web:2';
    });
    const seen: string[][] = [];
    await h.until('recreated', async () => {
      const pods = await h.list<any>(POD);
      seen.push(pods.map((p) => p.spec.containers[0].image));
      await h.makeReady();
      const x = await get('web');
      return x.status.updatedReplicas === 3 && x.status.availableReplicas === 3 && x.status.replicas === 3;
    });
    expect(seen.some((images) => images.includes('web:1') && images.includes('web:2'))).toBe(false);
  });

  it('scales a ReplicaSet down, deleting not-ready pods first, and deleting an owner deletes its pods', async () => {
    await h.create(deployment('web', { replicas: 4 }));
    await h.until('4 pods', async () => (await h.list(POD)).length === 4);
    const pods = await h.list<KubeObject>(POD);
    const readyNames = pods.slice(0, 2).map((p) => p.metadata.name);
    await h.makeReady((p) => readyNames.includes(p.metadata.name));
    await h.modify(DEPLOY, 'web', (d) => {
      d.spec.replicas = 2;
    });
    await h.until('2 pods', async () => (await h.list(POD)).length === 2);
    expect((await h.list(POD)).map((p) => p.metadata.name).sort()).toEqual([...readyNames].sort());
    await store.delete(ref(DEPLOY, 'web'));
    await h.until('garbage collected', async () => (await h.list(RS)).length === 0 && (await h.list(POD)).length === 0);
  });

  it('creates 600 replicas in slow-start batches, the second reconcile starting where the first left off', async () => {
    await h.create(deployment('big', { replicas: 600 }));
    const pods = await h.until('600 pods', async () => {
      const all = await h.list<KubeObject>(POD);
      return all.length === 600 && all;
    });
    // One create transaction, one revision: 1, 2, 4, … 128, 245 (the first 500, BURST_REPLICAS),
    // then the last 100 in one — not 1, 2, 4, … 64, 37 again as Kubernetes' slowStartBatch does.
    const batches = new Map<string, number>();
    for (const p of pods) batches.set(p.metadata.resourceVersion!, (batches.get(p.metadata.resourceVersion!) ?? 0) + 1);
    expect([...batches.values()].sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 32, 64, 100, 128, 245]);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(600);
  });

  it('a deleted Namespace takes its objects, however it was deleted', async () => {
    await h.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await h.create({ ...deployment('web', { replicas: 2 }), metadata: { name: 'web', namespace: 'shop' } });
    await h.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop' }, data: {} });
    await h.until('pods', async () => (await h.list(POD, 'shop')).length === 2);
    await store.delete({ group: '', kind: 'Namespace', namespace: '', name: 'shop' });
    await h.until('namespace emptied', async () => {
      for (const kind of [POD, RS, DEPLOY, { group: '', kind: 'ConfigMap' }])
        if ((await h.list(kind, 'shop')).length) return false;
      return true;
    });
  });
});
