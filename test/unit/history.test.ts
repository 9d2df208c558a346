/** ControllerRevision bookkeeping (Kubernetes' controller history): create, renumber on reuse, prune. */
import { describe, expect, it } from 'vitest';
import { planRevisions, revisionData, type RevisionObject } from '../../src/controllers/history.js';

const rev = (name: string, revision: number): RevisionObject => ({
  apiVersion: 'apps/v1',
  kind: 'ControllerRevision',
  metadata: { name },
  revision,
});

describe('planRevisions', () => {
  it.each<
    [
      string,
      RevisionObject[],
      string,
      number,
      string[],
      { create?: [string, number]; renumber?: [string, number]; delete: string[] },
    ]
  >([
    ['the first template', [], 'web-a', 10, [], { create: ['web-a', 1], delete: [] }],
    ['a new template', [rev('web-a', 1)], 'web-b', 10, ['web-a'], { create: ['web-b', 2], delete: [] }],
    ['the newest again: nothing', [rev('web-a', 1), rev('web-b', 2)], 'web-b', 10, [], { delete: [] }],
    [
      'a rollback renumbers the old revision',
      [rev('web-a', 1), rev('web-b', 2)],
      'web-a',
      10,
      ['web-b'],
      { renumber: ['web-a', 3], delete: [] },
    ],
    [
      'beyond the limit, the oldest unused go',
      [rev('web-a', 1), rev('web-b', 2), rev('web-c', 3)],
      'web-d',
      1,
      [],
      { create: ['web-d', 4], delete: ['web-b', 'web-a'] },
    ],
    [
      'a revision pods still run stays',
      [rev('web-a', 1), rev('web-b', 2), rev('web-c', 3)],
      'web-d',
      1,
      ['web-a'],
      { create: ['web-d', 4], delete: ['web-b'] },
    ],
    ['limit 0 keeps only the current', [rev('web-a', 1)], 'web-b', 0, [], { create: ['web-b', 2], delete: ['web-a'] }],
  ])('%s', (_, existing, name, limit, inUse, want) => {
    const plan = planRevisions(existing, name, limit, new Set(inUse));
    expect({
      ...(plan.create ? { create: [plan.create.name, plan.create.revision] } : {}),
      ...(plan.renumber ? { renumber: [plan.renumber.revision.metadata.name, plan.renumber.to] } : {}),
      delete: plan.delete.map((r) => r.metadata.name),
    }).toEqual(want);
  });

  it('data is the patch kubectl rollout undo applies: the template, replaced whole', () => {
    const template = {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'i' }] as [{ name: string; image: string }] },
    };
    expect(revisionData(template)).toEqual({ spec: { template: { ...template, $patch: 'replace' } } });
  });
});
