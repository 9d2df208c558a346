/** The sync's decisions (src/sync/plan.ts) as tables: what a reconcile does, given what it observed. */
import { describe, expect, it } from 'vitest';
import { withTracking, type ObjectLike } from '../../src/diff/index.js';
import type { Health } from '../../src/health/index.js';
import type { LoadedObject } from '../../src/manifest/index.js';
import type { KubeObject } from '../../src/store/types.js';
import {
  planSync,
  rollbackTarget,
  healthyDescription,
  settleSync,
  summarize,
  syncedCommitToCheck,
  type Execution,
  type SyncFacts,
} from '../../src/sync/plan.js';
import type { ApplicationObject, ApplicationStatus, RollbackState } from '../../src/sync/types.js';

const NOW = '2026-12-07T00:00:00Z';
const ref = { namespace: 'default', name: 'shop' };
type Spec = ApplicationObject['spec'];
const appWith = (spec: Partial<Spec> = {}, status: ApplicationStatus = {}): ApplicationObject =>
  ({
    apiVersion: 'berth.dev/v1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default' },
    spec: { source: { repoURL: 'file:///repo' }, ...spec },
    status,
  }) as ApplicationObject;
const cm = (name: string, data: Record<string, string> = {}, annotations: Record<string, string> = {}): ObjectLike => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', ...(Object.keys(annotations).length ? { annotations } : {}) },
  data,
});
const deploy = (name: string, replicas: number): ObjectLike => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: { replicas, template: { spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
});
const loaded = (o: ObjectLike, line = 1): LoadedObject =>
  ({ object: o, source: { file: 'app/objects.yaml', line } }) as unknown as LoadedObject;
const live = (o: ObjectLike, owner: { namespace: string; name: string } | null = ref): KubeObject => {
  const t = owner ? withTracking(owner, o) : o;
  return { ...t, metadata: { ...t.metadata, resourceVersion: '7', uid: 'u', creationTimestamp: NOW } } as KubeObject;
};
const synced = (commit: string): ApplicationStatus => ({
  sync: { status: 'Synced', revision: commit },
  operationState: { phase: 'Succeeded', revision: commit },
});
const facts = (f: Partial<SyncFacts> & { objects?: LoadedObject[] }): SyncFacts => ({
  app: appWith(),
  status: {},
  commit: 'c2',
  manual: false,
  errors: [],
  objects: [],
  policy: [],
  missingNamespaces: [],
  live: [],
  ...f,
});
const summary = (f: SyncFacts) => {
  const p = planSync(f);
  return p.refusal
    ? `refused ${p.refusal.type}/${p.refusal.reason}`
    : `${p.apply ? 'apply' : 'hold'}: ${p.plan.waves.map((w) => `${w.wave}[${w.actions.map((a) => `${a.type} ${a.key.split('/').pop()}`).join(', ')}]`).join(' ') || 'nothing'}${p.plan.requirePruning.length ? `; orphans ${p.plan.requirePruning.length}` : ''}`;
};

describe('planSync: refused or planned, applied or held', () => {
  const automated = (o: { prune?: boolean; selfHeal?: boolean; allowEmpty?: boolean } = {}) =>
    appWith({ syncPolicy: { automated: o } });
  it.each<[string, Partial<SyncFacts>, string]>([
    [
      'an invalid commit',
      { errors: [{ file: 'app/a.yaml', line: 3, path: ['spec'], reason: 'SchemaViolation', message: 'bad' } as never] },
      'refused ComparisonError/InvalidManifests',
    ],
    [
      'a policy violation',
      {
        objects: [loaded(cm('a'))],
        policy: [{ file: 'app/a.yaml', line: 1, message: 'namespace default is not allowed' }],
      },
      'refused ComparisonError/PolicyViolation',
    ],
    [
      'a missing namespace',
      {
        objects: [loaded(cm('a'))],
        missingNamespaces: [{ file: 'app/a.yaml', line: 1, message: 'namespace x does not exist' }],
      },
      'refused ComparisonError/NamespaceNotFound',
    ],
    [
      'another app’s object',
      { objects: [loaded(cm('a'))], live: [live(cm('a'), { namespace: 'default', name: 'billing' })] },
      'refused SharedResourceError/ManagedByAnotherApplication',
    ],
    [
      'an object no app manages',
      { objects: [loaded(cm('a'))], live: [live(cm('a'), null)] },
      'refused SharedResourceError/NotManaged',
    ],
    [
      '…adopted with AdoptExisting=true',
      {
        app: appWith({ syncPolicy: { automated: {}, syncOptions: ['AdoptExisting=true'] } }),
        objects: [loaded(cm('a'))],
        live: [live(cm('a'), null)],
      },
      'apply: 0[update a]',
    ],
    [
      'automated, a new commit',
      { app: automated(), objects: [loaded(cm('a')), loaded(deploy('web', 2))] },
      'apply: 0[create a, create web]',
    ],
    ['not automated, a new commit', { objects: [loaded(cm('a'))] }, 'hold: 0[create a]'],
    ['not automated, by hand', { objects: [loaded(cm('a'))], manual: true }, 'apply: 0[create a]'],
    [
      'automated, drift on the synced commit',
      {
        app: automated(),
        status: synced('c2'),
        objects: [loaded(cm('a', { v: '2' }))],
        live: [live(cm('a', { v: '1' }))],
      },
      'hold: 0[update a]',
    ],
    [
      '…with selfHeal',
      {
        app: automated({ selfHeal: true }),
        status: synced('c2'),
        objects: [loaded(cm('a', { v: '2' }))],
        live: [live(cm('a', { v: '1' }))],
      },
      'apply: 0[update a]',
    ],
    [
      '…an operation still running on it',
      {
        app: automated(),
        status: { ...synced('c2'), operationState: { phase: 'Running', revision: 'c2' } },
        objects: [loaded(cm('a', { v: '2' }))],
        live: [live(cm('a', { v: '1' }))],
      },
      'apply: 0[update a]',
    ],
    [
      'nothing to do',
      { app: automated(), status: synced('c2'), objects: [loaded(cm('a'))], live: [live(cm('a'))] },
      'hold: nothing',
    ],
  ])('%s', (_, f, want) => expect(summary(facts(f))).toBe(want));

  it.each<[string, Partial<SyncFacts>, string]>([
    [
      'automated without prune keeps what left Git',
      { app: automated(), objects: [loaded(cm('a'))], live: [live(cm('a')), live(cm('gone'))] },
      'hold: nothing; orphans 1',
    ],
    [
      'automated with prune removes it',
      { app: automated({ prune: true }), objects: [loaded(cm('a'))], live: [live(cm('a')), live(cm('gone'))] },
      'apply: 0[prune gone]',
    ],
    [
      'a manual sync prunes',
      { objects: [loaded(cm('a'))], live: [live(cm('a')), live(cm('gone'))], manual: true },
      'apply: 0[prune gone]',
    ],
    [
      'an automated prune of everything is refused',
      { app: automated({ prune: true }), live: [live(cm('a'))] },
      'refused SyncError/EmptyCommit',
    ],
    [
      '…unless allowEmpty',
      { app: automated({ prune: true, allowEmpty: true }), live: [live(cm('a'))] },
      'apply: 0[prune a]',
    ],
    ['…or by hand', { live: [live(cm('a'))], manual: true }, 'apply: 0[prune a]'],
  ])('prune: %s', (_, f, want) => expect(summary(facts(f))).toBe(want));

  it('ignoreDifferences: an ignored field is not drift', () => {
    const app = appWith({
      syncPolicy: { automated: { selfHeal: true } },
      ignoreDifferences: [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }],
    });
    expect(
      summary(
        facts({ app, status: synced('c2'), objects: [loaded(deploy('web', 1))], live: [live(deploy('web', 5))] }),
      ),
    ).toBe('hold: nothing');
  });

  it('waves: in order of their annotation, Argo CD’s too', () => {
    const objects = [
      loaded(cm('late', {}, { 'berth.dev/sync-wave': '2' })),
      loaded(cm('early', {}, { 'argocd.argoproj.io/sync-wave': '-1' })),
      loaded(cm('plain')),
    ];
    expect(summary(facts({ app: automated(), objects }))).toBe(
      'apply: -1[create early] 0[create plain] 2[create late]',
    );
  });

  it('hooks are not desired state; a new commit runs them even when nothing else changes', () => {
    const hook = loaded(cm('migrate', {}, { 'argocd.argoproj.io/hook': 'PreSync' }));
    const skipped = loaded(cm('skipped', {}, { 'argocd.argoproj.io/hook': 'Skip' }));
    const p = planSync(
      facts({
        app: automated(),
        status: synced('c1'),
        objects: [loaded(cm('a')), hook, skipped],
        live: [live(cm('a'))],
      }),
    );
    expect(p.desired.map((d) => d.metadata.name)).toEqual(['a']);
    expect(p.hooks.map((d) => d.metadata.name)).toEqual(['migrate']);
    expect([p.pending, p.apply, p.newOperation]).toEqual([0, true, true]);
    // The same commit again: no operation, no hooks.
    expect(
      planSync(
        facts({ app: automated(), status: synced('c2'), objects: [loaded(cm('a')), hook], live: [live(cm('a'))] }),
      ).apply,
    ).toBe(false);
  });
});

describe('pins: rollbackTarget', () => {
  const paused = (o: Partial<RollbackState> = {}): RollbackState => ({
    request: 'c1@r1',
    revision: 'c1',
    kind: 'rollback',
    branchHead: 'c3',
    state: 'Paused',
    since: NOW,
    ...o,
  });
  it.each<[string, Parameters<typeof rollbackTarget>, { commit: string; state?: string; start: boolean }]>([
    ['no pin: the branch head', [undefined, 'c3', undefined, NOW, false], { commit: 'c3', start: false }],
    [
      'a new pin request starts a pin',
      [{ request: 'c1@r1', commit: 'c1', kind: 'rollback' }, 'c3', undefined, NOW, false],
      { commit: 'c1', state: 'Paused', start: true },
    ],
    [
      'the same request holds while the head stays',
      [{ request: 'c1@r1', commit: 'c1', kind: 'rollback' }, 'c3', paused(), NOW, false],
      { commit: 'c1', state: 'Paused', start: false },
    ],
    [
      'a new head ends it',
      [{ request: 'c1@r1', commit: 'c1', kind: 'rollback' }, 'c4', paused(), NOW, false],
      { commit: 'c4', state: 'Resumed', start: false },
    ],
    [
      'a withdrawn request (--resume) ends it',
      [undefined, 'c3', paused(), NOW, false],
      { commit: 'c3', state: 'Resumed', start: false },
    ],
    [
      'an automatic rollback holds without a request',
      [undefined, 'c3', paused({ request: 'auto@c3' }), NOW, false],
      { commit: 'c1', state: 'Paused', start: false },
    ],
    [
      '…until the branch moves',
      [undefined, 'c4', paused({ request: 'auto@c3' }), NOW, false],
      { commit: 'c4', state: 'Resumed', start: false },
    ],
    [
      '…or someone syncs by hand',
      [undefined, 'c3', paused({ request: 'auto@c3' }), NOW, true],
      { commit: 'c3', state: 'Resumed', start: false },
    ],
  ])('%s', (_, args, want) => {
    const t = rollbackTarget(...args);
    expect({ commit: t.commit, ...(t.rollback ? { state: t.rollback.state } : {}), start: t.start }).toEqual(want);
  });
});

describe('HistoryRewritten: which synced commit the branch must still contain', () => {
  it.each<[string, ApplicationStatus, string, boolean, string | undefined]>([
    ['a new head after a successful sync', synced('c1'), 'c2', false, 'c1'],
    ['the synced head itself', synced('c1'), 'c1', false, undefined],
    ['a manual sync syncs anyway', synced('c1'), 'c2', true, undefined],
    ['nothing synced yet', {}, 'c2', false, undefined],
    ['the last operation failed', { operationState: { phase: 'Failed', revision: 'c1' } }, 'c2', false, undefined],
  ])('%s', (_, status, head, manual, want) => expect(syncedCommitToCheck(status, head, manual)).toBe(want));
});

describe('settleSync: the status after the sync', () => {
  const healthy: Health = { status: 'Healthy' };
  const degraded: Health = { status: 'Degraded', message: 'Deployment web: 0/2 available' };
  const ran = (x: Partial<Execution> = {}): Execution => ({
    startedAt: NOW,
    written: 1,
    splitNote: '',
    hooks: [],
    ...x,
  });
  const settle = (
    app: ApplicationObject,
    status: ApplicationStatus,
    health: Health,
    x: Execution | undefined = ran(),
    autoRolledBack = false,
  ) => {
    const p = planSync(facts({ app, status, objects: [loaded(deploy('web', 2))] }));
    const s = settleSync(
      status,
      { app, commit: 'c2', head: 'c2', manual: false, autoRolledBack, artifact: { message: 'web 2' } },
      p,
      x,
      { health: [health], serving: false },
      NOW,
    );
    return { s, status };
  };
  const auto = appWith({ syncPolicy: { automated: {}, autoRollback: true } });
  const before = (): ApplicationStatus => ({
    ...synced('c1'),
    history: [{ id: 1, revision: 'c1', deployedAt: NOW, outcome: 'Healthy' }],
  });

  it('a new commit applied and healthy: Synced, a history entry Healthy, the ledger success', () => {
    const { s, status } = settle(auto, before(), healthy);
    expect(s).toEqual({ result: 'synced', running: false });
    expect(status.sync).toEqual({ status: 'Synced', revision: 'c2' });
    expect(status.history?.map((h) => `${h.revision}:${h.outcome}:${h.initiatedBy}`)).toEqual([
      'c1:Healthy:undefined',
      'c2:Healthy:auto',
    ]);
    expect(status.ledger?.map((e) => `${e.revision}:${e.state}`)).toEqual(['c2:success']);
  });
  it('waiting on a wave: Running, the ledger pending with what it waits for', () => {
    const status = before();
    const objects = [loaded(cm('schema', {}, { 'berth.dev/sync-wave': '-1' })), loaded(deploy('web', 2))];
    const p = planSync(facts({ app: auto, status, objects }));
    const waiting = 'waiting for wave -1 to be healthy: ConfigMap/schema is Progressing';
    const s = settleSync(
      status,
      { app: auto, commit: 'c2', head: 'c2', manual: false, autoRolledBack: false, artifact: {} },
      p,
      ran({ written: 1, waitingFor: waiting }),
      { health: [{ status: 'Progressing' }, { status: 'Missing' }], serving: false },
      NOW,
    );
    expect(s).toEqual({ result: 'out-of-sync', running: true });
    expect(status.operationState).toMatchObject({ phase: 'Running', message: `applied 1 change; ${waiting}` });
    expect(status.sync?.status).toBe('OutOfSync');
    expect(status.ledger?.[0]).toMatchObject({ revision: 'c2', state: 'pending', description: waiting });
  });
  it('autoRollback: a Degraded commit is failed and the last healthy one asked for', () => {
    const { s, status } = settle(auto, before(), degraded);
    expect(s.rollBackTo).toBe('c1');
    expect(status.history?.at(-1)).toMatchObject({ revision: 'c2', outcome: 'Failed' });
    expect(status.ledger?.[0]).toMatchObject({
      revision: 'c2',
      state: 'failure',
      description: 'Degraded (Deployment web: 0/2 available): rolled back to c1',
    });
    expect(status.rollback).toMatchObject({ request: 'auto@c2', revision: 'c1', state: 'Paused' });
  });
  it.each<[string, ApplicationObject, ApplicationStatus, boolean]>([
    ['without autoRollback', appWith({ syncPolicy: { automated: {} } }), before(), false],
    ['with no healthy commit before', auto, synced('c1'), false],
    ['when it is itself the rollback', auto, before(), true],
  ])('no rollback %s: Degraded, the ledger failure', (_, app, status, autoRolledBack) => {
    const { s } = settle(app, status, degraded, ran(), autoRolledBack);
    expect(s.rollBackTo).toBeUndefined();
    expect(status.health?.status).toBe('Degraded');
    expect(status.ledger?.at(-1)?.state).toBe('failure');
  });
  it('a write that failed on the way: Error, OutOfSync, the ledger untouched', () => {
    const { s, status } = settle(
      auto,
      before(),
      healthy,
      ran({ error: { message: 'conflict (after 1 change had been applied)', conflict: false } }),
    );
    expect(s.result).toBe('out-of-sync');
    expect(status.operationState).toMatchObject({
      phase: 'Error',
      message: 'conflict (after 1 change had been applied)',
    });
    expect(status.ledger).toBeUndefined();
  });
  it('refused before anything was written (over quota): the commit failed, as any refusal', () => {
    const refusal = {
      type: 'ComparisonError' as const,
      reason: 'PolicyViolation',
      message: 'over',
      description: 'over quota',
      result: 'invalid' as const,
    };
    const { s, status } = settle(auto, before(), healthy, ran({ written: 0, refusal }));
    expect(s.result).toBe('invalid');
    expect(status.conditions?.map((c) => c.reason)).toEqual(['PolicyViolation']);
    expect(status.ledger?.[0]).toMatchObject({ revision: 'c2', state: 'failure', description: 'over quota' });
  });
});

describe('summarize: Ready, Reconciling, Stalled as kstatus reads them', () => {
  const condition = (type: string, reason: string) => ({
    type,
    status: 'True' as const,
    reason,
    message: `${reason}!`,
  });
  const table: [string, ApplicationStatus, boolean, [string, string] | undefined, string | undefined, string][] = [
    // what, status, automated, Stalled [status, reason], Reconciling status, Ready "status reason"
    [
      'synced and healthy',
      { sync: { status: 'Synced', revision: 'abcdef123' }, health: { status: 'Healthy' } },
      true,
      undefined,
      undefined,
      'True ReconciliationSucceeded',
    ],
    [
      'a wave still running',
      { ...synced('c1'), operationState: { phase: 'Running', revision: 'c1', message: 'waiting for web' } },
      true,
      undefined,
      'True',
      'False Progressing',
    ],
    [
      'synced, pods still starting',
      { ...synced('c1'), health: { status: 'Progressing', message: 'Deployment web: 1 of 3 updated' } },
      true,
      undefined,
      'True',
      'False Progressing',
    ],
    [
      'invalid manifests: stalled until a new commit',
      {
        sync: { status: 'OutOfSync', revision: 'c2' },
        health: { status: 'Healthy' },
        conditions: [condition('ComparisonError', 'InvalidManifests')],
      },
      true,
      ['True', 'InvalidManifests'],
      undefined,
      'False InvalidManifests',
    ],
    [
      'the source unreachable: not ready, not stalled (it is retried)',
      {
        ...synced('c1'),
        health: { status: 'Healthy' },
        conditions: [condition('SourceError', 'FetchFailed')],
      },
      true,
      undefined,
      undefined,
      'False FetchFailed',
    ],
    [
      'out of sync, automated: reconciling',
      { sync: { status: 'OutOfSync', revision: 'c2' }, health: { status: 'Healthy' } },
      true,
      undefined,
      'True',
      'False Progressing',
    ],
    [
      'out of sync, manual sync: waiting for a person, not reconciling',
      { sync: { status: 'OutOfSync', revision: 'c2' }, health: { status: 'Healthy' } },
      false,
      undefined,
      undefined,
      'False OutOfSync',
    ],
    [
      'degraded',
      { ...synced('c1'), health: { status: 'Degraded', message: 'CrashLoopBackOff' } },
      true,
      undefined,
      undefined,
      'False HealthCheckFailed',
    ],
  ];
  it.each(table)('%s', (_what, given, automated, stalled, reconciling, ready) => {
    const status = structuredClone(given);
    summarize(status, appWith(automated ? { syncPolicy: { automated: {} } } : {}), NOW);
    const find = (type: string) => status.conditions?.find((c) => c.type === type);
    expect(find('Stalled') && [find('Stalled')!.status, find('Stalled')!.reason]).toEqual(stalled);
    expect(find('Reconciling')?.status).toBe(reconciling);
    expect(`${find('Ready')?.status} ${find('Ready')?.reason}`).toBe(ready);
    // The conditions it summarizes stay as they were.
    for (const c of given.conditions ?? []) expect(find(c.type)).toEqual(c);
  });

  it("lastTransitionTime moves only when a condition's status does", () => {
    const status: ApplicationStatus = { ...synced('c1'), health: { status: 'Healthy' } };
    summarize(status, appWith(), '2026-12-07T00:00:00Z');
    status.health = { status: 'Healthy', message: 'still' };
    summarize(status, appWith(), '2026-12-07T00:05:00Z');
    expect(status.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2026-12-07T00:00:00Z');
    status.health = { status: 'Degraded' };
    summarize(status, appWith(), '2026-12-07T00:10:00Z');
    expect(status.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2026-12-07T00:10:00Z');
  });
});

describe('healthyDescription: what a success commit status says', () => {
  it.each([
    [4, '2026-12-07T14:00:50Z', '2026-12-07T14:01:02Z', undefined, 'synced 4 objects, healthy in 12 s'],
    [
      1,
      '2026-12-07T14:00:50Z',
      '2026-12-07T14:00:50Z',
      '2026-12-07T14:00:51Z',
      'synced 1 object, healthy in 0 s, serving since 14:00:51Z',
    ],
  ])('%i objects, synced %s, healthy %s, serving %s', (objects, synced, healthy, serving, said) => {
    expect(healthyDescription(objects, synced, healthy, serving)).toBe(said);
  });
});
