/**
 * Blob sizes from Git headers (security issue, item 14): checked against `git cat-file -s` for
 * loose, packed and deltified objects; and a commit with a file over the 5 MiB limit is refused
 * by its size without the blob being read.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MAX_FILE_BYTES } from '../../src/manifest/index.js';
import { BlobSizes } from '../../src/source/blob-size.js';
import { GitRepository } from '../../src/source/git.js';
import { GitSource } from '../../src/source/index.js';
import { git, TestRepo } from '../helpers/git.js';

const cm = (name: string, filler = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${filler}"\n`;

describe('blob sizes', () => {
  const repos: TestRepo[] = [];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-blobsize-'));
  afterAll(() => {
    for (const r of repos) r.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const repo = () => {
    const r = new TestRepo();
    repos.push(r);
    return r;
  };
  const blobs = (r: TestRepo) =>
    git(r.bare, 'rev-list', '--objects', '--all')
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((oid) => git(r.bare, 'cat-file', '-t', oid) === 'blob');

  it('reads loose, packed and deltified objects as git cat-file -s does', () => {
    const r = repo();
    // Two close versions of a large file, so that a repack stores one as a delta of the other.
    const big = Array.from({ length: 4000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n');
    r.write({ 'a.yaml': cm('a'), 'big.txt': big, 'empty.yaml': '' });
    r.commit('one');
    r.write({ 'big.txt': big.replace('line 2000', 'line two thousand'), 'b.yaml': cm('b', 'y'.repeat(300)) });
    r.commit('two');
    const sizes = () => {
      const reader = new BlobSizes(r.bare);
      return Object.fromEntries(blobs(r).map((oid) => [oid, reader.sizeOf(oid)]));
    };
    const expected = Object.fromEntries(blobs(r).map((oid) => [oid, Number(git(r.bare, 'cat-file', '-s', oid))]));
    expect(sizes(), 'loose objects').toEqual(expected);
    git(r.bare, 'repack', '-a', '-d', '-f', '--depth=10', '--window=10');
    expect(git(r.bare, 'count-objects', '-v')).toMatch(/^count: 0$/m);
    expect(git(r.bare, 'verify-pack', '-v', ...packIndexes(r.bare))).toMatch(/delta/);
    expect(sizes(), 'packed and deltified objects').toEqual(expected);
  });

  it('a file over the limit in a commit is refused by its size, never read', async () => {
    const r = repo();
    r.write({ 'app/ok.yaml': cm('ok'), 'app/huge.yaml': cm('huge', 'z'.repeat(MAX_FILE_BYTES + 1024)) });
    const commit = r.commit('huge');
    const read = vi.spyOn(GitRepository.prototype, 'readBlob');
    try {
      const source = new GitSource({ dataDir });
      const spec = { repoURL: `file://${r.bare}`, path: 'app' };
      const artifact = await source.artifact(spec, commit, { strict: false, defaultNamespace: 'default' });
      if (!artifact.ok) throw new Error(artifact.condition.message);
      expect(artifact.value.result.errors.map((e) => `${e.file} ${e.reason}`)).toEqual(['app/huge.yaml FileTooLarge']);
      expect(artifact.value.result.objects.map((o) => o.object.metadata.name)).toEqual(['ok']);
      const hugeOid = git(r.bare, 'rev-parse', `${commit}:app/huge.yaml`);
      expect(read.mock.calls.map((c) => c[0])).not.toContain(hugeOid);
    } finally {
      read.mockRestore();
    }
  });
});

function packIndexes(gitdir: string): string[] {
  const dir = path.join(gitdir, 'objects', 'pack');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.idx'))
    .map((f) => path.join(dir, f));
}
