/**
 * The README's quick start, run as written (HOME a temp dir, so `~/.berth` is fresh): each command
 * of its first ```sh block, in order, with the outcome its comment promises. `npm install` is the
 * one command not re-run: the suite runs inside the installed tree it would produce (checked with
 * `npm ls`). `npm start` runs in the foreground as a user's would, and Ctrl-C (SIGINT to its
 * process group) must leave nothing behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce } from '../helpers/berth.js';
import { killLeftPods } from '../helpers/agents.js';
import { until } from '../helpers/wait.js';

function quickStart(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe('the README quick start', () => {
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
});
