import { linkSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeDataDir } from '../../src/agent/resolve.js';

/** A ConfigMap or Secret volume is written again at every sync of its pod, while its containers read it. */
describe('writeDataDir', () => {
  let dir: string;
  let elsewhere: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-data-dir-'));
    elsewhere = mkdtempSync(path.join(tmpdir(), 'berth-data-dir-link-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });
  const data = (b: string) => ({ 'a.txt': Buffer.from('alpha'), 'b.txt': Buffer.from(b) });

  it('leaves an item under a directory in place when nothing changed (a reader never finds it gone)', () => {
    const items = [{ key: 'b.txt', path: 'renamed/b' }];
    writeDataDir(dir, data('beta'), items, 0o644);
    // A second link to the file: a file removed and written again would have one link only.
    linkSync(path.join(dir, 'renamed/b'), path.join(elsewhere, 'b'));
    writeDataDir(dir, data('beta'), items, 0o644);
    expect(statSync(path.join(dir, 'renamed/b')).nlink).toBe(2);
    expect(readFileSync(path.join(dir, 'renamed/b'), 'utf8')).toBe('beta');
  });

  it('replaces a changed file whole, and removes what is no longer wanted, nested or not', () => {
    writeDataDir(dir, data('beta'), [{ key: 'b.txt', path: 'renamed/b' }], 0o644);
    writeFileSync(path.join(dir, 'stray'), 'x');
    writeDataDir(
      dir,
      data('beta 2'),
      [
        { key: 'b.txt', path: 'renamed/c' },
        { key: 'a.txt', path: 'a' },
      ],
      0o600,
    );
    expect(readdirSync(dir).sort()).toEqual(['a', 'renamed']);
    expect(readdirSync(path.join(dir, 'renamed'))).toEqual(['c']);
    expect(readFileSync(path.join(dir, 'renamed/c'), 'utf8')).toBe('beta 2');
    expect(statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o600);
    // Without items every key is a file; a directory in the way goes.
    writeDataDir(dir, data('beta'), undefined, 0o644);
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'b.txt']);
  });
});
