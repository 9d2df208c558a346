/** Field ownership and server-side apply (structured-merge-diff's rules, for Berth's shapes). */
import { describe, expect, it } from 'vitest';
import {
  describePath,
  fromFieldsV1,
  leafPaths,
  recordUpdate,
  serverSideApply,
  toFieldsV1,
  valueAt,
} from '../../src/server/managed-fields.js';

const T = '2026-12-06T00:00:00Z';
const deploy = (spec: Record<string, unknown>, labels?: Record<string, string>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', ...(labels ? { labels } : {}) },
  spec,
});
const containers = (...cs: Record<string, unknown>[]) => ({ template: { spec: { containers: cs } } });
const show = (paths: Iterable<string>) => [...paths].map(describePath).sort();

describe('field sets', () => {
  it.each([
    ['scalars and maps', deploy({ replicas: 2 }, { app: 'web' }), ['.metadata.labels.app', '.spec.replicas']],
    [
      'keyed list items by their merge key',
      deploy(containers({ name: 'web', image: 'a' }, { name: 'side', image: 'b' })),
      [
        '.spec.template.spec.containers[name="side"].image',
        '.spec.template.spec.containers[name="side"].name',
        '.spec.template.spec.containers[name="web"].image',
        '.spec.template.spec.containers[name="web"].name',
      ],
    ],
    [
      'atomic lists whole',
      deploy(containers({ name: 'web', args: ['a', 'b'] })),
      ['.spec.template.spec.containers[name="web"].args', '.spec.template.spec.containers[name="web"].name'],
    ],
    [
      'set lists by value',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', finalizers: ['a', 'b'] } },
      ['.metadata.finalizers["a"]', '.metadata.finalizers["b"]'],
    ],
    [
      "server metadata and status are no one's",
      {
        ...deploy({ replicas: 1 }),
        metadata: { name: 'web', uid: 'u', resourceVersion: '3', generation: 2 },
        status: { replicas: 1 },
      },
      ['.spec.replicas'],
    ],
  ])('%s', (_, obj, want) => {
    expect(show(leafPaths(obj))).toEqual(want);
  });

  it('FieldsV1 round-trips, with "." on keyed items', () => {
    const paths = leafPaths(deploy({ replicas: 2, ...containers({ name: 'web', image: 'a' }) }));
    const v1 = toFieldsV1(paths);
    expect(v1).toEqual({
      'f:spec': {
        'f:replicas': {},
        'f:template': {
          'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
        },
      },
    });
    expect(fromFieldsV1(v1)).toEqual(paths);
  });

  it('valueAt follows keys into lists', () => {
    const obj = deploy(containers({ name: 'web', image: 'a' }));
    expect(
      valueAt(
        obj,
        [...leafPaths(obj)].find((p) => p.endsWith('f:image'))!,
      ),
    ).toBe('a');
  });
});

describe('ownership', () => {
  it('an update takes what it changed from everyone', () => {
    const created = deploy({ replicas: 2, paused: false });
    const afterCreate = recordUpdate(undefined, created, undefined, 'alice', 'apps/v1', T);
    expect(afterCreate.map((e) => [e.manager, e.operation, show(fromFieldsV1(e.fieldsV1))])).toEqual([
      ['alice', 'Update', ['.spec.paused', '.spec.replicas']],
    ]);
    const scaled = recordUpdate(
      created,
      deploy({ replicas: 5, paused: false }),
      afterCreate,
      'kubectl-scale',
      'apps/v1',
      T,
    );
    expect(scaled.map((e) => [e.manager, show(fromFieldsV1(e.fieldsV1))])).toEqual([
      ['alice', ['.spec.paused']],
      ['kubectl-scale', ['.spec.replicas']],
    ]);
  });

  it('apply: conflicts name the other managers; force takes the field; the same value is shared', () => {
    const first = serverSideApply(undefined, deploy({ replicas: 2 }, { team: 'a' }) as never, 'alice', false, T);
    const live = {
      ...first.object,
      metadata: { ...(first.object.metadata as object), managedFields: first.managedFields },
    };
    expect(() => serverSideApply(live as never, deploy({ replicas: 3 }) as never, 'bob', false, T)).toThrow(
      'Apply failed with 1 conflict: conflict with "alice": .spec.replicas',
    );
    const shared = serverSideApply(live as never, deploy({ replicas: 2 }) as never, 'bob', false, T);
    expect(shared.managedFields.map((e) => [e.manager, show(fromFieldsV1(e.fieldsV1))])).toEqual([
      ['alice', ['.metadata.labels.team', '.spec.replicas']],
      ['bob', ['.spec.replicas']],
    ]);
    const forced = serverSideApply(live as never, deploy({ replicas: 3 }) as never, 'bob', true, T);
    expect((forced.object.spec as { replicas: number }).replicas).toBe(3);
    expect(forced.managedFields.map((e) => [e.manager, show(fromFieldsV1(e.fieldsV1))])).toEqual([
      ['alice', ['.metadata.labels.team']],
      ['bob', ['.spec.replicas']],
    ]);
  });

  it('apply removes what the manager stopped applying, unless another manager owns it', () => {
    const first = serverSideApply(
      undefined,
      deploy(
        { replicas: 2, ...containers({ name: 'web', image: 'a' }, { name: 'side', image: 'b' }) },
        { team: 'a', tier: 'x' },
      ) as never,
      'alice',
      false,
      T,
    );
    const live = {
      ...first.object,
      metadata: { ...(first.object.metadata as object), managedFields: first.managedFields },
    };
    const next = serverSideApply(
      live as never,
      deploy({ replicas: 2, ...containers({ name: 'web', image: 'a' }) }, { team: 'a' }) as never,
      'alice',
      false,
      T,
    );
    expect((next.object.metadata as { labels: object }).labels).toEqual({ team: 'a' });
    expect((next.object.spec as any).template.spec.containers).toEqual([{ name: 'web', image: 'a' }]);
    // Co-owned by bob: alice dropping it leaves it.
    const withBob = serverSideApply(live as never, deploy({}, { tier: 'x' }) as never, 'bob', false, T);
    const live2 = {
      ...withBob.object,
      metadata: { ...(withBob.object.metadata as object), managedFields: withBob.managedFields },
    };
    const dropped = serverSideApply(live2 as never, deploy({ replicas: 2 }, { team: 'a' }) as never, 'alice', false, T);
    expect((dropped.object.metadata as { labels: object }).labels).toEqual({ team: 'a', tier: 'x' });
  });

  it('an object no one applied yet: its fields are "before-first-apply"\'s, and an apply that changes one conflicts', () => {
    const live = deploy({ replicas: 2, paused: false });
    expect(() => serverSideApply(live as never, deploy({ replicas: 3 }) as never, 'kubectl', false, T)).toThrow(
      'conflict with "before-first-apply": .spec.replicas',
    );
    const same = serverSideApply(live as never, deploy({ replicas: 2 }) as never, 'kubectl', false, T);
    expect(same.managedFields.map((e) => [e.manager, e.operation, show(fromFieldsV1(e.fieldsV1))])).toEqual([
      ['before-first-apply', 'Update', ['.spec.paused', '.spec.replicas']],
      ['kubectl', 'Apply', ['.spec.replicas']],
    ]);
  });
});
