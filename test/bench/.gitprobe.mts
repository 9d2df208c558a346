import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGitHttpServer, TestRepo } from '../helpers/git.js';
import { app } from './manifest.js';
const repo = new TestRepo();
const files: Record<string, string> = {};
for (let i = 0; i < 2000; i++) files[`apps/team-${i % 20}/app-${i}.yaml`] = app(i);
repo.write(files); repo.commit('x');
const git = await startGitHttpServer(repo.root);
const clone = mkdtempSync(path.join(tmpdir(), 'probe-'));
execFileSync('git', ['clone', '-q', '--bare', `${git.url}/repo.git`, clone]);
for (let i = 0; i < 5; i++) {
  let t = performance.now();
  const r = await fetch(`${git.url}/repo.git/info/refs?service=git-upload-pack`); await r.arrayBuffer();
  const refs = performance.now() - t;
  repo.write({ [`apps/team-1/app-${i * 20 + 1}.yaml`]: app(i * 20 + 1).replace('workers:', 'workers: 9') }); repo.commit(`c${i}`);
  t = performance.now();
  execFileSync('git', ['fetch', '-q', 'origin', '+refs/heads/*:refs/heads/*'], { cwd: clone });
  console.log(JSON.stringify({ info_refs_ms: Math.round(refs), git_cli_fetch_ms: Math.round(performance.now() - t) }));
}
await git.close(); repo.remove();
