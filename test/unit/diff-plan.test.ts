import { describe, expect, it } from 'vitest';
import { prepareCreate, prepareUpdate } from '../../src/api/lifecycle.js';
import {
  canonicalJson,
  ComparisonCache,
  normalizeForDiff,
  plan,
  withTracking,
  TRACKING_ANNOTATION,
  type ObjectLike,
} from '../../src/diff/index.js';

const app = { namespace: 'berth-system', name: 'shop' };
const cm = (
  name: string,
  data: Record<string, string> = {},
  extra: Partial<ObjectLike['metadata']> = {},
): ObjectLike => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', ...extra }, data });
const deploy = (name: string, replicas = 1): ObjectLike => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: { replicas, template: { spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
});
const ns = (name: string): ObjectLike => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
/** A live copy as the server returns it: tracked, with server fields and status. */
const live = (o: ObjectLike, owner = app): ObjectLike => {
  const t = withTracking(owner, o);
  return {
    ...t,
    metadata: {
      ...t.metadata,
      resourceVersion: '7',
      ...{ uid: 'u', creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
    },
    status: { observed: true },
  };
};
const summary = (p: ReturnType<typeof plan>) =>
  p.waves.map((w) => `${w.wave}: ${w.actions.map((a) => `${a.type} ${a.key}`).join(', ')}`);

describe('sync plan', () => {
  it('creates what is missing, in kind order, with the tracking label and annotation', () => {
    const p = plan(app, [deploy('web'), cm('cfg'), ns('team')], [], { prune: true });
    expect(summary(p)).toEqual([
      '0: create /Namespace//team, create /ConfigMap/default/cfg, create apps/Deployment/default/web',
    ]);
    const created = p.waves[0]!.actions[2]!;
    expect(created.type === 'create' && created.desired.metadata).toMatchObject({
      labels: { 'app.berth.dev/instance': 'shop' },
      annotations: { [TRACKING_ANNOTATION]: 'berth-system/shop:apps/Deployment:default/web' },
    });
  });

  it('leaves equal objects alone: server fields, status and key order do not count', () => {
    const p = plan(app, [cm('cfg', { b: '2', a: '1' })], [live(cm('cfg', { a: '1', b: '2' }))], { prune: true });
    expect(p.waves).toEqual([]);
    expect(p.unchanged).toEqual(['/ConfigMap/default/cfg']);
  });

  it("leaves a claim's binding and a volume's claimRef alone: the volume controller wrote them, Git did not", () => {
    const claim: ObjectLike = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: 'default' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    };
    const bound = live(claim);
    bound.metadata.annotations = {
      ...bound.metadata.annotations,
      'volume.kubernetes.io/selected-node': 'n1',
      'pv.kubernetes.io/bind-completed': 'yes',
    };
    bound.spec = { ...(claim.spec as object), volumeName: 'pvc-1' };
    const volume: ObjectLike = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'nfs' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], nfs: { server: 'x', path: '/' } },
    };
    const claimed = live(volume);
    claimed.spec = {
      ...(volume.spec as object),
      claimRef: { namespace: 'default', name: 'data' },
    };
    const p = plan(app, [claim, volume], [bound, claimed], { prune: true });
    expect(summary(p)).toEqual([]);
    expect(p.unchanged).toHaveLength(2);
    // What Git says still counts: a changed request is a change.
    const grown = { ...claim, spec: { ...(claim.spec as object), resources: { requests: { storage: '2Gi' } } } };
    expect(summary(plan(app, [grown], [bound], { prune: true }))).toEqual([
      '0: update /PersistentVolumeClaim/default/data',
    ]);
  });

  it('updates what differs; prunes what left Git only with prune on', () => {
    const current = [live(cm('cfg', { a: '1' })), live(cm('old'))];
    const withPrune = plan(app, [cm('cfg', { a: '2' })], current, { prune: true });
    expect(summary(withPrune)).toEqual(['0: update /ConfigMap/default/cfg, prune /ConfigMap/default/old']);
    const without = plan(app, [cm('cfg', { a: '2' })], current, { prune: false });
    expect(summary(without)).toEqual(['0: update /ConfigMap/default/cfg']);
    expect(without.requirePruning).toEqual(['/ConfigMap/default/old']);
  });

  it('never prunes or takes over what another Application manages', () => {
    const other = { namespace: 'berth-system', name: 'billing' };
    const p = plan(app, [cm('shared')], [live(cm('shared'), other), live(cm('theirs'), other)], { prune: true });
    expect(p.waves).toEqual([]);
    expect(p.conflicts).toEqual([{ key: '/ConfigMap/default/shared', owner: other }]);
  });

  it('honours ignoreDifferences: an ignored field neither counts nor gets reset', () => {
    const liveDeploy = live(deploy('web', 5));
    const rules = [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }];
    expect(plan(app, [deploy('web', 1)], [liveDeploy], { prune: true, ignoreDifferences: rules }).unchanged).toEqual([
      'apps/Deployment/default/web',
    ]);
    const changed = deploy('web', 1);
    (changed.spec as any).template.spec.containers[0].image = 'x:2';
    const p = plan(app, [changed], [liveDeploy], { prune: true, ignoreDifferences: rules });
    const update = p.waves[0]!.actions[0]!;
    expect(update.type === 'update' && (update.desired.spec as any).replicas).toBe(5);
  });

  it('orders sync waves, and prunes last in reverse kind order', () => {
    const early = cm('early', {}, { annotations: { 'berth.dev/sync-wave': '-1' } });
    const late = deploy('late');
    late.metadata.annotations = { 'berth.dev/sync-wave': '2' };
    const p = plan(app, [late, cm('mid'), early], [live(ns('gone')), live(deploy('gone'))], { prune: true });
    expect(summary(p)).toEqual([
      '-1: create /ConfigMap/default/early',
      '0: create /ConfigMap/default/mid, prune apps/Deployment/default/gone, prune /Namespace//gone',
      '2: create apps/Deployment/default/late',
    ]);
  });
});

describe('comparison cache', () => {
  const ignore = [{ kind: 'Deployment', jsonPointers: ['/spec/replicas'] }];
  const scenarios: { name: string; desired: ObjectLike[]; live: ObjectLike[]; ignore?: typeof ignore }[] = [
    { name: 'all new', desired: [cm('a'), deploy('web')], live: [] },
    { name: 'unchanged', desired: [cm('a', { x: '1' })], live: [live(cm('a', { x: '1' }))] },
    { name: 'changed in Git', desired: [cm('a', { x: '2' })], live: [live(cm('a', { x: '1' }))] },
    { name: 'ignored field differs', desired: [deploy('web', 1)], live: [live(deploy('web', 5))], ignore },
    { name: 'prune', desired: [], live: [live(cm('gone'))] },
  ];
  it.each(scenarios)('a cached plan is the plan: $name', ({ desired, live: current, ignore: rules }) => {
    const cache = new ComparisonCache();
    const options = { prune: true, ignoreDifferences: rules ?? [] };
    const uncached = plan(app, desired, current, options);
    expect(plan(app, desired, current, { ...options, cache })).toEqual(uncached);
    // Twice: the second plan reads the forms the first one kept.
    expect(plan(app, desired, current, { ...options, cache })).toEqual(uncached);
  });

  it('a live object written at a new resourceVersion is compared afresh', () => {
    const cache = new ComparisonCache();
    const desired = [cm('a', { x: '1' })];
    expect(plan(app, desired, [live(cm('a', { x: '1' }))], { prune: true, cache }).unchanged).toHaveLength(1);
    // Someone edits it outside Git: a new resourceVersion, so a drift the cache cannot hide.
    const edited = { ...live(cm('a', { x: 'manual' })), metadata: { ...live(cm('a')).metadata, resourceVersion: '8' } };
    expect(summary(plan(app, desired, [edited], { prune: true, cache }))).toEqual(['0: update /ConfigMap/default/a']);
  });

  it('what a write adds (identity, generation, status) is what normalization removes, so a written form is its source form', () => {
    const now = new Date('2026-11-22T00:00:00Z');
    for (const d of [
      cm('a', { x: '1' }),
      deploy('web', 3),
      ns('team'),
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'j', namespace: 'default' },
        spec: { template: { spec: { containers: [] } } },
      } as ObjectLike,
    ]) {
      const tracked = withTracking(app, d);
      const form = canonicalJson(normalizeForDiff(tracked));
      const created = prepareCreate(structuredClone(tracked) as never, now, 'uid-1') as ObjectLike;
      expect(
        canonicalJson(normalizeForDiff({ ...created, metadata: { ...created.metadata, resourceVersion: '3' } })),
      ).toBe(form);
      const updated = prepareUpdate(
        { ...created, metadata: { ...created.metadata, resourceVersion: '3' } } as never,
        structuredClone(tracked) as never,
      ) as ObjectLike;
      expect(canonicalJson(normalizeForDiff(updated))).toBe(form);
    }
  });

  it('canonical JSON sorts keys at every depth and otherwise is JSON.stringify', () => {
    const v = { b: [1, { d: null, c: 'x' }, undefined], a: { z: true, y: undefined }, s: 'é"\n' };
    expect(canonicalJson(v)).toBe('{"a":{"z":true},"b":[1,{"c":"x","d":null},null],"s":"é\\"\\n"}');
    expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
  });
});
