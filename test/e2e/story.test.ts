/**
 * The user's story, end to end with real processes: `berth server` with its ingress, two
 * `berth agent`s (process runtime, 127.0.0.4 and .5), a bare Git repository pushed to with the
 * git CLI, and a client sending requests through the ingress the whole time. Push v1 → served;
 * push v2 → rolled out with no failed request; `git revert` → v1 again; a bad commit changes
 * nothing and the status says why; `app diff` of a branch prints the plan and exits 1; `app wait
 * --revision` exits 0; an agent killed with SIGKILL → its pods served from the other node within
 * 15 s.
 */
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { git } from '../helpers/git.js';
import { freePort } from '../helpers/ports.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 4 });

describe('the user story', () => {
  let server: BerthServerProcess | undefined;
  const agents: AgentProcess[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-story-'));
  beforeAll(() => buildOnce(), 120_000);
  afterAll(async () => {
    keepAlive.destroy();
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('push to deploy, revert to roll back, bad commits refused, diffs and waits, a lost node replaced', async () => {
    const remote = path.join(dir, 'remote.git');
    const work = path.join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '-b', 'main', remote);
    git(dir, 'clone', '-q', remote, work);
    cpSync('examples/hello', path.join(work, 'deploy'), { recursive: true });
    const deployment = path.join(work, 'deploy', 'deployment.yaml');
    writeFileSync(deployment, readFileSync(deployment, 'utf8').replace('replicas: 2', 'replicas: 3'));
    const push = (message: string) => {
      git(work, 'add', '-A');
      git(work, 'commit', '-q', '-m', message);
      git(work, 'push', '-q', 'origin', 'HEAD');
      return git(work, 'rev-parse', 'HEAD').trim();
    };
    const v1 = push('hello v1');

    const port = await freePort();
    server = await startBerthServer({
      args: ['--log-level', 'warn', '--ingress-listen', `127.0.0.1:${port}`, '--node-grace-period', '4s'],
    });
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    agents.push(
      await startAgent(server, { name: 'n1', address: '127.0.0.4', token }),
      await startAgent(server, { name: 'n2', address: '127.0.0.5', token }),
    );
    const created = await server.cli(
      'app',
      'create',
      'hello',
      '--repo',
      remote,
      '--path',
      'deploy',
      '--auto-sync',
      '--prune',
      '--self-heal',
      '--poll-interval',
      '2s',
    );
    expect(created.code, created.err).toBe(0);

    const get = (retried = false): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, path: '/', headers: { host: 'hello.localhost' }, agent: keepAlive },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        // A reused keep-alive connection closed under the request: sent again once (RFC 9112 §9.3.1).
        req.on('error', (e: NodeJS.ErrnoException) =>
          req.reusedSocket && !retried && e.code === 'ECONNRESET' ? resolve(get(true)) : reject(e),
        );
        req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
        req.end();
      });
    const version = (body: string) => / (v\d+) /.exec(body)?.[1];

    // v1 served; `app wait --revision` agrees.
    await until('v1 served', async () => version((await get()).body) === 'v1', 90_000);
    const waited = await server.cli('app', 'wait', 'hello', '--revision', v1, '--health', '--timeout', '60s');
    expect(waited.code, waited.err).toBe(0);

    // From here a client sends requests through the ingress without a pause.
    const answers: { status: number; version: string | undefined; at: number }[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await get().catch((e) => ({ status: 0, body: String(e) }));
        answers.push({ status: r.status, version: r.status === 200 ? version(r.body) : r.body, at: Date.now() });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const failures = () => answers.filter((a) => a.status !== 200);
    const servingOnly = (v: string) =>
      until(
        `only ${v} served`,
        async () => answers.length > 20 && answers.slice(-20).every((a) => a.version === v),
        90_000,
      );

    // Push v2: a rolling update, no failed request.
    writeFileSync(deployment, readFileSync(deployment, 'utf8').replace('value: v1', 'value: v2'));
    const v2 = push('hello v2');
    await servingOnly('v2');
    expect((await server.cli('app', 'wait', 'hello', '--revision', v2, '--health', '--timeout', '60s')).code).toBe(0);
    expect(failures()).toEqual([]);
    // The change cause of each revision is the commit that brought its template.
    expect((await server.cli('rollout', 'history', 'deployment/hello')).out).toMatch(
      new RegExp(`^\\d+\\s+${v2.slice(0, 7)} hello v2$`, 'm'),
    );

    // git revert: v1 again.
    git(work, 'revert', '--no-edit', 'HEAD');
    git(work, 'push', '-q', 'origin', 'HEAD');
    await servingOnly('v1');
    expect(failures()).toEqual([]);

    // A hand rollback (rollout undo) of a self-healed app: warned first, then reverted to Git's v1,
    // and the Application's Event says what self-heal undid.
    const undo = await server.cli('rollout', 'undo', 'deployment/hello');
    expect(undo.code, undo.err).toBe(0);
    expect(undo.err).toMatch(
      /^Warning: deployment\.apps\/hello is managed by Application default\/hello with self-heal/,
    );
    await until(
      'the SelfHealed Event',
      async () =>
        (await api(server!, 'GET', '/api/v1/namespaces/default/events', { token: server!.token })).body.items.some(
          (e: any) =>
            e.reason === 'SelfHealed' &&
            e.involvedObject.kind === 'Application' &&
            /deployment\/hello restored/.test(e.message),
        ),
      60_000,
    );
    await servingOnly('v1');
    expect(failures()).toEqual([]);

    // A bad commit: nothing of it is applied, the status says which file and line, v1 stays.
    const request = (method: string, p: string) => api(server!, method, p, { token: server!.token });
    const before = (await request('GET', '/apis/apps/v1/namespaces/default/deployments/hello')).body.metadata
      .resourceVersion;
    writeFileSync(
      path.join(work, 'deploy', 'broken.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: [not, a, string]\n',
    );
    writeFileSync(deployment, readFileSync(deployment, 'utf8').replace('value: v1', 'value: v3'));
    const bad = push('a bad commit');
    const condition = await until(
      'the bad commit refused',
      async () => {
        const app = (await request('GET', '/apis/berth.dev/v1/namespaces/default/applications/hello')).body;
        return (
          app.status?.sync?.revision === bad && app.status.conditions?.find((c: any) => c.type === 'ComparisonError')
        );
      },
      60_000,
    );
    expect(condition.message).toMatch(/broken\.yaml:6/);
    expect((await server.cli('app', 'wait', 'hello', '--revision', bad, '--timeout', '20s')).code).toBe(1);
    expect(
      (await request('GET', '/apis/apps/v1/namespaces/default/deployments/hello')).body.metadata.resourceVersion,
    ).toBe(before);
    expect((await request('GET', '/api/v1/namespaces/default/configmaps/broken')).status).toBe(404);
    expect(answers.slice(-10).every((a) => a.version === 'v1')).toBe(true);
    git(work, 'revert', '--no-edit', 'HEAD');
    git(work, 'push', '-q', 'origin', 'HEAD');
    const fixed = git(work, 'rev-parse', 'HEAD').trim();
    expect((await server.cli('app', 'wait', 'hello', '--revision', fixed, '--timeout', '60s')).code).toBe(0);

    // `app diff` of a branch: the plan, exit 1.
    git(work, 'checkout', '-q', '-b', 'feature');
    writeFileSync(deployment, readFileSync(deployment, 'utf8').replace('replicas: 3', 'replicas: 4'));
    git(work, 'commit', '-q', '-am', 'four replicas');
    git(work, 'push', '-q', 'origin', 'feature');
    const diff = await server.cli('app', 'diff', 'hello', '--revision', 'feature');
    expect(diff.code, diff.err).toBe(1);
    expect(diff.out).toMatch(/Deployment.*hello/);
    expect(diff.out).toMatch(/replicas: 4/);

    // An agent killed with SIGKILL: its node goes NotReady and its pods are served from the other.
    const pods = async (): Promise<any[]> =>
      (await request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dhello')).body.items;
    const running = await pods();
    const victim = agents.find((a) =>
      running.some((p) => p.spec.nodeName === a.name && !p.metadata.deletionTimestamp),
    )!;
    const other = agents.find((a) => a !== victim)!;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await until(
      'every ready endpoint on the other node',
      async () => {
        const ep = (await request('GET', '/api/v1/namespaces/default/endpoints/hello')).body;
        const addresses = (ep.subsets ?? []).flatMap((s: any) => s.addresses ?? []);
        return addresses.length >= 1 && addresses.every((a: any) => a.nodeName === other.name);
      },
      15_000,
    );
    expect(Date.now() - killedAt).toBeLessThanOrEqual(15_000);
    const n = answers.length;
    await until('answers from the other node', async () => answers.length > n + 20, 10_000);
    expect(answers.slice(n).every((a) => a.status === 200)).toBe(true);

    stop = true;
    await load;
  }, 420_000);
});
