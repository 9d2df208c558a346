/**
 * The Git server goes away for 30 s: the Application says so in a condition (and keeps what it
 * had applied), and once the server is back it syncs the commit pushed meanwhile and the
 * condition clears.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const configMap = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {value: "${value}"}\n`;

describe('the Git server down for 30 s', () => {
  let server: BerthServerProcess | undefined;
  let gitServer: GitHttpServer | undefined;
  const repo = new TestRepo('app');
  beforeAll(() => buildOnce(), 120_000);
  afterAll(async () => {
    await gitServer?.close();
    await server?.stop();
    repo.remove();
  });

  it('reports a SourceError condition, keeps the last sync, and recovers by itself', async () => {
    const first = repo
      .write({ 'deploy/settings.yaml': configMap('one') })
      .commit('one')
      .trim();
    gitServer = await startGitHttpServer(repo.root);
    const port = Number(new URL(gitServer.url).port);
    server = await startBerthServer({ args: ['--log-level', 'error'] });
    const created = await server.cli(
      'app',
      'create',
      'settings',
      '--repo',
      `${gitServer.url}/${path.basename(repo.bare)}`,
      '--path',
      'deploy',
      '--auto-sync',
      '--poll-interval',
      '2s',
    );
    expect(created.code, created.err).toBe(0);
    const app = async () =>
      (
        await api(server!, 'GET', '/apis/berth.dev/v1/namespaces/default/applications/settings', {
          token: server!.token,
        })
      ).body;
    const value = async () =>
      (await api(server!, 'GET', '/api/v1/namespaces/default/configmaps/settings', { token: server!.token })).body.data
        ?.value;
    await until(
      'the first commit synced',
      async () => (await app()).status?.sync?.revision === first && (await value()) === 'one',
      30_000,
    );

    await gitServer.close();
    const downAt = Date.now();
    const second = repo
      .write({ 'deploy/settings.yaml': configMap('two') })
      .commit('two')
      .trim();
    const condition = await until(
      'a SourceError condition',
      async () => (await app()).status?.conditions?.find((c: any) => c.type === 'SourceError' && c.status === 'True'),
      30_000,
    );
    expect(condition.message).toMatch(/127\.0\.0\.1|connect|ECONNREFUSED|fetch/i);
    expect(await value()).toBe('one'); // what was applied stays
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    expect((await app()).status?.conditions?.some((c: any) => c.type === 'SourceError' && c.status === 'True')).toBe(
      true,
    );

    gitServer = await startGitHttpServer(repo.root, undefined, port);
    await until(
      'the commit pushed meanwhile synced',
      async () => (await app()).status?.sync?.revision === second && (await value()) === 'two',
      60_000,
    );
    expect(
      (await app()).status?.conditions?.some((c: any) => c.type === 'SourceError' && c.status === 'True') ?? false,
    ).toBe(false);
  }, 180_000);
});
