/**
 * The README's command blocks that run on one machine, run as written (HOME a temp dir, so
 * `~/.berth` is fresh), with the outcome their comments promise. The quick start: `npm install` is
 * the one command not re-run (the suite runs inside the installed tree it would produce, checked
 * with `npm ls`); `npm start` runs in the foreground as a user's would, and Ctrl-C (SIGINT to its
 * process group) must leave nothing behind. Then "push to deploy" (a bare repository, `berth
 * server`, an agent, an Application, a v2 commit, its revert) and the PR-check job against it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce } from '../helpers/berth.js';
import { killLeftPods } from '../helpers/agents.js';
import { until } from '../helpers/wait.js';

/** The commands of the first ```sh block after `heading` (comments dropped). */
function commandsAfter(heading: string): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}
const quickStart = () => commandsAfter('## Quick start');

describe('the README, run as written', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'berth-readme-home-'));
  beforeAll(() => buildOnce(), 120_000);
  // berth up keeps its state in a directory of its own per repository: ~/.berth/up/NAME-HASH.
  const upDirs = () => {
    const up = path.join(home, '.berth', 'up');
    return existsSync(up) ? readdirSync(up).map((d) => path.join(up, d)) : [];
  };
  afterAll(() => {
    const host = execFileSync('hostname', { encoding: 'utf8' }).trim();
    for (const dir of upDirs()) killLeftPods(path.join(dir, `agent-${host}`));
    rmSync(home, { recursive: true, force: true });
  });

  it('works as written: npm start serves hello, curl gets it, Ctrl-C leaves nothing', async () => {
    const commands = quickStart();
    expect(commands).toEqual(['npm install', 'npm start', "curl -H 'Host: hello.localhost' http://127.0.0.1:8080/"]);
    execFileSync('npm', ['ls', '--depth=0'], { stdio: 'ignore' }); // what `npm install` leaves
    const { BERTH_DATA: _ignored, ...inherited } = process.env;
    const env = { ...inherited, HOME: home, KUBECONFIG: '' };
    const start = spawn('sh', ['-c', commands[1]!], { env, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    start.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => start.once('exit', (code) => r(code)));
    try {
      const answer = await until(
        'the curl of the quick start to answer',
        async () => {
          try {
            return execFileSync('sh', ['-c', `${commands[2]!} --silent --fail --max-time 5`], { encoding: 'utf8' });
          } catch {
            return undefined;
          }
        },
        120_000,
      );
      expect(answer).toMatch(/^hello from Berth v1 \(hello-[a-z0-9]+-[a-z0-9]+\)\n$/);
      // The progress line saying how to reach it comes as `up` sees the Ingress serve: a moment after, at most.
      await until(
        'the serving line',
        async () => /serving hello\.localhost: curl -H 'Host: hello\.localhost' http:\/\/127\.0\.0\.1:8080\//.test(out),
        15_000,
      );
    } finally {
      process.kill(-start.pid!, 'SIGINT');
    }
    await exited;
    expect(out).toMatch(/stopped\./);
    // Its state is its own: a `berth server` on ~/.berth afterwards (the README's next section)
    // starts empty, with no Application hello to collide with and no pods to restart.
    expect(upDirs().map((d) => path.basename(d))).toEqual([expect.stringMatching(/^hello-[0-9a-f]{8}$/)]);
    expect(existsSync(path.join(home, '.berth', 'state.db'))).toBe(false);
    expect(
      execFileSync('sh', ['-c', "ps -eo args | grep -c '[H]ELLO\\|[b]erth.js up' || true"], {
        encoding: 'utf8',
      }).trim(),
    ).toBe('0');
    expect(
      await fetch('http://127.0.0.1:8080/').then(
        () => 'answering',
        () => 'gone',
      ),
    ).toBe('gone');
  }, 180_000);

  it('push to deploy, then the PR-check job, as written: v1, a v2 commit rolls out, its revert rolls back; validate, diff, wait', async () => {
    const deploy = commandsAfter('**Push to deploy**');
    const prCheck = commandsAfter('**PR checks**');
    expect(deploy).toHaveLength(8);
    expect(prCheck).toHaveLength(4);
    // `berth` on PATH (what `npm install -g` or `npm link` gives a user); the checkout's examples
    // beside the work directory, where the README's `cp -r examples/hello` finds them.
    const work = mkdtempSync(path.join(tmpdir(), 'berth-readme-work-'));
    const bin = path.join(work, '.bin');
    mkdirSync(bin);
    symlinkSync(path.resolve('src/cli/berth.js'), path.join(bin, 'berth'));
    symlinkSync(path.resolve('examples'), path.join(work, 'examples'));
    const { BERTH_DATA: _ignored, ...inherited } = process.env;
    const env = {
      ...inherited,
      HOME: home,
      KUBECONFIG: '',
      PATH: `${bin}:${process.env.PATH}`,
      GIT_AUTHOR_NAME: 'New User',
      GIT_AUTHOR_EMAIL: 'user@example.com',
      GIT_COMMITTER_NAME: 'New User',
      GIT_COMMITTER_EMAIL: 'user@example.com',
    };
    const served = "curl --silent --max-time 5 -H 'Host: hello.localhost' http://127.0.0.1:8080/";
    // What a user does between the lines: waits for the server to answer, watches the rollout.
    const waitFor = (check: string) => `for i in $(seq 600); do ${check} && break; sleep 0.2; done`;
    // The rollout is over when five answers in a row come from the new version.
    const allAnswer = (version: string) =>
      `[ "$(for j in 1 2 3 4 5; do ${served}; echo; done | grep -c 'Berth ${version} ')" = 5 ]`;
    const [ini, commit, server, agent, create, wait, v2, revert] = deploy;
    const script = [
      'set -u',
      `${ini} && ${commit}`,
      'echo "step commit $?"',
      server,
      'echo "pid $!"',
      waitFor('berth version >/dev/null 2>&1'),
      agent,
      'echo "pid $!"',
      create,
      'echo "step create $?"',
      wait,
      'echo "step wait $?"',
      `${served}; echo`,
      v2,
      waitFor(allAnswer('v2')),
      `${served}; echo`,
      revert,
      waitFor(allAnswer('v1')),
      `${served}; echo`,
      // The PR check, in the job's checkout (the repository's top directory holds apps/ there).
      'git checkout -q -b pr && sed -i "s/value: v1/value: v3/" hello/deployment.yaml && git commit -qam "hello v3" && git push -q origin pr',
      'PR_HEAD_SHA=$(git rev-parse HEAD); git checkout -q main; MERGED_SHA=$(git rev-parse HEAD)',
      'cp ~/.berth/pki/ca.crt ../ca.crt; CI_TOKEN=$(berth token create --role ci); cd ..',
      prCheck[0]!.replace('SERVER', '127.0.0.1'),
      `${prCheck[1]!}; echo "step validate $?"`,
      `${prCheck[2]!}; echo "step diff $?"`,
      `${prCheck[3]!}; echo "step merged $?"`,
      'head -1 comment.md',
    ].join('\n');
    const run = spawn('bash', ['-c', script], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    run.stdout!.on('data', (d) => (out += d));
    run.stderr!.on('data', (d) => (err += d));
    const pids = () => [...out.matchAll(/^pid (\d+)$/gm)].map((m) => Number(m[1]));
    try {
      const code = await new Promise<number | null>((r) => run.once('exit', (c) => r(c)));
      expect(code, `stdout:\n${out}\nstderr:\n${err.slice(-3000)}`).toBe(0);
      const steps = Object.fromEntries([...out.matchAll(/^step (\w+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
      // The comments' promises: v1 deployed and healthy; the valid apps/ passes validate (its
      // comment's "exit 1" is for an invalid one); the PR's change is a diff (exit 1); the merged
      // commit is deployed and healthy (0).
      expect(steps).toEqual({ commit: 0, create: 0, wait: 0, validate: 0, diff: 1, merged: 0 });
      const answers = out.split('\n').filter((l) => l.startsWith('hello from Berth'));
      expect(answers.map((a) => a.split(' ')[3])).toEqual(['v1', 'v2', 'v1']);
      expect(out).toMatch(/^## Berth Diff Preview$/m);
    } finally {
      for (const pid of pids()) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
      await until('the server and agent gone', async () => pids().every((pid) => !alive(pid)), 20_000).catch(() =>
        pids().forEach((pid) => alive(pid) && process.kill(pid, 'SIGKILL')),
      );
      const host = execFileSync('hostname', { encoding: 'utf8' }).trim();
      killLeftPods(path.join(home, '.berth', `agent-${host}`));
      rmSync(work, { recursive: true, force: true });
    }
  }, 240_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
