/** Project rules as a table: globs, destinations, kind lists and the rules every project has. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROJECT, checkObjects, checkSource, globMatch, type ProjectSpec } from '../../src/sync/project.js';

const at = (object: Record<string, unknown>) => ({ object: object as never, source: { file: 'f.yaml', line: 3 } });
const namespaced = (_: string, kind: string) => !['Namespace', 'AppProject', 'Node'].includes(kind);
const obj = (kind: string, name: string, namespace?: string, extra: Record<string, unknown> = {}) => ({
  apiVersion:
    kind === 'AppProject' || kind === 'Application' ? 'berth.dev/v1' : kind === 'Deployment' ? 'apps/v1' : 'v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  ...extra,
});

describe('project rules', () => {
  it.each([
    ['*', 'https://github.com/org/repo.git', true],
    ['https://github.com/org/*', 'https://github.com/org/repo.git', true],
    ['https://github.com/org/*', 'https://github.com/org/sub/repo.git', false],
    ['https://github.com/org/**', 'https://github.com/org/sub/repo.git', true],
    ['team-*', 'team-a', true],
    ['team-*', 'teams', false],
    ['team-?', 'team-ab', false],
    ['a.b', 'axb', false],
  ])('glob %s against %s → %s', (pattern, value, want) => {
    expect(globMatch(pattern, value)).toBe(want);
  });

  const team: ProjectSpec = {
    sourceRepos: ['https://git.example/team/*'],
    destinations: [{ namespace: 'team-*' }],
    clusterResourceWhitelist: [{ group: '', kind: 'Namespace' }],
    namespaceResourceBlacklist: [{ group: 'apps', kind: '*' }],
  };
  it.each<[string, ProjectSpec, Record<string, unknown>, string | undefined]>([
    ['a ConfigMap in a destination', team, obj('ConfigMap', 'c', 'team-a'), undefined],
    [
      'a ConfigMap outside the destinations',
      team,
      obj('ConfigMap', 'c', 'other'),
      'namespace other is not a destination of project p',
    ],
    ['a blacklisted group', team, obj('Deployment', 'd', 'team-a'), 'kind apps/Deployment is blacklisted in project p'],
    ['a whitelisted cluster kind', team, obj('Namespace', 'team-z'), undefined],
    [
      'anything into berth-system',
      DEFAULT_PROJECT,
      obj('ConfigMap', 'c', 'berth-system'),
      'namespace berth-system belongs to Berth alone: no commit writes to it',
    ],
    [
      'the berth-system Namespace',
      DEFAULT_PROJECT,
      obj('Namespace', 'berth-system'),
      'namespace berth-system belongs to Berth alone: no commit writes to it',
    ],
    [
      'a token Secret',
      DEFAULT_PROJECT,
      obj('Secret', 't', 'default', { type: 'berth.dev/token' }),
      "Secrets of type berth.dev/token are Berth's own (tokens, agent endpoints): no commit writes them",
    ],
    [
      'an ordinary Secret type',
      DEFAULT_PROJECT,
      obj('Secret', 't', 'default', { type: 'kubernetes.io/tls' }),
      undefined,
    ],
    [
      'an AppProject under a wildcard',
      DEFAULT_PROJECT,
      obj('AppProject', 'x'),
      'cluster-scoped kind berth.dev/AppProject is not in the clusterResourceWhitelist of project p (AppProject must be named there explicitly)',
    ],
    [
      'an AppProject named explicitly',
      { ...DEFAULT_PROJECT, clusterResourceWhitelist: [{ group: 'berth.dev', kind: 'AppProject' }] },
      obj('AppProject', 'x'),
      undefined,
    ],
    [
      'a child Application of another project',
      DEFAULT_PROJECT,
      obj('Application', 'c', 'default', { spec: { project: 'admin' } }),
      "an Application written by a commit belongs to its parent's project p, not admin",
    ],
    [
      'a child Application of the same project',
      DEFAULT_PROJECT,
      obj('Application', 'c', 'default', { spec: { project: 'p' } }),
      undefined,
    ],
  ])('%s', (_, project, object, violation) => {
    const found = checkObjects('p', project, [at(object)], namespaced);
    expect(found.map((v) => v.message.replace(/^[^:]+: /, ''))).toEqual(violation ? [violation] : []);
    for (const v of found) expect({ file: v.file, line: v.line }).toEqual({ file: 'f.yaml', line: 3 });
  });

  it('checks the repository against sourceRepos', () => {
    expect(checkSource('p', team, 'https://git.example/team/app.git')).toEqual([]);
    expect(checkSource('p', team, 'https://evil.example/app.git')[0]!.message).toBe(
      'repository https://evil.example/app.git is not permitted in project p (its sourceRepos: https://git.example/team/*)',
    );
  });
});
