/**
 * The GitOps path at scale, end to end: a real `berth server` (its Application controller, the
 * workload controllers, the scheduler) with 100 simulated nodes (`berth simulate nodes`: pods
 * become Running and Ready as agents would report them), and an Application of a 10,000-object
 * repository (2,000 apps × Deployment, Service, ConfigMap, Secret, Ingress; 4,000 pods) served
 * over smart HTTP. Everything is measured from outside, through the API:
 * - the first sync, from the Application's creation until it is Synced at the commit;
 * - a commit touching one file, announced by a signed webhook, until the changed object is served
 *   by the API: while the controllers still settle the first sync's Deployments, and after;
 * - a webhook with no new commit: the reconcile's own duration (the server's
 *   berth_app_reconcile_duration_seconds, result "unchanged");
 * - the server's peak RSS (VmHWM), and how long until every pod ran.
 * The peers: `git fetch` (the git CLI) of each one-file commit from the same Git server, which
 * runs `git http-backend` per request — most of a one-file commit's time is that fetch — and
 * `git ls-remote` of the branch for the no-change poll.
 * BENCH_DEBUG=1 prints the server's reconciles with the time of each step; BENCH_PROFILE=DIR has
 * the server write a CPU profile there; BENCH_HEAP=DIR a heap snapshot right after the first sync;
 * BENCH_NODE_ARGS="--flag …" gives the server's node flags (to compare heap settings).
 * Targets (issue 20, 2 cores): first sync ≤ 5 s; one-file commit ≤ 150 ms (median) and ≤ 500 ms
 * while settling; no-change poll ≤ 20 ms; peak RSS ≤ 400 MB. `npm run bench -- sync-alone` runs
 * the sync by itself, in process, as the peer.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSimulatedNodes, type SimulatedNodes } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startGitHttpServer, TestRepo, type GitHttpServer } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { app } from './manifest.js';

const APPS = 2000;
const NODES = 100;
const SECRET = 'bench-webhook-secret';
const progress = (m: string) => process.stderr.write(`sync: ${m}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  check: () => Promise<T | false | undefined>,
  ms: number,
  everyMs = 5,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  const repo = new TestRepo();
  let git: GitHttpServer | undefined;
  let server: BerthServerProcess | undefined;
  let simulator: SimulatedNodes | undefined;
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < APPS; i++) files[`apps/team-${i % 20}/app-${i}.yaml`] = app(i);
    repo.write(files);
    const first = repo.commit('10,000 objects');
    git = await startGitHttpServer(repo.root);
    // BENCH_PROFILE=DIR: the server writes a CPU profile there when it stops.
    const nodeArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    // BENCH_NODE_ARGS="--flag …": V8/Node flags for the server (to compare heap settings).
    nodeArgs.push(...(process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []));
    // BENCH_HEAP=DIR: the server writes a heap snapshot there right after the first sync.
    if (process.env.BENCH_HEAP)
      nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${process.env.BENCH_HEAP}`);
    server = await startBerthServer({
      nodeArgs,
      env: { BERTH_WEBHOOK_SECRET: SECRET },
      args: ['--log-level', process.env.BENCH_DEBUG ? 'debug' : 'warn', '--service-cidr', '10.96.0.0/12'],
    });
    const s = server;
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await api(s, method, p, { token: s.token, ...(body !== undefined ? { body } : {}) });
      if (res.status >= 300) throw new Error(`${method} ${p}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
      return res.body;
    };
    const repoURL = `${git.url}/repo.git`;
    const webhook = async () => {
      const body = JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: repoURL } });
      const res = await api(s, 'POST', '/api/v1/webhooks/git', {
        rawBody: body,
        headers: {
          'X-GitHub-Event': 'push',
          'X-Hub-Signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
        },
      });
      if (res.status !== 202) throw new Error(`webhook: HTTP ${res.status} ${res.text}`);
    };

    progress(`${NODES} simulated nodes`);
    simulator = await startSimulatedNodes(s, { count: NODES, cpu: '16', memory: '64Gi', stderr: 'inherit' });
    await until(
      `${NODES} ready nodes`,
      async () =>
        (await call('GET', '/api/v1/nodes')).items.filter((n: any) =>
          n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
        ).length === NODES,
      60_000,
      200,
    );

    // The server's memory by part, sampled each second: what its peak RSS is made of.
    const memoryPeak = { heapUsedMb: 0, externalMb: 0 };
    const sampling = setInterval(() => {
      void api(s, 'GET', '/metrics', { token: s.token })
        .then(({ text }) => {
          const mb = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0) / 2 ** 20;
          memoryPeak.heapUsedMb = Math.max(memoryPeak.heapUsedMb, mb('nodejs_heap_size_used_bytes'));
          memoryPeak.externalMb = Math.max(memoryPeak.externalMb, mb('nodejs_external_memory_bytes'));
        })
        .catch(() => {});
    }, 1000);
    const reconcileCount = async () =>
      [
        ...(await api(s, 'GET', '/metrics', { token: s.token })).text.matchAll(
          /^berth_app_reconcile_duration_seconds_count\{[^}]*\} (\S+)$/gm,
        ),
      ].reduce((n, m) => n + Number(m[1]), 0);
    progress('first sync');
    const createdAt = performance.now();
    await call('POST', '/apis/berth.dev/v1/namespaces/default/applications', {
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'big' },
      spec: {
        source: { repoURL, targetRevision: 'main', path: 'apps' },
        syncPolicy: { automated: { prune: true } },
        pollInterval: '10m',
      },
    });
    const synced = async (commit: string) => {
      const st = (await call('GET', '/apis/berth.dev/v1/namespaces/default/applications/big')).status;
      return st?.sync?.status === 'Synced' && st.sync.revision === commit;
    };
    await until('the first sync', () => synced(first), 120_000, 20).catch(async (e: Error) => {
      const st = (await call('GET', '/apis/berth.dev/v1/namespaces/default/applications/big')).status;
      throw new Error(
        `${e.message}: ${JSON.stringify({ sync: st?.sync, operationState: st?.operationState, conditions: st?.conditions }).slice(0, 2000)}\n${s.logs().slice(-3000)}`,
      );
    });
    const firstSyncMs = performance.now() - createdAt;
    if (process.env.BENCH_HEAP) process.kill(s.pid, 'SIGUSR2');

    // One file changed (a different app's ConfigMap each time), pushed and announced by webhook:
    // the time until the API serves the new value.
    let sample = 0;
    const oneFileCommit = async (): Promise<number> => {
      const n = 7 + sample * 101;
      const workers = `workers: ${100 + sample++}`;
      repo.write({ [`apps/team-${n % 20}/app-${n}.yaml`]: app(n).replace(`workers: ${n % 8}`, workers) });
      repo.commit(`one file (${sample})`);
      const t = performance.now();
      await webhook();
      await until(
        `app-${n}'s ConfigMap`,
        async () =>
          (
            (await call('GET', `/api/v1/namespaces/default/configmaps/app-${n}`)).data?.['settings.yaml'] as string
          ).includes(workers),
        300_000,
        2,
      );
      return performance.now() - t;
    };
    const unavailable = async () => {
      const items = (await call('GET', '/apis/apps/v1/namespaces/default/deployments')).items as any[];
      return items.filter((d) => (d.status?.availableReplicas ?? 0) < d.spec.replicas).length;
    };

    progress('commits touching one file while the controllers settle the first sync');
    const whileSettling: number[] = [];
    const stillSettling: number[] = [];
    for (let i = 0; i < 3; i++) {
      whileSettling.push(await oneFileCommit());
      stillSettling.push(await unavailable());
    }
    progress('until every pod runs');
    const pods = (await call('GET', '/apis/apps/v1/namespaces/default/deployments')).items.reduce(
      (n: number, d: any) => n + d.spec.replicas,
      0,
    );
    await until('every Deployment available', async () => (await unavailable()) === 0, 600_000, 500);
    const settledMs = performance.now() - createdAt;
    const reconcilesUntilSettled = await reconcileCount();

    // Nothing changes now: how often does the app reconcile by itself (it should not, between polls)?
    const quietBefore = await reconcileCount();
    await sleep(5000);
    const reconcilesWhenQuiet = (await reconcileCount()) - quietBefore;

    progress('commits touching one file, settled; the git CLI fetching each as the peer');
    const peerDir = mkdtempSync(path.join(tmpdir(), 'berth-bench-peer-'));
    const gitCli = (...args: string[]) => promisify(execFile)('git', args, { cwd: peerDir });
    const settled: number[] = [];
    const peer: number[] = [];
    try {
      // Async: the Git server runs in this process.
      await gitCli('clone', '-q', '--bare', repoURL, '.');
      for (let i = 0; i < 5; i++) {
        settled.push(await oneFileCommit());
        const t = performance.now();
        await gitCli('fetch', '-q', 'origin', '+refs/heads/*:refs/heads/*');
        peer.push(performance.now() - t);
      }
    } finally {
      rmSync(peerDir, { recursive: true, force: true });
    }

    progress('webhooks with no new commit');
    const reconciles = async () => {
      const text = (await api(s, 'GET', '/metrics', { token: s.token })).text;
      const figure = (name: string) =>
        Number(
          new RegExp(`^berth_app_reconcile_duration_seconds_${name}\\{result="unchanged"\\} (\\S+)$`, 'm').exec(
            text,
          )?.[1] ?? 0,
        );
      return { sum: figure('sum'), count: figure('count') };
    };
    const noChange: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = await reconciles();
      await webhook();
      const after = await until(
        'the reconcile',
        async () => {
          const r = await reconciles();
          return r.count > before.count && r;
        },
        30_000,
        20,
      );
      noChange.push(((after.sum - before.sum) / (after.count - before.count)) * 1000);
    }
    // The no-change poll's peer: the git CLI asking the same server for the branch's head (one
    // ref advertisement, the least a poll must do). Best of five, as the poll.
    const lsRemote: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await promisify(execFile)('git', ['ls-remote', repoURL, 'refs/heads/main']);
      lsRemote.push(performance.now() - t);
    }
    if (process.env.BENCH_DEBUG)
      for (const line of s.logs().split('\n'))
        if (line.includes('"reconciled"')) process.stderr.write(`${line.slice(0, 400)}\n`);
    clearInterval(sampling);
    const peakRssMb = Math.round(
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))![1]) / 1024,
    );
    const r = (x: number) => Math.round(x);
    return {
      objects: APPS * 5,
      nodes: NODES,
      pods,
      first_sync_ms: r(firstSyncMs),
      one_file_commit_settling_ms: r(Math.max(...whileSettling)),
      one_file_commit_settling_samples_ms: whileSettling.map(r),
      deployments_unavailable_at_each: stillSettling,
      one_file_commit_ms: r(median(settled)),
      one_file_commit_samples_ms: settled.map(r),
      git_cli_fetch_peer_ms: r(median(peer)),
      ratio_to_peer: Number((median(settled) / median(peer)).toFixed(2)),
      no_change_poll_ms: Number(Math.min(...noChange).toFixed(1)),
      no_change_poll_samples_ms: noChange.map((x) => Number(x.toFixed(1))),
      git_cli_ls_remote_peer_ms: Number(Math.min(...lsRemote).toFixed(1)),
      no_change_ratio_to_peer: Number((Math.min(...noChange) / Math.min(...lsRemote)).toFixed(2)),
      every_pod_running_ms: r(settledMs),
      pods_per_s_end_to_end: r(pods / (settledMs / 1000)),
      server_peak_rss_mb: peakRssMb,
      server_peak_heap_used_mb: Math.round(memoryPeak.heapUsedMb),
      server_peak_external_mb: Math.round(memoryPeak.externalMb),
      reconciles_until_settled: reconcilesUntilSettled,
      reconciles_in_5s_quiet: reconcilesWhenQuiet,
      targets: {
        first_sync_ms: 5000,
        one_file_commit_settling_ms: 500,
        one_file_commit_ms: 150,
        no_change_poll_ms: 20,
        server_peak_rss_mb: 400,
      },
    };
  } finally {
    await simulator?.stop();
    await server?.stop();
    await git?.close();
    repo.remove();
  }
}
