/**
 * Secret values never leave their Secret: after syncs (good ones and one whose Secret is wrong),
 * everything Berth printed, stored in Application status and Events, and logged (at debug level)
 * is searched for a canary value, plain and base64: zero hits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/server.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { TestRepo } from '../helpers/git.js';

const CANARY = 'canary-Zq7wX3v9';
const PIN = '8675309';

describe('secret values stay secret', () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  beforeAll(async () => {
    buildOnce();
    repo = new TestRepo();
    server = await startBerthServer({ args: ['--log-level', 'debug'] });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    repo?.remove();
  });

  it('appear nowhere in output, status, events or logs', async () => {
    const secret = (extra = '') =>
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: ${CANARY}\n${extra}`;
    repo.write({
      'app/secret.yaml': secret(),
      'app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: production\n',
    });
    const good = repo.commit('with a secret');
    expect(
      (
        await server.cli(
          'app',
          'create',
          'vault',
          '--repo',
          repo.bare,
          '--path',
          'app',
          '--auto-sync',
          '--prune',
          '--poll-interval',
          '300ms',
        )
      ).code,
    ).toBe(0);
    expect((await server.cli('app', 'sync', 'vault')).code).toBe(0);
    // A commit whose Secret is wrong (a number where a string belongs): its error must not quote it.
    repo.write({ 'app/secret.yaml': secret(`  pin: ${PIN}\n`) });
    repo.commit('broken secret');
    const failed = await server.cli('app', 'sync', 'vault');
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/stringData\.pin: expected string, got a number \(a Secret value, not shown\)/);

    const printed = await Promise.all([
      server.cli('app', 'get', 'vault'),
      server.cli('app', 'get', 'vault', '-o', 'yaml'),
      server.cli('app', 'list'),
      server.cli('get', 'secrets'),
      server.cli('describe', 'secret', 'db'),
      server.cli('get', 'events', '-A', '-o', 'json'),
      server.cli('app', 'manifests', 'vault', '--revision', good),
      server.cli('app', 'manifests', 'vault', '--revision', good, '-o', 'json'),
    ]);
    const conn = { url: server.url, ca: server.ca };
    const stored = [
      (await api(conn, 'GET', '/apis/berth.dev/v1/namespaces/default/applications/vault', { token: server.token }))
        .text,
      (await api(conn, 'GET', '/api/v1/events', { token: server.token })).text,
    ];
    const everything = [
      failed.out,
      failed.err,
      ...printed.flatMap((r) => [r.out, r.err]),
      ...stored,
      server.logs(),
    ].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    // app manifests shows the Secret, its values masked.
    expect(printed[6]!.out).toMatch(/^kind: Secret$/m);
    expect(printed[6]!.out).toMatch(/password: "\*\*\*"/);
    for (const needle of [CANARY, Buffer.from(CANARY).toString('base64'), PIN])
      expect(everything.includes(needle), `found ${needle}`).toBe(false);
    // Each log line names its component once (sub-loggers once repeated "component").
    const logLines = server
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(10);
    for (const line of logLines) expect(line.split('"component":').length, line).toBe(2);
    // The Secret itself holds it, where it belongs.
    const stored_secret = await api(conn, 'GET', '/api/v1/namespaces/default/secrets/db', { token: server.token });
    expect(Buffer.from(stored_secret.body.data.password, 'base64').toString()).toBe(CANARY);
  }, 60_000);
});
