import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoaderPool, loadPaths } from '../../src/manifest/index.js';
import { loadBatch } from '../../src/manifest/pool.js';

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

describe('reading a manifest tree', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-tree-'));
    const put = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    };
    put('a.yaml', cm('a'));
    put('nested/b.yml', cm('b'));
    put('nested/c.json', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }));
    put('nested/README.md', '# not a manifest');
    put('.hidden.yaml', cm('hidden'));
    put('.git/config.yaml', cm('git'));
    put('.berthignore', 'drafts/\n*.local.yaml\n');
    put('drafts/d.yaml', cm('draft'));
    put('e.local.yaml', cm('local'));
    put('nested/.berthignore', 'skip.yaml\n');
    put('nested/skip.yaml', cm('skip'));
    put('dupe/a-again.yaml', cm('a'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('skips hidden files, honours .berthignore at every level, and finds duplicates across files', async () => {
    const r = await loadPaths([dir], { parallel: false });
    expect(r.objects.map((o) => o.object.metadata.name).sort()).toEqual(['a', 'b', 'c']);
    expect(r.files).toBe(4);
    expect(r.errors.map((e) => [path.relative(dir, e.file), e.reason, e.message.replace(dir + '/', '')])).toEqual([
      ['dupe/a-again.yaml', 'DuplicateObject', 'ConfigMap default/a is defined twice: first at a.yaml:1'],
    ]);
  });

  it('gives the same result from worker threads', async () => {
    const here = await loadPaths([dir], { parallel: false });
    const threads = await loadPaths([dir], { parallel: true });
    expect(threads).toEqual(here);
  }, 30_000);

  it('reports a missing path as a usage error', async () => {
    await expect(loadPaths([path.join(dir, 'nope')])).rejects.toMatchObject({ code: 'Usage' });
  });

  it('names a file that cannot be read, whichever thread read it', async () => {
    const gone = { display: 'gone.yaml', absolute: path.join(dir, 'gone.yaml') };
    const expected = { code: 'Usage', message: expect.stringMatching(/^cannot read gone\.yaml: ENOENT/) };
    const options = { strict: false, defaultNamespace: 'default' };
    expect(() => loadBatch([gone], options)).toThrow(expect.objectContaining(expected));
    const pool = new LoaderPool(1);
    try {
      await expect(pool.load([gone], options)).rejects.toMatchObject(expected);
    } finally {
      await pool.close();
    }
    // A pool with no thread of its own: the batch can only be taken by this one (help).
    const threadless = new LoaderPool(0);
    const loading = threadless.load([gone], options);
    loading.catch(() => undefined);
    await threadless.help();
    await expect(loading).rejects.toMatchObject(expected);
  }, 30_000);
});
