/**
 * Credentials go only where their Secret says (security issue, item 10): a Git password and a
 * commit-status token are sent to the URL prefix their Secret names, never over plain http://
 * unless the Secret says insecure, and an Application pointed elsewhere (by a commit in the
 * team's namespace, say) gets a condition, while the other end gets no credential.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { mayUseCredentials, withinPrefix } from '../../src/sync/credentials.js';
import { type AppMemo, type ApplicationObject } from '../../src/sync/index.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { getApplication, reconcileByName } from '../helpers/sync.js';

const b64 = (v: string) => Buffer.from(v).toString('base64');

describe('credentials bound to their URL', () => {
  it.each([
    ['https://git.example/team', 'https://git.example/team/app.git', true],
    ['https://git.example/team', 'https://git.example/team.git', true],
    ['https://git.example/team', 'https://git.example/team-evil/app.git', false],
    ['https://git.example/team/', 'https://git.example/team/app.git', true],
    ['https://git.example/team/', 'https://evil.example/team/app.git', false],
  ])('prefix %s covers %s: %s', (prefix, target, want) => {
    expect(withinPrefix(target, prefix)).toBe(want);
  });

  it.each([
    [{ password: 'p' }, 'https://git.example/a.git', 'names no url'],
    [
      { url: 'https://git.example/', password: 'p' },
      'https://evil.example/a.git',
      'is for https://git.example/, not https://evil.example/a.git',
    ],
    [{ url: 'http://git.example/', password: 'p' }, 'http://git.example/a.git', 'over plain http://'],
    [{ url: 'http://git.example/', password: 'p', insecure: 'true' }, 'http://git.example/a.git', undefined],
    [{ url: 'https://git.example/', password: 'p' }, 'https://git.example/a.git', undefined],
  ])('%j for %s', (data, target, problem) => {
    const r = mayUseCredentials('creds', data, target);
    if (problem) expect(r.ok ? '' : r.problem).toContain(problem);
    else expect(r.ok).toBe(true);
  });

  describe('in a sync', () => {
    let dir: string;
    let repo: TestRepo;
    let store: RevisionedStore;
    let source: GitSource;
    let memo: Map<string, AppMemo>;
    let git: GitHttpServer;
    let listener: Server;
    let seen: { url: string; headers: IncomingHttpHeaders }[];
    let listenerUrl: string;
    beforeEach(async () => {
      memo = new Map();
      dir = mkdtempSync(path.join(tmpdir(), 'berth-creds-'));
      repo = new TestRepo();
      repo.write({ 'app/a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: "1"\n' });
      repo.commit('one');
      git = await startGitHttpServer(repo.root, { username: 'team', password: 'team-secret' });
      store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
      source = new GitSource({ dataDir: dir });
      seen = [];
      // Someone else's listener, which an Application in the team's namespace was pointed at.
      listener = createServer((req, res) => {
        seen.push({ url: req.url ?? '', headers: req.headers });
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="x"' }).end();
      });
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
      listenerUrl = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
      await store.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'team-git', namespace: 'default' },
        data: {
          url: b64(`${git.url}/`),
          insecure: b64('true'),
          username: b64('team'),
          password: b64('team-secret'),
          token: b64('status-token'),
        },
      } as KubeObject);
    });
    afterEach(async () => {
      await store.close();
      await git.close();
      await new Promise((r) => listener.close(r));
      repo.remove();
      rmSync(dir, { recursive: true, force: true });
    });
    const application = (name: string, spec: Partial<ApplicationObject['spec']>) =>
      store.create<ApplicationObject>({
        apiVersion: 'berth.dev/v1',
        kind: 'Application',
        metadata: { name, namespace: 'default', generation: 1 },
        spec: {
          source: { repoURL: `${git.url}/repo.git`, path: 'app', credentialsSecret: 'team-git' },
          syncPolicy: { automated: { prune: true } },
          ...spec,
        },
      });
    const reconcile = (name: string) => reconcileByName({ store, source, memo }, name);
    const condition = async (name: string, type: string) =>
      (await getApplication(store, name)).status?.conditions?.find((c) => c.type === type);

    it('sends the Git credentials to their own repository only', async () => {
      await application('own', {});
      expect(await reconcile('own')).toMatchObject({ result: 'synced', written: 1 });

      await application('elsewhere', {
        source: { repoURL: `${listenerUrl}/steal.git`, path: 'app', credentialsSecret: 'team-git' },
      });
      expect(await reconcile('elsewhere')).toMatchObject({ result: 'source-error', written: 0 });
      expect(await condition('elsewhere', 'SourceError')).toMatchObject({
        reason: 'CredentialsRefused',
        message: `Secret team-git is for ${git.url}/, not ${listenerUrl}/steal.git: its credentials were not sent`,
      });
      expect(seen.filter((s) => s.headers.authorization)).toEqual([]);
    });

    it('sends no credentials over plain http:// unless the Secret says insecure', async () => {
      const secret = await store.get({ group: '', kind: 'Secret', namespace: 'default', name: 'team-git' });
      const { insecure: _, ...data } = secret.data as Record<string, string>;
      await store.update({ ...secret, data });
      await application('plain', {});
      expect(await reconcile('plain')).toMatchObject({ result: 'source-error', written: 0 });
      expect((await condition('plain', 'SourceError'))?.message).toMatch(
        /would go over plain http:\/\/ .* refused \(set insecure: "true" in the Secret to allow it\)/,
      );
      expect(git.requests).toEqual([]);
    });

    it('posts commit statuses with the token only to the URL its Secret names', async () => {
      await application('notify', {
        notify: { commitStatus: { url: `${listenerUrl}/repos/o/r/statuses/{sha}`, tokenSecret: 'team-git' } },
      });
      await reconcile('notify');
      expect(await condition('notify', 'NotificationError')).toMatchObject({ reason: 'CredentialsRefused' });
      expect(seen).toEqual([]);
    });
  });
});
