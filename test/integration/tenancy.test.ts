/**
 * What a Git push may write (security issue, items 5–7), on real repositories pushed with the git
 * CLI and a SQLite store: projects (sourceRepos, destinations, kind lists, the rules every project
 * has), no silent adoption of objects someone made by hand, and no automated prune down to
 * nothing. Every refused commit changes no object (its file:line and rule are in the condition).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KINDS } from '../../src/api/kinds.js';
import { type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { reconcileApplication, type ApplicationObject } from '../../src/sync/index.js';
import { TestRepo } from '../helpers/git.js';
import {
  closeSyncFixture,
  createApplication,
  getApplication,
  openSyncFixture,
  reconcileByName,
  type SyncFixture,
} from '../helpers/sync.js';

const cm = (name: string, namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}data:\n  value: "v"\n`;
const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

describe('tenancy: what a commit may write', () => {
  let fixture: SyncFixture;
  let repo: TestRepo;
  let store: RevisionedStore;
  beforeEach(async () => {
    fixture = await openSyncFixture('berth-tenancy-');
    ({ repo, store } = fixture);
    for (const name of ['default', 'berth-system', 'team-a', 'team-b'])
      await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });
  afterEach(() => closeSyncFixture(fixture));

  const application = (name: string, spec: Partial<ApplicationObject['spec']> = {}, namespace = 'default') =>
    createApplication(fixture, name, spec, namespace);
  const project = (name: string, spec: Record<string, unknown>) =>
    store.create({ apiVersion: 'berth.dev/v1', kind: 'AppProject', metadata: { name }, spec });
  const reconcile = (name: string, namespace = 'default', options = {}) =>
    reconcileByName(fixture, name, namespace, options);
  const appStatus = async (name: string, namespace = 'default') =>
    (await getApplication(store, name, namespace)).status!;
  const condition = async (name: string, type: string) =>
    (await appStatus(name)).conditions?.find((c) => c.type === type);
  /** Every object but Applications (whose status a refusal writes), by key and resourceVersion. */
  const everything = async () => {
    const out: string[] = [];
    for (const k of KINDS.filter((x) => x.kind !== 'Application'))
      for (const o of (await store.list({ group: k.group, kind: k.kind })).items)
        out.push(`${k.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion}`);
    return out.sort();
  };
  /** Syncs, expecting the commit refused whole: nothing changed, the condition names file:line and rule. */
  const expectRefused = async (app: string, type: string, reason: string, ...words: (string | RegExp)[]) => {
    const before = await everything();
    const outcome = await reconcile(app);
    expect(outcome.written).toBe(0);
    expect(await everything()).toEqual(before);
    const c = await condition(app, type);
    expect(c).toMatchObject({ status: 'True', reason });
    for (const w of words) expect(c!.message).toMatch(w);
    expect((await appStatus(app)).ledger?.at(-1)).toMatchObject({ state: 'failure' });
  };

  it("refuses a commit that writes into berth-system, Berth's token Secrets, or the berth-system Namespace", async () => {
    repo.write({
      'app/ok.yaml': cm('fine'),
      'app/sys.yaml': cm('sneaky', 'berth-system'),
      'app/token.yaml':
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: token-abcdef\ntype: berth.dev/token\nstringData:\n  role: admin\n',
      'app/ns.yaml': ns('berth-system'),
    });
    repo.commit('escalate');
    await application('shop');
    await expectRefused(
      'shop',
      'ComparisonError',
      'PolicyViolation',
      /app\/sys\.yaml:1: ConfigMap berth-system\/sneaky: namespace berth-system belongs to Berth alone/,
      /app\/token\.yaml:1: Secret default\/token-abcdef: Secrets of type berth\.dev\/token are Berth's own/,
      /app\/ns\.yaml:1: Namespace berth-system: namespace berth-system belongs to Berth alone/,
    );
  });

  it('holds an Application to its project: repositories, destinations, kinds; a missing project allows nothing', async () => {
    await project('team-a', {
      sourceRepos: [`${repo.bare}`],
      destinations: [{ namespace: 'team-a' }],
      clusterResourceWhitelist: [],
      namespaceResourceBlacklist: [{ group: '', kind: 'Secret' }],
    });
    repo.write({
      'app/mine.yaml': cm('mine', 'team-a'),
      'app/theirs.yaml': cm('theirs', 'team-b'),
      'app/ns.yaml': ns('team-c'),
      'app/s.yaml': 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: team-a\nstringData: {a: b}\n',
    });
    repo.commit('cross the line');
    await application('a-app', { project: 'team-a', destination: { namespace: 'team-a' } }, 'team-a');
    const before = await everything();
    await reconcile('a-app', 'team-a');
    expect(await everything()).toEqual(before);
    const c = (await appStatus('a-app', 'team-a')).conditions?.find((x) => x.type === 'ComparisonError');
    expect(c?.reason).toBe('PolicyViolation');
    expect(c?.message).toMatch(
      /app\/theirs\.yaml:1: ConfigMap team-b\/theirs: namespace team-b is not a destination of project team-a/,
    );
    expect(c?.message).toMatch(
      /app\/ns\.yaml:1: Namespace team-c: cluster-scoped kind core\/Namespace is not in the clusterResourceWhitelist of project team-a/,
    );
    expect(c?.message).toMatch(/app\/s\.yaml:1: Secret team-a\/s: kind core\/Secret is blacklisted in project team-a/);
    expect(c?.message).not.toMatch(/mine/);

    // A repository the project does not list.
    const other = new TestRepo('other');
    try {
      other.write({ 'app/x.yaml': cm('x', 'team-a') });
      other.commit('other');
      await application('elsewhere', { project: 'team-a', source: { repoURL: other.bare, path: 'app' } }, 'team-a');
      await reconcile('elsewhere', 'team-a');
      expect(
        (await appStatus('elsewhere', 'team-a')).conditions?.find((x) => x.type === 'ComparisonError'),
      ).toMatchObject({
        reason: 'PolicyViolation',
        message: `repository ${other.bare} is not permitted in project team-a (its sourceRepos: ${repo.bare})`,
      });
    } finally {
      other.remove();
    }

    // Within its lines, the same project syncs.
    repo.write({ 'app/theirs.yaml': null, 'app/ns.yaml': null, 'app/s.yaml': null });
    repo.commit('stay inside');
    expect(await reconcile('a-app', 'team-a')).toMatchObject({ result: 'synced', written: 1 });

    await application('lost', { project: 'nobody' });
    await expectRefused('lost', 'ComparisonError', 'PolicyViolation', /AppProject nobody does not exist/);
  });

  it("an Application a commit writes belongs to its parent's project; AppProjects only where named explicitly", async () => {
    repo.write({
      'app/child.yaml':
        'apiVersion: berth.dev/v1\nkind: Application\nmetadata:\n  name: child\nspec:\n  project: admin\n  source:\n    repoURL: /anywhere\n',
      'app/proj.yaml':
        'apiVersion: berth.dev/v1\nkind: AppProject\nmetadata:\n  name: admin\nspec:\n  sourceRepos: ["*"]\n  destinations: [{namespace: "*"}]\n  clusterResourceWhitelist: [{group: "*", kind: "*"}]\n',
    });
    repo.commit('take over');
    await application('parent');
    await expectRefused(
      'parent',
      'ComparisonError',
      'PolicyViolation',
      /app\/child\.yaml:1: Application default\/child: an Application written by a commit belongs to its parent's project default, not admin/,
      /app\/proj\.yaml:1: AppProject admin: cluster-scoped kind berth\.dev\/AppProject is not in the clusterResourceWhitelist of project default \(AppProject must be named there explicitly\)/,
    );

    await project('platform', {
      sourceRepos: ['*'],
      destinations: [{ namespace: '*' }],
      clusterResourceWhitelist: [{ group: 'berth.dev', kind: 'AppProject' }],
    });
    repo.write({
      'app/child.yaml':
        'apiVersion: berth.dev/v1\nkind: Application\nmetadata:\n  name: child\nspec:\n  project: platform\n  source:\n    repoURL: /anywhere\n',
    });
    repo.commit('as the platform team');
    await application('platform-root', { project: 'platform' });
    expect(await reconcile('platform-root')).toMatchObject({ result: 'synced', written: 2 });
  });

  it('leaves an object someone made by hand alone unless the Application opts in to adopt it; prune removes only what it created or adopted', async () => {
    await store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: 'team-b' },
      data: { password: Buffer.from('hand-made').toString('base64') },
    } as KubeObject);
    repo.write({
      'app/db.yaml':
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: team-b\nstringData:\n  password: from-git\n',
      'app/ok.yaml': cm('ok', 'team-b'),
    });
    repo.commit('overwrite');
    await application('grab');
    await expectRefused(
      'grab',
      'SharedResourceError',
      'NotManaged',
      /\/Secret\/team-b\/db exists and no Application manages it: left alone/,
      /AdoptExisting=true/,
    );
    expect((await store.get({ group: '', kind: 'Secret', namespace: 'team-b', name: 'db' })).data).toEqual({
      password: Buffer.from('hand-made').toString('base64'),
    });

    const app = await getApplication(store, 'grab');
    await store.update({
      ...app,
      spec: { ...app.spec, syncPolicy: { ...app.spec.syncPolicy, syncOptions: ['AdoptExisting=true'] } },
    });
    expect(await reconcile('grab')).toMatchObject({ result: 'synced', written: 2 });
    // Adopted, so a commit without it prunes it, as it prunes what it created.
    repo.write({ 'app/db.yaml': null });
    repo.commit('let go');
    expect(await reconcile('grab')).toMatchObject({ result: 'synced', written: 1 });
    await expect(store.get({ group: '', kind: 'Secret', namespace: 'team-b', name: 'db' })).rejects.toThrow();
  });

  it("refuses a commit whose pods break their namespace's Pod Security level (hostPath: /), with file:line", async () => {
    repo.write({
      'app/ok.yaml': cm('fine'),
      'app/root.yaml':
        'apiVersion: v1\nkind: Pod\nmetadata:\n  name: root\nspec:\n  containers: [{name: sh, image: busybox}]\n  volumes: [{name: root, hostPath: {path: /srv}}]\n',
      'app/ns.yaml': ns('locked') + '  labels:\n    pod-security.kubernetes.io/enforce: restricted\n',
      'app/web.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: locked\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n',
    });
    repo.commit('escape');
    await application('shop');
    await expectRefused(
      'shop',
      'ComparisonError',
      'PolicyViolation',
      /app\/root\.yaml:1: Pod default\/root: violates PodSecurity "baseline:latest": hostPath volumes \(volume "root"\)/,
      /app\/web\.yaml:1: Deployment locked\/web: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
    );
  });

  it('refuses a commit whose pod mounts a data directory, even in a privileged namespace', async () => {
    const pods = (p: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: steal\n  namespace: ops\nspec:\n  containers: [{name: sh, image: busybox}]\n  volumes: [{name: root, hostPath: {path: ${p}}}]\n`;
    repo.write({
      'app/ns.yaml': ns('ops') + '  labels:\n    pod-security.kubernetes.io/enforce: privileged\n',
      'app/steal.yaml': pods('/'),
    });
    repo.commit('steal');
    await store.create({
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'ops', namespace: 'default' },
      spec: { source: { repoURL: repo.bare, path: 'app' }, syncPolicy: { automated: { prune: true } } },
    } as KubeObject);
    const before = await everything();
    const podSecurity = { defaultLevel: 'baseline' as const, protectedDirs: async () => ['/var/lib/berth'] };
    const outcome = await reconcileApplication(
      { store, source: fixture.source, memo: fixture.memo, podSecurity },
      await getApplication(store, 'ops'),
    );
    expect(outcome.written).toBe(0);
    expect(await everything()).toEqual(before);
    expect((await condition('ops', 'ComparisonError'))?.message).toBe(
      'app/steal.yaml:1: Pod ops/steal: hostPath volume "root" (/) reaches Berth\'s data directory /var/lib/berth: no pod may mount it',
    );
    repo.write({ 'app/steal.yaml': pods('/srv') });
    repo.commit('host access where allowed');
    expect(
      await reconcileApplication(
        { store, source: fixture.source, memo: fixture.memo, podSecurity },
        await getApplication(store, 'ops'),
      ),
    ).toMatchObject({ result: 'synced', written: 2 });
  });

  it('writes into a namespace that does not exist only when the commit declares it, or with CreateNamespace=true', async () => {
    repo.write({ 'app/a.yaml': cm('a', 'nowhere') });
    repo.commit('into the void');
    await application('shop', { destination: { namespace: 'nowhere' } });
    const before = await everything();
    expect(await reconcile('shop')).toMatchObject({ result: 'invalid', written: 0 });
    expect(await everything()).toEqual(before);
    expect(await condition('shop', 'ComparisonError')).toMatchObject({
      reason: 'NamespaceNotFound',
      message:
        'app/a.yaml:1: namespace nowhere does not exist: declare it in the commit, or set syncOptions: [CreateNamespace=true] to create the destination namespace',
    });
    const app = await getApplication(store, 'shop');
    await store.update({
      ...app,
      spec: { ...app.spec, syncPolicy: { ...app.spec.syncPolicy, syncOptions: ['CreateNamespace=true'] } },
    });
    expect(await reconcile('shop')).toMatchObject({ result: 'synced', written: 1 });
    expect((await store.get({ group: '', kind: 'Namespace', namespace: '', name: 'nowhere' })).metadata.name).toBe(
      'nowhere',
    );
  });

  it('refuses an automated sync that would prune everything, unless allowEmpty', async () => {
    repo.write({ 'app/a.yaml': cm('a'), 'app/b.yaml': cm('b') });
    repo.commit('two');
    await application('shop');
    expect(await reconcile('shop')).toMatchObject({ result: 'synced', written: 2 });
    repo.write({ 'app/a.yaml': null, 'app/b.yaml': null, 'app/README.md': 'moved' });
    repo.commit('empty');
    await expectRefused(
      'shop',
      'SyncError',
      'EmptyCommit',
      /would prune all 2 of the Application's objects/,
      /allowEmpty/,
    );
    const app = await getApplication(store, 'shop');
    await store.update({ ...app, spec: { ...app.spec, syncPolicy: { automated: { prune: true, allowEmpty: true } } } });
    expect(await reconcile('shop')).toMatchObject({ result: 'synced', written: 2 });
    expect((await store.list({ group: '', kind: 'ConfigMap' })).items).toEqual([]);
  });
});
