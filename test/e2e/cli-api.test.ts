/** The built `berth` CLI against a server: get, describe, apply, delete, version, tokens; and `berth server` itself. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const BERTH = `${REPO_ROOT}src/cli/berth.js`;

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BERTH, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, BERTH_DATA: '', KUBECONFIG: '', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('berth CLI against the API', () => {
  let server: TestServer;
  let berth: (...args: string[]) => ReturnType<typeof run>;
  beforeAll(async () => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'pipe' });
    server = await startTestServer();
    berth = (...args) => run(['--kubeconfig', server.kubeconfigPath, ...args]);
  }, 120_000);
  afterAll(() => server?.stop());

  it('apply --dry-run=server answers what it would do and writes nothing', async () => {
    const revision = await server.store.revision();
    const dry = await berth('apply', '--dry-run=server', '-f', 'examples/hello');
    expect(dry).toMatchObject({ code: 0, err: '' });
    expect(dry.out.split('\n').sort().filter(Boolean)).toEqual([
      'configmap/hello created (server dry run)',
      'deployment.apps/hello created (server dry run)',
      'ingress.networking.k8s.io/hello created (server dry run)',
      'service/hello created (server dry run)',
    ]);
    expect(await server.store.revision()).toBe(revision);
    expect((await berth('get', 'cm', 'hello')).code).toBe(1);
  });

  it('apply creates, then reports unchanged, and refuses an invalid tree whole', async () => {
    const first = await berth('apply', '-f', 'examples/hello');
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out.split('\n').sort().filter(Boolean)).toEqual([
      'configmap/hello created',
      'deployment.apps/hello created',
      'ingress.networking.k8s.io/hello created',
      'service/hello created',
    ]);
    const second = await berth('apply', '-f', 'examples/hello');
    expect(second.out).not.toMatch(/created|configured/);
    expect(second.out.match(/unchanged/g)).toHaveLength(4);
    const bad = await berth('apply', '-f', 'test/fixtures/manifests/deployment-bad-fields.yaml');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/nothing applied/);
  });

  it('get prints kubectl-style tables, -o name|json|yaml, -A, -l', async () => {
    const table = await berth('get', 'deploy');
    expect(table.out.split('\n')[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    expect(table.out).toMatch(/^hello\s+0\/2\s+0\s+0\s+\d+s$/m);
    expect((await berth('get', 'deployments', 'hello', '-o', 'name')).out).toBe('deployment.apps/hello\n');
    expect(JSON.parse((await berth('get', 'cm', 'hello', '-o', 'json')).out).data).toEqual({
      message: 'hello from Berth',
    });
    expect((await berth('get', 'svc', '-o', 'yaml')).out).toMatch(/^apiVersion: v1\nkind: List\nitems:/);
    expect((await berth('get', 'cm', '-A')).out.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+DATA\s+AGE$/);
    expect((await berth('get', 'cm', '-l', 'app=nothing')).err).toMatch(/No resources found in default namespace/);
    expect((await berth('get', 'ns', '-o', 'wide')).out).toMatch(/^berth-system\s+Active/m);
  });

  it('get several kinds at once, get all, --no-headers, -L, and -w streams changes', async () => {
    const several = (await berth('get', 'deploy,svc')).out;
    expect(several).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\ndeployment\.apps\/hello\s/m);
    expect(several).toMatch(/^service\/hello\s/m);
    const all = (await berth('get', 'all')).out;
    expect(all).toMatch(/^deployment\.apps\/hello\s/m);
    expect(all).toMatch(/^service\/hello\s/m);
    expect(all).not.toMatch(/configmap/);
    const bare = (await berth('get', 'deploy', '--no-headers', '-L', 'app')).out;
    expect(bare).toMatch(/^hello\s+\S+\s+\d+\s+\d+\s+\d+s\s+hello\n$/);
    expect((await berth('get', 'deploy', '-L', 'app')).out.split('\n')[0]).toMatch(/\sAPP$/);
    // -w: the list, then a row per change, until Ctrl-C.
    const child = spawn(process.execPath, [BERTH, '--kubeconfig', server.kubeconfigPath, 'get', 'cm', '-w'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BERTH_DATA: '', KUBECONFIG: '' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until('the list', async () => /^hello\s/m.test(out));
    await api(server, 'POST', '/api/v1/namespaces/default/configmaps', {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched-cm' }, data: { k: 'v' } },
    });
    await until('the new row', async () => /^watched-cm\s+1\s/m.test(out));
    child.kill('SIGINT');
    expect(await new Promise((r) => child.once('close', r))).toBe(0);
  });

  it('describe shows fields and Events', async () => {
    const r = await berth('describe', 'deploy', 'hello');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Name:\s+hello$/m);
    expect(r.out).toMatch(/^Events:\n {2}<none>$/m);
  });

  it("events: kubectl's layouts in describe and berth events, oldest first, --for, --types", async () => {
    const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const { uid } = (
      await api(server, 'GET', '/apis/apps/v1/namespaces/default/deployments/hello', { token: server.adminToken })
    ).body.metadata;
    const event = (name: string, type: string, reason: string, first: number, last: number, count: number) =>
      api(server, 'POST', '/api/v1/namespaces/default/events', {
        token: server.adminToken,
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name },
          involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'hello', uid },
          type,
          reason,
          message: `${reason} happened`,
          source: { component: 'deployment-controller' },
          firstTimestamp: ago(first),
          lastTimestamp: ago(last),
          count,
        },
      });
    expect((await event('hello.a', 'Warning', 'Stuck', 600, 60, 4)).status).toBe(201);
    expect((await event('hello.b', 'Normal', 'ScalingReplicaSet', 30, 30, 1)).status).toBe(201);
    const described = (await berth('describe', 'deploy', 'hello')).out;
    expect(described).toMatch(
      /^Events:\n {2}Type\s+Reason\s+Age\s+From\s+Message\n {2}----\s+------\s+---\s+----\s+-------\n {2}Warning\s+Stuck\s+\d+s \(x4 over 1\dm\)\s+deployment-controller\s+Stuck happened\n {2}Normal\s+ScalingReplicaSet\s+\d+s\s+deployment-controller\s+ScalingReplicaSet happened$/m,
    );
    const listed = (await berth('events')).out.split('\n');
    expect(listed[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    expect(listed.slice(1, 3).map((l) => l.split(/\s{3,}/)[2])).toEqual(['Stuck', 'ScalingReplicaSet']);
    expect(listed[1]).toMatch(/\sdeployment\/hello\s/);
    const warnings = (await berth('events', '--for', 'deploy/hello', '--types', 'Warning')).out;
    expect(warnings).toMatch(/Stuck/);
    expect(warnings).not.toMatch(/ScalingReplicaSet/);
    expect((await berth('events', '--for', 'deploy/nothing')).err).toMatch(/No events found in default namespace/);
    expect((await berth('events', '--types', 'Odd')).code).toBe(2);
  });

  it('version prints both versions; exits 2 when the server cannot be reached, as every command', async () => {
    expect((await berth('version')).out).toMatch(
      /^Client Version: 0\.1\.0\nServer Version: v1\.32\.0-berth\.0\.1\.0\n$/,
    );
    const unreachable = await run(['version', '--server', `https://127.0.0.1:${await freePort()}`, '--token', 'x']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.out).toMatch(/^Server Version: unavailable \(cannot reach/m);
  });

  it('tokens: create (node tokens carry the CA hash), list, use, revoke', async () => {
    const join = (await berth('token', 'create', '--role', 'node')).out.trim();
    expect(join).toMatch(new RegExp(`^B10${server.caSha256}::[a-z0-9]{6}\\.[a-z0-9]{16}$`));
    const ro = (
      await berth('token', 'create', '--role', 'readonly', '--ttl', '1h', '--description', 'dashboards')
    ).out.trim();
    const list = await berth('token', 'list', '-o', 'json');
    expect(
      JSON.parse(list.out)
        .map((t: { role: string }) => t.role)
        .sort(),
    ).toEqual(['admin', 'node', 'readonly']);
    expect((await api(server, 'GET', '/api/v1/namespaces', { token: ro })).status).toBe(200);
    // The CLI works from BERTH_SERVER/BERTH_TOKEN too; readonly may not write.
    const env = { BERTH_SERVER: server.url, BERTH_TOKEN: ro, BERTH_CA: path.join(server.dir, 'pki', 'ca.crt') };
    expect((await run(['get', 'cm', 'hello', '-o', 'name'], env)).out).toBe('configmap/hello\n');
    const denied = await run(['delete', 'cm', 'hello'], env);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/role readonly may not delete configmaps/);
    expect((await berth('token', 'revoke', ro.split('.')[0]!)).out).toMatch(/revoked/);
  });

  it('delete, then not found exits 1; a bad kind exits 2', async () => {
    expect(await berth('delete', 'cm', 'hello')).toMatchObject({ code: 0, out: 'configmap "hello" deleted\n' });
    const gone = await berth('get', 'cm', 'hello');
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/configmaps "hello" not found/);
    expect((await berth('get', 'widgets')).code).toBe(2);
  });

  it('a server it cannot reach is an error that names it (exit 2)', async () => {
    const r = await run(['get', 'pods'], {
      BERTH_SERVER: 'https://127.0.0.1:1',
      BERTH_TOKEN: 'abcdef.0123456789abcdef',
    });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot reach https:\/\/127\.0\.0\.1:1/);
  }, 30_000);
});

describe('berth server (the process)', () => {
  it('creates its data dir, serves HTTPS, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-serverproc-'));
    const child = spawn(
      process.execPath,
      [BERTH, 'server', '--data', dir, '--listen', '127.0.0.1:0', '--tls-san', 'berth.example.com'],
      { env: { ...process.env } },
    );
    try {
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const deadline = Date.now() + 30_000;
      while (!/listening on (https:\/\/\S+)/.test(err) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const url = /listening on (https:\/\/\S+)/.exec(err)![1]!;
      for (const f of ['admin.token', 'kubeconfig.yaml', 'pki/ca.crt', 'pki/server.key', 'state.db'])
        expect(existsSync(path.join(dir, f))).toBe(true);
      expect(statSync(path.join(dir, 'admin.token')).mode & 0o777).toBe(0o600);
      const ca = readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8');
      const token = readFileSync(path.join(dir, 'admin.token'), 'utf8').trim();
      expect((await api({ url, ca }, 'GET', '/healthz')).status).toBe(200);
      expect(
        (await api({ url, ca }, 'GET', '/api/v1/namespaces', { token })).body.items.map(
          (n: { metadata: { name: string } }) => n.metadata.name,
        ),
      ).toEqual(['berth-system', 'default']);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
