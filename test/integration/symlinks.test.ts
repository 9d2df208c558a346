/**
 * One rule for symlinks on disk (`berth validate`'s reader) and in Git (the server's source)
 * (security issue, item 13): a link inside the tree reads as its target; a link that leaves the
 * tree — to /etc/passwd, to a secret file, to a folder outside — is skipped with a warning, and
 * nothing of its target is read or printed.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPaths, type LoadResult } from '../../src/manifest/index.js';
import { GitSource } from '../../src/source/index.js';
import { TestRepo } from '../helpers/git.js';

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "v"\n`;
const SECRET = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  token: "admin-token-value"\n';

describe('symlinks', () => {
  let outside: string;
  let repo: TestRepo;
  let dataDir: string;
  beforeAll(() => {
    outside = mkdtempSync(path.join(tmpdir(), 'berth-outside-'));
    writeFileSync(path.join(outside, 'secret.yaml'), SECRET);
    mkdirSync(path.join(outside, 'folder'));
    writeFileSync(path.join(outside, 'folder', 'more.yaml'), SECRET.replace('stolen', 'stolen-too'));
    repo = new TestRepo();
    repo.write({ 'app/a.yaml': cm('a'), 'app/real/b.yaml': cm('b'), 'elsewhere/c.yaml': cm('c') });
    const app = path.join(repo.work, 'app');
    symlinkSync('/etc/passwd', path.join(app, 'passwd.yaml'));
    symlinkSync(path.join(outside, 'secret.yaml'), path.join(app, 'token.yaml'));
    symlinkSync(path.join(outside, 'folder'), path.join(app, 'outside'));
    symlinkSync('../elsewhere/c.yaml', path.join(app, 'sibling.yaml'));
    symlinkSync('real', path.join(app, 'alias'));
    repo.commit('links');
    dataDir = mkdtempSync(path.join(tmpdir(), 'berth-symlinks-'));
  });
  afterAll(() => {
    rmSync(outside, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    repo.remove();
  });

  const summary = (r: LoadResult, strip: string) => ({
    objects: r.objects.map((o) => o.object.metadata.name).sort(),
    warnings: r.warnings.map((w) => `${w.file.replace(strip, '')} ${w.reason}`).sort(),
    errors: r.errors.map((e) => `${e.file.replace(strip, '')} ${e.reason}`).sort(),
  });
  const expected = {
    objects: ['a', 'b'],
    warnings: [
      'app/outside SymlinkOutsideTree',
      'app/passwd.yaml SymlinkOutsideTree',
      'app/sibling.yaml SymlinkOutsideTree',
      'app/token.yaml SymlinkOutsideTree',
    ],
    errors: [],
  };

  it('on disk: links leaving the tree are skipped with a warning, and their targets never read', async () => {
    const r = await loadPaths([path.join(repo.work, 'app')], { parallel: false });
    expect(summary(r, `${repo.work}/`)).toEqual(expected);
    expect(JSON.stringify(r)).not.toContain('admin-token-value');
    expect(JSON.stringify(r)).not.toContain('root:');
  });

  it('in Git: the same reading of the same tree', async () => {
    const source = new GitSource({ dataDir });
    const spec = { repoURL: `file://${repo.bare}`, path: 'app' };
    const resolved = await source.refresh(spec);
    if (!resolved.ok) throw new Error(resolved.condition.message);
    const artifact = await source.artifact(spec, resolved.value.commit, { strict: false, defaultNamespace: 'default' });
    if (!artifact.ok) throw new Error(artifact.condition.message);
    expect(summary(artifact.value.result, '')).toEqual(expected);
  });
});
