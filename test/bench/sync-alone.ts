/**
 * Sync of a 10,000-object repository (2,000 apps × Deployment, Service, ConfigMap, Secret,
 * Ingress) served over smart HTTP into a SQLite store: the first sync (time, peak RSS), a commit
 * touching one file (fetch to applied; the median of five), and a poll with no change (the best of five).
 * Targets: ≤ 5 s and ≤ 400 MB; ≤ 150 ms; ≤ 20 ms.
 *
 * It runs the built package, as `berth server` does, and warms the manifest loader up as the server
 * does once it has an Application: the first sync is a new Application's on a server that already
 * syncs others. `BENCH_SYNC_COLD=1` starts the warm-up with the first sync instead: a server's
 * first Application.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../../src/store/index.js';
import type { AppMemo, ApplicationObject } from '../../src/sync/index.js';
import { startGitHttpServer, TestRepo } from '../helpers/git.js';
import { app } from './manifest.js';

const BUILD = fileURLToPath(new URL('../../.build/', import.meta.url));

const APPS = 2000;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const progress = (m: string) => process.stderr.write(`sync: ${m}\n`);

export async function run(): Promise<Record<string, unknown>> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.join(BUILD, '..'), stdio: 'inherit' });
  const { GitSource } = (await import(`${BUILD}source/index.js`)) as typeof import('../../src/source/index.js');
  const { openStore } = (await import(`${BUILD}store/index.js`)) as typeof import('../../src/store/index.js');
  const { reconcileApplication } = (await import(`${BUILD}sync/index.js`)) as typeof import('../../src/sync/index.js');
  const { warmLoader } = (await import(`${BUILD}manifest/index.js`)) as typeof import('../../src/manifest/index.js');
  // Cold: the warm-up starts with the first sync (below), as with a server's first Application.
  const cold = process.env.BENCH_SYNC_COLD === '1';
  const warming = cold ? Promise.resolve() : warmLoader();
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-sync-'));
  const repo = new TestRepo();
  const files: Record<string, string> = {};
  for (let i = 0; i < APPS; i++) files[`apps/team-${i % 20}/app-${i}.yaml`] = app(i);
  repo.write(files);
  repo.commit('10,000 objects');
  const git = await startGitHttpServer(repo.root);
  const store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
  try {
    const source = new GitSource({ dataDir: dir });
    const memo = new Map<string, AppMemo>();
    const application = await store.create<ApplicationObject>({
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'big', namespace: 'default', generation: 1 },
      spec: { source: { repoURL: `${git.url}/repo.git`, path: 'apps' }, syncPolicy: { automated: { prune: true } } },
    });
    const reconcile = async () =>
      reconcileApplication(
        { store, source, memo },
        await store.get<ApplicationObject>({
          group: 'berth.dev',
          kind: 'Application',
          namespace: 'default',
          name: 'big',
        }),
      );
    void application;

    await warming;
    progress(`first sync (loader ${cold ? 'starting with it' : 'warmed up'})`);
    const rssBefore = process.memoryUsage().rss;
    let t = performance.now();
    if (cold) void warmLoader();
    const first = await reconcile();
    const firstMs = performance.now() - t;
    if (first.written !== APPS * 5) throw new Error(`first sync wrote ${first.written} objects`);

    // Five commits, each touching one file (a different one each time): the median is reported,
    // every sample beside it.
    progress('commits touching one file');
    const oneFile: number[] = [];
    for (let i = 0; i < 5; i++) {
      const n = 7 + i * 101;
      repo.write({
        [`apps/team-${n % 20}/app-${n}.yaml`]: app(n).replace(`workers: ${n % 8}`, `workers: ${(n % 8) + 10}`),
      });
      repo.commit(`one file (${i + 1})`);
      t = performance.now();
      const one = await reconcile();
      oneFile.push(performance.now() - t);
      if (process.env.BENCH_STEPS) progress(`steps ${JSON.stringify(one.steps)}`);
      if (one.written !== 1) throw new Error(`one-file commit wrote ${one.written} objects`);
    }

    progress('a poll with no change');
    const noChange: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      const r = await reconcile();
      noChange.push(performance.now() - t);
      if (r.written !== 0) throw new Error('a no-change poll wrote');
    }
    const count = (await store.list<KubeObject>({ group: '', kind: 'ConfigMap' })).items.length;
    return {
      objects: APPS * 5,
      loader: cold ? 'warming up with the first sync' : 'warmed up',
      configmaps_stored: count,
      first_sync_ms: Math.round(firstMs),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      rss_growth_mb: Math.round((process.memoryUsage().rss - rssBefore) / 1048576),
      one_file_commit_ms: Math.round(median(oneFile)),
      one_file_commit_samples_ms: oneFile.map(Math.round),
      no_change_poll_ms: Math.round(Math.min(...noChange)),
      targets: { first_sync_ms: 5000, peak_rss_mb: 400, one_file_commit_ms: 150, no_change_poll_ms: 20 },
    };
  } finally {
    await store.close();
    await git.close();
    repo.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
