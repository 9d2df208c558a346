/** `berth app diff` against a real server: exit 0 no difference, 1 differences, 2 invalid revision. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

describe('berth app diff', () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  let gitHttp: GitHttpServer;
  let pullHead: string;
  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    repo.write({ 'app/a.yaml': cm('a', '1'), 'app/b.yaml': cm('b', '1') });
    repo.commit('main');
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    expect(
      (await server.cli('app', 'create', 'shop', '--repo', repo.bare, '--path', 'app', '--auto-sync', '--prune')).code,
    ).toBe(0);
    expect((await server.cli('app', 'sync', 'shop')).code).toBe(0);
    // A pull request's branch: change a, add c, drop b.
    repo.run('checkout', '-q', '-b', 'feature');
    repo.write({ 'app/a.yaml': cm('a', '2'), 'app/c.yaml': cm('c', '1'), 'app/b.yaml': null });
    pullHead = repo.commit('feature work', { branch: 'feature' });
    // The same commit as a pull request's head, as GitHub publishes it (no branch names it there).
    repo.run('push', '-q', 'origin', 'HEAD:refs/pull/7/head');
    repo.write({ 'app/bad.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n' });
    repo.commit('broken', { branch: 'broken' });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await gitHttp?.close();
    repo?.remove();
  });

  it('exits 0 when the tracked revision matches the cluster', async () => {
    const r = await server.cli('app', 'diff', 'shop');
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toMatch(/^no differences at [0-9a-f]{7}$/m);
  });

  it('exits 1 and shows created, changed and pruned for a branch', async () => {
    const r = await server.cli('app', 'diff', 'shop', '--revision', 'feature');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^\+ ConfigMap\/c \(default\) \(created\)$/m);
    expect(r.out).toMatch(/^± ConfigMap\/a \(default\) \(\+1\|-1\)$/m);
    expect(r.out).toMatch(/^-\s+value: "1"$/m);
    expect(r.out).toMatch(/^\+\s+value: "2"$/m);
    expect(r.out).toMatch(/^- ConfigMap\/b \(default\) \(pruned\)$/m);
    const md = await server.cli('app', 'diff', 'shop', '--revision', 'feature', '-o', 'markdown');
    expect(md.out).toMatch(/^## Berth Diff Preview$/m);
    const json = JSON.parse((await server.cli('app', 'diff', 'shop', '--revision', 'feature', '-o', 'json')).out);
    expect([json.created.length, json.changed.length, json.pruned.length]).toEqual([1, 1, 1]);
    // A diff changes nothing.
    expect((await server.cli('get', 'cm', '-o', 'name')).out).toBe('configmap/a\nconfigmap/b\n');
  });

  it('exits 2 for an invalid revision, listing file:line', async () => {
    const r = await server.cli('app', 'diff', 'shop', '--revision', 'broken');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/app\/bad\.yaml:\d+:\d+: error/);
    // As a PR comment: the errors in a CAUTION block, not an empty comment.
    const comment = await server.cli('app', 'diff', 'shop', '--revision', 'broken', '-o', 'markdown');
    expect(comment.code).toBe(2);
    expect(comment.out).toMatch(
      /^> \[!CAUTION\]\n> \*\*The revision has invalid manifests: nothing would be synced\.\*\*$/m,
    );
    expect(comment.out).toMatch(/^> - app\/bad\.yaml:\d+:\d+: error/m);
    expect((await server.cli('app', 'diff', 'shop', '--revision', 'no-such-branch')).code).toBe(2);
  });

  it('diffs a pull request head (refs/pull/N/head), locally and over smart HTTP, following it as it moves', async () => {
    const local = JSON.parse(
      (await server.cli('app', 'diff', 'shop', '--revision', 'refs/pull/7/head', '-o', 'json')).out,
    );
    expect(local.revision).toBe(pullHead);
    expect([local.created.length, local.changed.length, local.pruned.length]).toEqual([1, 1, 1]);

    gitHttp = await startGitHttpServer(repo.root);
    // Over HTTP the repository is cloned: branches and tags come, pull request refs are fetched when asked for.
    expect(
      (
        await server.cli(
          'app',
          'create',
          'preview',
          '--repo',
          `${gitHttp.url}/repo.git`,
          '--path',
          'app',
          '--dest-namespace',
          'preview',
        )
      ).code,
    ).toBe(0);
    let r = await server.cli('app', 'diff', 'preview', '--revision', 'refs/pull/7/head', '-o', 'json');
    expect(r.code).toBe(1);
    let remote = JSON.parse(r.out);
    expect(remote.revision).toBe(pullHead);
    expect(remote.created.map((c: { name: string }) => c.name).sort()).toEqual(['a', 'c']);

    // A new push to the pull request: the next diff sees it.
    repo.run('checkout', '-q', pullHead);
    repo.write({ 'app/d.yaml': cm('d', '1') });
    repo.run('add', '-A');
    repo.run('commit', '-q', '-m', 'more work');
    const moved = repo.run('rev-parse', 'HEAD');
    repo.run('push', '-q', '--force', 'origin', 'HEAD:refs/pull/7/head');
    r = await server.cli('app', 'diff', 'preview', '--revision', 'refs/pull/7/head', '-o', 'json');
    remote = JSON.parse(r.out);
    expect(remote.revision).toBe(moved);
    expect(remote.created.map((c: { name: string }) => c.name).sort()).toEqual(['a', 'c', 'd']);
    expect((await server.cli('app', 'diff', 'preview', '--revision', 'refs/pull/8/head')).code).toBe(2);
  });
});
