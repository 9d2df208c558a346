/**
 * `berth up` on a local repository, as a user runs it: the example is served through the ingress;
 * a commit rolls it forward, `git revert` rolls it back; Ctrl-C leaves no process behind.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BERTH, buildOnce } from '../helpers/berth.js';
import { killLeftPods } from '../helpers/agents.js';
import { git } from '../helpers/git.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

describe('berth up', () => {
  const dirs: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  beforeAll(() => buildOnce(), 120_000);
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    for (const d of dirs.splice(0)) {
      // A `berth up` killed by a failed test leaves its pods' processes: they go too.
      for (const a of existsSync(d) ? readdirSync(d).filter((x) => x.startsWith('agent-')) : [])
        killLeftPods(path.join(d, a));
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('serves the example from a local repository, follows commits and reverts, and stops cleanly', async () => {
    const repo = mkdtempSync(path.join(tmpdir(), 'berth-up-repo-'));
    const data = mkdtempSync(path.join(tmpdir(), 'berth-up-data-'));
    dirs.push(repo, data);
    git(repo, 'init', '-q', '-b', 'main');
    cpSync('examples/hello', path.join(repo, 'deploy'), { recursive: true });
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'hello v1');
    const port = await freePort();
    const up = spawn(
      process.execPath,
      [
        BERTH,
        'up',
        path.join(repo, 'deploy'),
        '--runtime',
        'process',
        '--data',
        data,
        '--listen',
        '127.0.0.1:0',
        '--ingress-listen',
        `127.0.0.1:${port}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BERTH_DATA: data, KUBECONFIG: '' },
      },
    );
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', () => {});
    const exited = new Promise((r) => up.once('exit', r));
    stops.push(async () => {
      if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
      await exited;
    });
    // As the README says it: curl with the Ingress's host (fetch may not set Host).
    const hello = () =>
      new Promise<string | undefined>((resolve) => {
        const c = spawn('curl', ['-s', '-m', '5', '-H', 'Host: hello.localhost', `http://127.0.0.1:${port}/`]);
        let body = '';
        c.stdout.on('data', (d) => (body += d));
        c.on('exit', (code) => resolve(code === 0 ? body : undefined));
      });
    await until('v1 served', async () => (await hello())?.startsWith('hello from Berth v1'), 90_000);
    // Its progress line says how to reach it (printed as `up` sees the Ingress serve: a moment after, at most).
    await until(
      'the serving line',
      async () => /serving hello\.localhost: curl -H 'Host: hello\.localhost' http:\/\/127\.0\.0\.1:\d+\//.test(out),
      15_000,
    );

    // Push to deploy: v2 rolls out; revert to roll back: v1 again.
    const deployment = path.join(repo, 'deploy', 'deployment.yaml');
    writeFileSync(deployment, readFileSync(deployment, 'utf8').replace('value: v1', 'value: v2'));
    git(repo, 'commit', '-q', '-am', 'hello v2');
    await until('v2 served', async () => (await hello())?.startsWith('hello from Berth v2'), 90_000);
    git(repo, 'revert', '--no-edit', 'HEAD');
    await until('v1 served again', async () => (await hello())?.startsWith('hello from Berth v1'), 90_000);
    up.kill('SIGINT');
    await exited;
    expect(up.exitCode).toBe(0);
    expect(out).toMatch(/stopped\./);
    const agentDirs = readdirSync(data).filter((d) => d.startsWith('agent-'));
    for (const a of agentDirs)
      expect(existsSync(path.join(data, a, 'process')) ? readdirSync(path.join(data, a, 'process')) : []).toEqual([]);
  }, 240_000);

  it('runs the DaemonSet example from this repository: one pod on the node, on its hostPort', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'berth-up-data-'));
    dirs.push(data);
    const up = spawn(
      process.execPath,
      [
        BERTH,
        'up',
        'examples/daemonset',
        '--runtime',
        'process',
        '--data',
        data,
        '--listen',
        '127.0.0.1:0',
        '--ingress-listen',
        `127.0.0.1:${await freePort()}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, BERTH_DATA: data, KUBECONFIG: '' },
      },
    );
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    const exited = new Promise((r) => up.once('exit', r));
    stops.push(async () => {
      if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
      await exited;
    });
    const body = await until(
      'the node-info pod on :9100',
      async () => {
        const r = await fetch('http://127.0.0.1:9100/').catch(() => undefined);
        return r?.ok && r.text();
      },
      90_000,
    );
    expect(body).toMatch(/^node \S+/);
    await until('the progress line', async () => /DaemonSet node-info: 1\/1 updated, 1 ready/.test(out), 10_000);
    up.kill('SIGINT');
    await exited;
    expect(up.exitCode).toBe(0);
    expect(
      await fetch('http://127.0.0.1:9100/').then(
        () => 'answering',
        () => 'gone',
      ),
    ).toBe('gone');
  }, 180_000);
});
