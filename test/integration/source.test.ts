/**
 * The Git source against real repositories made with the git CLI, read in place (working copy,
 * bare, file:// URL) and over smart HTTP (git http-backend), including auth and failures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, loadFile, type SourceFile } from '../../src/manifest/index.js';
import { GitSource, type SourceSpec } from '../../src/source/index.js';
import { GitRepository, SourceError } from '../../src/source/git.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { freePort } from '../helpers/ports.js';

const LOAD = { strict: false, defaultNamespace: 'default' };
const loadAll = (files: SourceFile[]) => collect(files.map((f) => loadFile(f, LOAD)));
const cm = (name: string, value = 'v1') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

function seed(repo: TestRepo): string {
  repo.write({
    'apps/web/a.yaml': cm('a'),
    'apps/web/b.yaml': cm('b'),
    'apps/web/nested/c.yml': cm('c'),
    'apps/web/.hidden.yaml': cm('hidden'),
    'apps/web/drafts/d.yaml': cm('draft'),
    'apps/web/.berthignore': 'drafts/\n',
    'apps/other/x.yaml': cm('x'),
    'README.md': '# not a manifest',
  });
  return repo.commit('first');
}

describe('Git source', () => {
  const cleanup: (() => unknown)[] = [];
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'berth-source-'));
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const repo = () => {
    const r = new TestRepo();
    cleanup.push(() => r.remove());
    return r;
  };
  const names = (a: { result: { objects: { object: { metadata: { name: string } } }[] } }) =>
    a.result.objects.map((o) => o.object.metadata.name).sort();

  it.each([
    ['a working copy path', (r: TestRepo) => r.work],
    ['a bare repository path', (r: TestRepo) => r.bare],
    ['a file:// URL', (r: TestRepo) => `file://${r.bare}`],
  ])('reads %s in place, honouring .berthignore and hidden files', async (_, url) => {
    const r = repo();
    const first = seed(r);
    const source = new GitSource({ dataDir });
    const spec: SourceSpec = { repoURL: url(r), path: 'apps/web' };
    const resolved = await source.refresh(spec);
    expect(resolved).toEqual({
      ok: true,
      value: { commit: first, ref: expect.stringMatching(/^(HEAD|refs\/heads\/main)$/) },
    });
    const art = await source.artifact(spec, first, LOAD);
    if (!art.ok) throw new Error(art.condition.message);
    expect(names(art.value)).toEqual(['a', 'b', 'c']);
    expect([...art.value.files.keys()]).toEqual(['apps/web/a.yaml', 'apps/web/b.yaml', 'apps/web/nested/c.yml']);
    expect(art.value).toMatchObject({
      commit: first,
      message: 'first',
      author: 'Berth Test <test@berth.dev>',
      parsed: 3,
    });
  });

  it('re-parses only the files a commit changed', async () => {
    const r = repo();
    seed(r);
    const source = new GitSource({ dataDir });
    const spec: SourceSpec = { repoURL: r.work, path: 'apps/web' };
    const first = await source.refresh(spec);
    await source.artifact(spec, first.ok ? first.value.commit : '', LOAD);
    r.write({ 'apps/web/b.yaml': cm('b', 'v2'), 'apps/other/x.yaml': cm('x', 'v2') });
    const second = r.commit('change b');
    const resolved = await source.refresh(spec);
    expect(resolved.ok && resolved.value.commit).toBe(second);
    const art = await source.artifact(spec, second, LOAD);
    if (!art.ok) throw new Error(art.condition.message);
    expect(art.value.parsed).toBe(1);
    expect((art.value.result.objects.find((o) => o.object.metadata.name === 'b')!.object as any).data).toEqual({
      value: 'v2',
    });
  });

  it('resolves branches, lightweight and annotated tags, and commits', async () => {
    const r = repo();
    const first = seed(r);
    r.run('tag', 'v1');
    r.run('tag', '-a', 'v1-annotated', '-m', 'release');
    r.run('push', '-q', 'origin', '--tags');
    r.write({ 'apps/web/e.yaml': cm('e') });
    const second = r.commit('dev work', { branch: 'dev' });
    const source = new GitSource({ dataDir });
    const resolve = async (rev?: string) => {
      const res = await source.refresh({ repoURL: r.bare, ...(rev ? { targetRevision: rev } : {}) });
      return res.ok ? res.value.commit : res.condition;
    };
    expect(await resolve()).toBe(first);
    expect(await resolve('main')).toBe(first);
    expect(await resolve('dev')).toBe(second);
    expect(await resolve('v1')).toBe(first);
    expect(await resolve('v1-annotated')).toBe(first);
    expect(await resolve(first)).toBe(first);
    expect(await resolve('nope')).toMatchObject({ reason: 'RevisionNotFound' });
    expect(await resolve('0'.repeat(40))).toMatchObject({ reason: 'RevisionNotFound' });
  });

  it('reads ".", "./" and "/" as the top of the repository, "./apps/web/" as apps/web', async () => {
    const r = repo();
    const first = seed(r);
    const source = new GitSource({ dataDir });
    const namesAt = async (path?: string) => {
      const art = await source.artifact({ repoURL: r.work, ...(path !== undefined ? { path } : {}) }, first, LOAD);
      if (!art.ok) throw new Error(art.condition.message);
      return names(art.value);
    };
    const whole = await namesAt();
    expect(whole).toContain('x');
    for (const top of ['.', './', '/']) expect(await namesAt(top)).toEqual(whole);
    expect(await namesAt('./apps/web/')).toEqual(await namesAt('apps/web'));
  });

  it('reports a missing path and a folder that is not a repository as conditions', async () => {
    const r = repo();
    const first = seed(r);
    const source = new GitSource({ dataDir });
    expect(await source.artifact({ repoURL: r.work, path: 'apps/missing' }, first, LOAD)).toMatchObject({
      ok: false,
      condition: { reason: 'PathNotFound' },
    });
    expect(await source.refresh({ repoURL: dataDir })).toMatchObject({
      ok: false,
      condition: { reason: 'InvalidRepository' },
    });
  });

  describe('over smart HTTP', () => {
    let server: GitHttpServer;
    let r: TestRepo;
    beforeAll(async () => {
      r = new TestRepo();
      seed(r);
      server = await startGitHttpServer(r.root);
    });
    afterAll(async () => {
      await server.close();
      r.remove();
    });

    it('clones once, fetches incrementally, and skips the fetch when nothing moved', async () => {
      const source = new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'http-')) });
      const spec: SourceSpec = { repoURL: `${server.url}/repo.git`, path: 'apps/web' };
      const first = await source.refresh(spec);
      if (!first.ok) throw new Error(first.condition.message);
      const art = await source.artifact(spec, first.value.commit, LOAD);
      expect(art.ok && names(art.value)).toEqual(['a', 'b', 'c']);

      server.requests.length = 0;
      expect(await source.refresh(spec)).toEqual(first);
      // The ref advertisement only (one GET): no ls-refs round trip, no pack.
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]).toMatch(/^GET .*info\/refs\?service=git-upload-pack/);

      r.write({ 'apps/web/f.yaml': cm('f') });
      const next = r.commit('add f');
      server.requests.length = 0;
      const second = await source.refresh(spec);
      expect(second.ok && second.value.commit).toBe(next);
      // The probe's advertisement, then one pack request: the fetch does not ask for the refs again.
      expect(server.requests.map((q) => q.split(' ')[0])).toEqual(['GET', 'POST']);
      expect(server.requests[1]).toMatch(/git-upload-pack$/);
      const art2 = await source.artifact(spec, next, LOAD);
      expect(art2.ok && [names(art2.value), art2.value.parsed]).toEqual([['a', 'b', 'c', 'f'], 1]);
    });

    it('loads a large tree on the loader threads as it reads it, as one thread would, and a fetch after it sees the new objects', async () => {
      const big = new TestRepo();
      const bigServer = await startGitHttpServer(big.root);
      try {
        const files: Record<string, string> = {};
        for (let i = 0; i < 260; i++)
          files[`many/d${i % 7}/cm-${String(i).padStart(3, '0')}.yaml`] = cm(`cm-${i}`, `v${i}`);
        // One bad file deep in the tree: its diagnostic must come back from whichever thread read it.
        files['many/d3/broken.yaml'] =
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  n: 1\n  list: [a\n';
        big.write(files);
        const first = big.commit('many files');
        const source = new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'http-big-')) });
        const spec: SourceSpec = { repoURL: `${bigServer.url}/repo.git`, path: 'many' };
        expect(await source.refresh(spec)).toMatchObject({ ok: true, value: { commit: first } });
        const art = await source.artifact(spec, first, LOAD);
        if (!art.ok) throw new Error(art.condition.message);
        expect(art.value.parsed).toBe(261);
        expect(art.value.result.objects).toHaveLength(260);
        expect(art.value.result.objects.map((o) => o.source.file)).toEqual(
          [...art.value.files.keys()].filter((f) => !f.endsWith('broken.yaml')),
        );
        expect((art.value.result.objects.find((o) => o.object.metadata.name === 'cm-123')!.object as any).data).toEqual(
          { value: 'v123' },
        );
        expect(art.value.result.errors).toEqual([
          expect.objectContaining({ file: 'many/d3/broken.yaml', line: expect.any(Number) }),
        ]);

        // The same commit loaded on this thread alone gives the same result.
        const alone = loadAll([...art.value.files.keys()].map((f) => ({ path: f, bytes: Buffer.from(files[f]!) })));
        expect(art.value.result).toEqual(alone);

        // A second pack arrives by a fetch: what the source keeps in memory about objects must not hide it.
        big.write({ 'many/d0/cm-000.yaml': cm('cm-0', 'changed'), 'many/d3/broken.yaml': cm('fixed') });
        const second = big.commit('fix');
        expect(await source.refresh(spec)).toMatchObject({ ok: true, value: { commit: second } });
        const art2 = await source.artifact(spec, second, LOAD);
        if (!art2.ok) throw new Error(art2.condition.message);
        expect([art2.value.parsed, art2.value.result.errors, art2.value.result.objects.length]).toEqual([2, [], 261]);
        expect((art2.value.result.objects.find((o) => o.object.metadata.name === 'cm-0')!.object as any).data).toEqual({
          value: 'changed',
        });
      } finally {
        await bigServer.close();
        big.remove();
      }
    });

    it('fetches a repository once however many Applications ask at the same time', async () => {
      const source = new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'http-')), minFetchIntervalMs: 60_000 });
      server.requests.length = 0;
      const results = await Promise.all(
        ['apps/web', 'apps/other', 'apps/web', 'apps/other', 'apps/web'].map((p) =>
          source.refresh({ repoURL: `${server.url}/repo.git`, path: p }),
        ),
      );
      expect(new Set(results.map((x) => x.ok && x.value.commit)).size).toBe(1);
      // One advertisement (the probe's, reused by the fetch) and one pack request, for five callers.
      expect(server.requests.filter((q) => q.startsWith('GET') && q.includes('info/refs'))).toHaveLength(1);
      expect(server.requests.filter((q) => q.startsWith('POST'))).toHaveLength(1);
      server.requests.length = 0;
      await source.refresh({ repoURL: `${server.url}/repo.git` });
      expect(server.requests).toEqual([]); // within the interval: no network at all
      await source.refresh({ repoURL: `${server.url}/repo.git` }, { force: true });
      expect(server.requests.length).toBeGreaterThan(0); // a webhook forces it
    });

    it('tells a force-push that rewrote history from a fast-forward', async () => {
      const source = new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'http-')) });
      const spec: SourceSpec = { repoURL: `${server.url}/repo.git` };
      const before = await source.refresh(spec);
      if (!before.ok) throw new Error(before.condition.message);
      r.write({ 'apps/web/g.yaml': cm('g') });
      const ahead = r.commit('fast-forward');
      const ff = await source.refresh(spec, { force: true });
      expect(ff.ok && ff.value.commit).toBe(ahead);
      expect(await source.contains(spec, ahead, before.value.commit)).toBe(true);
      r.run('reset', '-q', '--hard', before.value.commit);
      r.write({ 'apps/web/h.yaml': cm('h') });
      const rewritten = r.commit('rewritten', { force: true });
      const after = await source.refresh(spec, { force: true });
      expect(after.ok && after.value.commit).toBe(rewritten);
      expect(await source.contains(spec, rewritten, ahead)).toBe(false);
    });
  });

  it('reports an unreachable server, and bad credentials, as conditions; good credentials work', async () => {
    const dead = await freePort();
    const source = new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'fail-')) });
    expect(await source.refresh({ repoURL: `http://127.0.0.1:${dead}/repo.git` })).toMatchObject({
      ok: false,
      condition: { reason: 'Unreachable' },
    });

    const r = repo();
    seed(r);
    const guarded = await startGitHttpServer(r.root, { username: 'bot', password: 's3cret' });
    cleanup.push(() => guarded.close());
    const url = `${guarded.url}/repo.git`;
    expect(await source.refresh({ repoURL: url })).toMatchObject({
      ok: false,
      condition: { reason: 'AuthenticationFailed' },
    });
    expect(
      await new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'auth-')) }).refresh({
        repoURL: url,
        credentials: { username: 'bot', password: 'wrong' },
      }),
    ).toMatchObject({ ok: false, condition: { reason: 'AuthenticationFailed' } });
    const ok = await new GitSource({ dataDir: mkdtempSync(path.join(dataDir, 'auth-')) }).refresh({
      repoURL: url,
      credentials: { username: 'bot', password: 's3cret' },
    });
    expect(ok.ok).toBe(true);

    // The fetch itself runs on the fetch thread: a failure there comes back as the same condition.
    const repository = new GitRepository(
      { repoURL: url, credentials: { username: 'bot', password: 'wrong' } },
      mkdtempSync(path.join(dataDir, 'thread-')),
    );
    const failure = await repository.fetch().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as SourceError).condition.reason).toBe('AuthenticationFailed');
  });
});
