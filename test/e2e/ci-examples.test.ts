/**
 * examples/ci as a team would use it, without the hosted runners: the `run:` steps of the GitHub
 * and Gitea workflows, in order, with the environment the workflow gives them (secrets and
 * variables filled in), against a real `berth server` and a bare repository; and the
 * post-receive hook installed in that repository, announcing pushes by signed webhook. What the
 * runners provide is stood in for: `berth` on the PATH (the built CLI), `gh` (records the comment
 * it is asked to post), the Gitea API (a local receiver) and RUNNER_TEMP.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BERTH, buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { TestRepo } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { startStatusReceiver } from '../helpers/status-receiver.js';
import { until } from '../helpers/wait.js';
import { REPO_ROOT } from '../shared.js';

const SECRET = 'ci-examples-webhook-secret';
const run = promisify(execFile);
const cm = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: "${value}"\n`;

interface Workflow {
  env: Record<string, string>;
  jobs: Record<string, { env?: Record<string, string>; steps: { name?: string; run?: string }[] }>;
}

describe('examples/ci: the workflows and the post-receive hook', () => {
  let server: BerthServerProcess;
  let repo: TestRepo;
  let tools: string;
  let ciToken: string;

  beforeAll(async () => {
    buildOnce();
    server = await startBerthServer({ env: { BERTH_WEBHOOK_SECRET: SECRET }, args: ['--log-level', 'warn'] });
    repo = new TestRepo();
    repo.write({ 'deploy/settings.yaml': cm('one') });
    repo.commit('one');
    // Announced by the hook from now on: the app polls once an hour.
    const hook = path.join(repo.bare, 'hooks', 'post-receive');
    copyFileSync(path.join(REPO_ROOT, 'examples/ci/post-receive'), hook);
    chmodSync(hook, 0o755);
    const created = await server.cli(
      'app',
      'create',
      'site',
      '--repo',
      repo.bare,
      '--path',
      'deploy',
      '--auto-sync',
      '--poll-interval',
      '1h',
    );
    expect(created.code, created.err).toBe(0);
    ciToken = (await server.cli('token', 'create', '--role', 'ci')).out.trim();
    // What the runner has: berth on the PATH, and gh, which records the comment it would post.
    tools = mkdtempSync(path.join(tmpdir(), 'berth-ci-tools-'));
    writeFileSync(path.join(tools, 'berth'), `#!/bin/sh\nexec "${process.execPath}" "${BERTH}" "$@"\n`);
    writeFileSync(
      path.join(tools, 'gh'),
      `#!/bin/sh\n# gh pr comment N --body-file F\n[ "$1 $2" = "pr comment" ] && cp "$5" "${tools}/comment-$3.md"\n`,
    );
    for (const tool of ['berth', 'gh']) chmodSync(path.join(tools, tool), 0o755);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    repo?.remove();
    if (tools) rmSync(tools, { recursive: true, force: true });
  });

  const settings = async () =>
    (await api(server, 'GET', '/api/v1/namespaces/default/configmaps/settings', { token: server.token })).body?.data
      ?.value;

  it('post-receive: a push is announced by signed webhook and synced at once, whatever the poll', async () => {
    await until('the first sync', async () => (await settings()) === 'one', 30_000);
    repo.write({ 'deploy/settings.yaml': cm('two') });
    await run('git', ['-C', repo.work, 'commit', '-qam', 'two']);
    const pushed = await run('git', ['-C', repo.work, 'push', 'origin', 'HEAD:main'], {
      env: {
        ...process.env,
        BERTH_SERVER: server.url,
        BERTH_WEBHOOK_SECRET: SECRET,
        BERTH_CA: path.join(server.dir, 'pki', 'ca.crt'),
      },
    });
    expect(pushed.stderr).toMatch(/remote: berth: announced refs\/heads\/main/);
    await until('the pushed commit synced', async () => (await settings()) === 'two', 10_000);
  }, 60_000);

  /** The run: steps of one job, in order, as the runner would run them (bash -eo pipefail). */
  const runJob = async (file: string, job: string, extraEnv: Record<string, string>) => {
    const workflow = parse(readFileSync(path.join(REPO_ROOT, 'examples/ci', file), 'utf8')) as Workflow;
    const runnerTemp = mkdtempSync(path.join(tmpdir(), 'berth-ci-runner-'));
    // The workflow's secrets and variables, as the repository settings would give them.
    const given: Record<string, string> = {
      BERTH_SERVER: server.url,
      BERTH_TOKEN: ciToken,
      BERTH_CA_CRT: readFileSync(path.join(server.dir, 'pki', 'ca.crt'), 'utf8'),
      BERTH_APP: 'site',
      BERTH_PATH: 'deploy',
      BERTH_PACKAGE: '',
    };
    expect(Object.keys(workflow.env).sort()).toEqual(Object.keys(given).sort());
    const env = {
      ...process.env,
      ...given,
      ...extraEnv,
      PATH: `${tools}:${process.env.PATH}`,
      RUNNER_TEMP: runnerTemp,
      BERTH_DATA: '/nonexistent',
      KUBECONFIG: '',
    };
    try {
      for (const step of workflow.jobs[job]!.steps) {
        // The runner's own installation: berth is already on the PATH here.
        if (!step.run || step.name === 'install berth') continue;
        await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], { cwd: repo.work, env });
      }
    } finally {
      rmSync(runnerTemp, { recursive: true, force: true });
    }
  };

  it('GitHub Actions: the PR plan is posted as a comment; after the merge the deploy job waits until healthy', async () => {
    repo.write({ 'deploy/settings.yaml': cm('three') });
    await run('git', ['-C', repo.work, 'commit', '-qam', 'three']);
    await run('git', ['-C', repo.work, 'push', '-q', 'origin', 'HEAD:refs/pull/7/head']);
    await runJob('github-actions.yaml', 'plan', { PR_NUMBER: '7', GH_TOKEN: 'unused' });
    const comment = readFileSync(path.join(tools, 'comment-7.md'), 'utf8');
    expect(comment).toMatch(/^## Berth Diff Preview/);
    expect(comment).toMatch(/-\s+value: "?two"?\n\+\s+value: "?three"?/);

    // Merged: the deploy job's wait returns once the merge commit is synced and healthy.
    const merged = (await run('git', ['-C', repo.work, 'rev-parse', 'HEAD'])).stdout.trim();
    await run('git', ['-C', repo.work, 'push', '-q', 'origin', 'HEAD:main'], {
      env: {
        ...process.env,
        BERTH_SERVER: server.url,
        BERTH_WEBHOOK_SECRET: SECRET,
        BERTH_CA: path.join(server.dir, 'pki', 'ca.crt'),
      },
    });
    await runJob('github-actions.yaml', 'deploy', { GITHUB_SHA: merged });
    expect(await settings()).toBe('three');
  }, 90_000);

  it('Gitea Actions: an invalid PR gets its errors as the comment, and the job fails', async () => {
    const receiver = await startStatusReceiver();
    try {
      repo.write({ 'deploy/broken.yaml': 'kind: ConfigMap\n' });
      await run('git', ['-C', repo.work, 'add', '-A']);
      await run('git', ['-C', repo.work, 'commit', '-qm', 'broken']);
      await run('git', ['-C', repo.work, 'push', '-q', 'origin', 'HEAD:refs/pull/8/head']);
      const failed = await runJob('gitea-actions.yaml', 'plan', {
        PR_NUMBER: '8',
        GITEA_API: `http://127.0.0.1:${receiver.port}/api/v1`,
        GITEA_REPOSITORY: 'team/site',
        GITEA_TOKEN: 'gitea-token',
      }).then(
        () => undefined,
        (e: Error & { stdout?: string }) => e,
      );
      // validate fails first: the invalid file is named with its line.
      expect(failed?.stdout).toMatch(/deploy\/broken\.yaml:1:1: error: missing apiVersion/);
      // The plan step alone (what runs when validate is allowed to fail): the comment says why.
      const workflow = parse(readFileSync(path.join(REPO_ROOT, 'examples/ci/gitea-actions.yaml'), 'utf8')) as Workflow;
      const plan = workflow.jobs.plan!.steps.find((s) => s.name === 'plan')!.run!;
      const runnerTemp = mkdtempSync(path.join(tmpdir(), 'berth-ci-runner-'));
      const exit = await run('bash', ['-eo', 'pipefail', '-c', plan], {
        cwd: repo.work,
        env: {
          ...process.env,
          PATH: `${tools}:${process.env.PATH}`,
          RUNNER_TEMP: runnerTemp,
          BERTH_SERVER: server.url,
          BERTH_TOKEN: ciToken,
          BERTH_CA_CRT: readFileSync(path.join(server.dir, 'pki', 'ca.crt'), 'utf8'),
          BERTH_APP: 'site',
          BERTH_DATA: '/nonexistent',
          KUBECONFIG: '',
          PR_NUMBER: '8',
          GITEA_API: `http://127.0.0.1:${receiver.port}/api/v1`,
          GITEA_REPOSITORY: 'team/site',
          GITEA_TOKEN: 'gitea-token',
        },
      }).then(
        () => 0,
        (e: { code?: number }) => e.code,
      );
      rmSync(runnerTemp, { recursive: true, force: true });
      expect(exit).toBe(1);
      expect(receiver.posts).toHaveLength(1);
      expect(receiver.posts[0]).toMatchObject({
        path: '/api/v1/repos/team/site/issues/8/comments',
        auth: 'token gitea-token',
      });
      expect(receiver.posts[0]!.body.body).toMatch(/> \[!CAUTION\]\n> \*\*The revision has invalid manifests/);
      expect(receiver.posts[0]!.body.body).toMatch(/deploy\/broken\.yaml:1:1: error: missing apiVersion/);
    } finally {
      await receiver.close();
    }
  }, 90_000);
});
