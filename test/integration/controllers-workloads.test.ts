/**
 * StatefulSets, DaemonSets, Jobs and CronJobs with the real controllers over a SQLite store.
 * Pod readiness and completion are written as an agent would; CronJobs run on a fake clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { POD, ref, startHarness, type Harness } from '../helpers/controllers.js';

const STS = { group: 'apps', kind: 'StatefulSet' };
const DS = { group: 'apps', kind: 'DaemonSet' };
const JOB = { group: 'batch', kind: 'Job' };
const CJ = { group: 'batch', kind: 'CronJob' };
const PVC = { group: '', kind: 'PersistentVolumeClaim' };

const container = { name: 'main', image: 'busybox' };

describe('workload controllers', () => {
  let dir: string;
  let store: RevisionedStore;
  let h: Harness;
  let clock = Date.parse('2026-03-01T10:00:30Z');
  const now = () => clock;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-ctl-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
    h = startHarness(store, { now });
  });
  afterEach(async (context) => {
    // Every scenario ends idempotent: reconciling everything again writes nothing.
    if (context.task.result?.state !== 'fail') {
      await h.settled();
      const revision = await store.revision();
      await h.resync();
      expect(await store.revision(), 'a reconcile with nothing changed wrote').toBe(revision);
    }
    await h.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const podNames = async () => (await h.list(POD)).map((p) => p.metadata.name).sort();
  const setPhase = async (pick: (p: KubeObject) => boolean, phase: 'Succeeded' | 'Failed') => {
    for (const p of await h.list<any>(POD)) {
      if (pick(p))
        await h.modify(POD, p.metadata.name, (x) => {
          x.status = { ...x.status, phase, conditions: [] };
        });
    }
  };

  describe('StatefulSet', () => {
    const sts = (replicas: number, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'default' },
      spec: {
        replicas,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [container] } },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        ],
        ...extra,
      },
    });

    it('creates ordinals in order, each Ready before the next, with stable hostnames and claims; scale-down removes the highest; claims survive', async () => {
      await h.create(sts(3));
      const order: string[][] = [];
      await h.until('3 ready pods', async () => {
        const names = await podNames();
        if (order.at(-1)?.join() !== names.join()) order.push(names);
        // Only the newest pod is ever not ready: the next waits for it.
        await h.makeReady();
        return names.length === 3 && (await store.get<any>(ref(STS, 'db'))).status?.readyReplicas === 3;
      });
      expect(order.filter((o) => o.length)).toEqual([['db-0'], ['db-0', 'db-1'], ['db-0', 'db-1', 'db-2']]);
      const pod1 = await store.get<any>(ref(POD, 'db-1'));
      expect(pod1.spec).toMatchObject({ hostname: 'db-1', subdomain: 'db' });
      expect(pod1.spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'data-db-1' } });
      expect((await h.list(PVC)).map((c) => c.metadata.name).sort()).toEqual(['data-db-0', 'data-db-1', 'data-db-2']);

      await h.modify(STS, 'db', (s) => {
        s.spec.replicas = 1;
      });
      const seen: string[][] = [];
      await h.until('scaled to 1', async () => {
        seen.push(await podNames());
        return (await podNames()).join() === 'db-0';
      });
      expect(seen.some((names) => names.join() === 'db-0,db-2')).toBe(false); // db-2 goes before db-1
      expect((await h.list(PVC)).map((c) => c.metadata.name).sort()).toEqual(['data-db-0', 'data-db-1', 'data-db-2']);
    });

    it('never makes two pods of one ordinal, also across a controller restart, and rolls from the highest ordinal', async () => {
      await h.create(sts(3, { podManagementPolicy: 'Parallel' }));
      await h.until('3 pods', async () => (await podNames()).length === 3);
      await h.stop();
      h = startHarness(store, { now });
      await h.makeReady();
      await h.until('ready', async () => (await store.get<any>(ref(STS, 'db'))).status?.readyReplicas === 3);
      expect(await podNames()).toEqual(['db-0', 'db-1', 'db-2']);

      const updated = await h.modify(STS, 'db', (s) => {
        s.spec.template.spec.containers[0].image = 'busybox:2';
      });
      const replaced: string[] = [];
      await h.until('rolled', async () => {
        for (const p of await h.list<any>(POD))
          if (p.spec.containers[0].image === 'busybox:2' && !replaced.includes(p.metadata.name))
            replaced.push(p.metadata.name);
        await h.makeReady();
        const st = (await store.get<any>(ref(STS, 'db'))).status;
        return (
          st.observedGeneration === updated.metadata.generation &&
          st.updatedReplicas === 3 &&
          st.readyReplicas === 3 &&
          st.currentRevision === st.updateRevision
        );
      });
      expect(replaced).toEqual(['db-2', 'db-1', 'db-0']);
      expect(await podNames()).toEqual(['db-0', 'db-1', 'db-2']);
    });
  });

  describe('DaemonSet', () => {
    const node = (name: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name } },
      spec: {},
      ...extra,
    });

    it('runs one pod per eligible node, follows nodes added and removed, skips tainted and unselected nodes', async () => {
      await h.create(node('a'));
      await h.create(node('b', { spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } }));
      await h.create(node('c', { spec: { unschedulable: true } }));
      await h.create({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: 'default' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [container] } },
        },
      });
      const nodesOf = async () => (await h.list<any>(POD)).map((p) => p.spec.nodeName).sort();
      await h.until('pods on a and c', async () => (await nodesOf()).join() === 'a,c');
      await h.create(node('d'));
      await h.until('pod on d', async () => (await nodesOf()).join() === 'a,c,d');
      await store.delete(ref({ group: '', kind: 'Node' }, 'a', ''));
      await h.until('pod on a gone', async () => (await nodesOf()).join() === 'c,d');
      await h.makeReady();
      const ds = await h.until('status', async () => {
        const d = await store.get<any>(ref(DS, 'agent'));
        return d.status?.numberReady === 2 && d;
      });
      expect(ds.status).toMatchObject({
        desiredNumberScheduled: 2,
        currentNumberScheduled: 2,
        numberMisscheduled: 0,
        numberAvailable: 2,
      });
    });
  });

  describe('Job', () => {
    const job = (spec: Record<string, unknown>) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'work', namespace: 'default' },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [container] } }, ...spec },
    });

    it('runs completions with parallelism and completes', async () => {
      await h.create(job({ completions: 3, parallelism: 2 }));
      await h.until('2 pods', async () => (await h.list(POD)).length === 2);
      for (let done = 0; done < 3;) {
        const running = (await h.list<any>(POD)).filter((p) => p.status?.phase !== 'Succeeded');
        if (running.length) {
          await setPhase((p) => p.metadata.name === running[0].metadata.name, 'Succeeded');
          done++;
        }
        await h.until(
          'next pod',
          async () =>
            (await h.list<any>(POD)).filter((p) => p.status?.phase !== 'Succeeded').length === Math.min(2, 3 - done),
        );
      }
      const j = await h.until('complete', async () => {
        const x = await store.get<any>(ref(JOB, 'work'));
        return x.status?.conditions?.some((c: any) => c.type === 'Complete' && c.status === 'True') && x;
      });
      expect(j.status).toMatchObject({ succeeded: 3, active: 0 });
      expect(j.status.completionTime).toBeDefined();
    });

    it('Indexed: one pod per index with JOB_COMPLETION_INDEX', async () => {
      await h.create(job({ completions: 3, parallelism: 3, completionMode: 'Indexed' }));
      const pods = await h.until('3 pods', async () => {
        const p = await h.list<any>(POD);
        return p.length === 3 && p;
      });
      const indexes = pods
        .map((p) => p.spec.containers[0].env.find((e: any) => e.name === 'JOB_COMPLETION_INDEX').value)
        .sort();
      expect(indexes).toEqual(['0', '1', '2']);
      await setPhase(() => true, 'Succeeded');
      const j = await h.until('complete', async () => {
        const x = await store.get<any>(ref(JOB, 'work'));
        return x.status?.conditions?.some((c: any) => c.type === 'Complete') && x;
      });
      expect(j.status.completedIndexes).toBe('0-2');
    });

    it('fails with BackoffLimitExceeded after backoffLimit failures, replacing failed pods after a backoff', async () => {
      await h.create(job({ backoffLimit: 1 }));
      await h.until('1 pod', async () => (await h.list(POD)).length === 1);
      await setPhase(() => true, 'Failed');
      clock += 11_000; // past the first 10 s backoff
      await h.until('replacement', async () => {
        await h.touch(JOB, 'work');
        return (await h.list<any>(POD)).filter((p) => p.status?.phase !== 'Failed').length === 1;
      });
      await setPhase(() => true, 'Failed');
      const j = await h.until('failed', async () => {
        const x = await store.get<any>(ref(JOB, 'work'));
        return x.status?.conditions?.some((c: any) => c.type === 'Failed' && c.reason === 'BackoffLimitExceeded') && x;
      });
      expect(j.status.failed).toBe(2);
    });
  });

  describe('CronJob (fake clock)', () => {
    const cronJob = (extra: Record<string, unknown> = {}) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick', namespace: 'default' },
      spec: {
        schedule: '*/1 * * * *',
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [container] } } } },
        ...extra,
      },
    });
    const jobs = async () => (await h.list<any>(JOB)).map((j) => j.metadata.name).sort();
    const minute = async () => {
      clock += 60_000;
      await h.touch(CJ, 'tick');
    };
    const finishJobs = async () => {
      for (const j of await h.list<any>(JOB)) {
        if (j.status?.conditions?.some((c: any) => c.type === 'Complete')) continue;
        await h.modify(JOB, j.metadata.name, (x) => {
          x.status = {
            ...x.status,
            conditions: [{ type: 'Complete', status: 'True' }],
            completionTime: new Date(clock).toISOString(),
          };
        });
      }
    };

    it('*/1 makes exactly one Job per minute; suspend stops it', async () => {
      await h.create(cronJob({ concurrencyPolicy: 'Allow', successfulJobsHistoryLimit: 10 }));
      for (let i = 1; i <= 3; i++) {
        await minute();
        await h.until(`${i} jobs`, async () => (await jobs()).length === i);
        await h.touch(CJ, 'tick'); // looking again within the minute makes nothing more
        await h.settled();
      }
      expect(await jobs()).toHaveLength(3);
      const cj = await store.get<any>(ref(CJ, 'tick'));
      expect(cj.status.lastScheduleTime).toBe(
        new Date(Math.floor(clock / 60_000) * 60_000).toISOString().replace('.000Z', 'Z'),
      );
      await h.modify(CJ, 'tick', (c) => {
        c.spec.suspend = true;
      });
      await h.settled(); // the controller has seen it before the clock moves on
      await minute();
      await minute();
      await h.settled();
      expect(await jobs()).toHaveLength(3);
    });

    it('Forbid skips while one runs; Replace replaces the running one', async () => {
      await h.create(cronJob({ concurrencyPolicy: 'Forbid' }));
      await minute();
      await h.until('first job', async () => (await jobs()).length === 1);
      await h.settled();
      await h.settled();
      await minute();
      await h.settled();
      await minute();
      await h.settled();
      expect(await jobs()).toHaveLength(1);
      await finishJobs();
      await h.until('one catch-up run after the running one finished', async () => (await jobs()).length === 2);

      await h.modify(CJ, 'tick', (c) => {
        c.spec.concurrencyPolicy = 'Replace';
      });
      const before = await jobs();
      await h.settled();
      await minute();
      await h.until('replaced', async () => {
        const now = await jobs();
        return now.length === 2 && !now.includes(before[1]!) && now;
      });
    });
  });

  describe('ReplicationController', () => {
    const RC = { group: '', kind: 'ReplicationController' };
    it('keeps its replicas (selector defaulted from the template), adopts matching orphans, scales, and reports status', async () => {
      await h.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'stray', namespace: 'default', labels: { app: 'legacy' } },
        spec: { containers: [container] },
      });
      const rc = await h.create<any>({
        apiVersion: 'v1',
        kind: 'ReplicationController',
        metadata: { name: 'legacy', namespace: 'default' },
        spec: { replicas: 3, template: { metadata: { labels: { app: 'legacy' } }, spec: { containers: [container] } } },
      });
      expect(rc.spec.selector).toEqual({ app: 'legacy' });
      await h.until('three pods, the stray one adopted', async () => {
        const pods = await h.list<any>(POD);
        return (
          pods.length === 3 &&
          pods.every((p) => p.metadata.ownerReferences?.[0]?.kind === 'ReplicationController') &&
          pods.some((p) => p.metadata.name === 'stray')
        );
      });
      expect((await podNames()).filter((n) => n !== 'stray').every((n) => /^legacy-[a-z0-9]{5}$/.test(n))).toBe(true);
      await h.makeReady();
      await h.until('status counts ready pods', async () => (await h.list<any>(RC))[0]?.status?.readyReplicas === 3);
      await h.modify(RC, 'legacy', (o) => {
        o.spec.replicas = 1;
      });
      await h.until(
        'scaled down to one',
        async () => (await h.list(POD)).filter((p) => !p.metadata.deletionTimestamp).length === 1,
      );
    });
  });
});
