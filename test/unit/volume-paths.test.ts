import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResolveError, subPathSource, writeDataDir } from '../../src/agent/resolve.js';
import { checkSemantics } from '../../src/manifest/semantic.js';

const pod = (items: { key: string; path: string }[], subPath?: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default' },
  spec: {
    volumes: [
      { name: 'conf', configMap: { name: 'conf', items } },
      { name: 'keys', secret: { secretName: 'keys', items } },
    ],
    containers: [{ name: 'main', image: 'busybox', volumeMounts: [{ name: 'conf', mountPath: '/c', subPath }] }],
  },
});
const messages = (o: object) => checkSemantics(o as never, true).map((f) => `${f.path.join('.')}: ${f.message}`);

/** The agent writes volume files and resolves subPaths as root on the node: no path may leave its volume. */
describe('paths inside volumes', () => {
  it.each([
    ['renamed/b', undefined, []],
    ['a..b/c', 'data/x', []],
    [
      '../../etc/cron.d/x',
      undefined,
      [
        `spec.volumes.0.configMap.items.0.path: "../../etc/cron.d/x": must not contain '..'`,
        `spec.volumes.1.secret.items.0.path: "../../etc/cron.d/x": must not contain '..'`,
      ],
    ],
    [
      '/abs',
      '../up',
      [
        'spec.volumes.0.configMap.items.0.path: "/abs": must be a relative path',
        'spec.volumes.1.secret.items.0.path: "/abs": must be a relative path',
        `spec.containers.0.volumeMounts.0.subPath: "../up": must not contain '..'`,
      ],
    ],
    [
      '..data',
      '/abs',
      [
        `spec.volumes.0.configMap.items.0.path: "..data": must not start with '..'`,
        `spec.volumes.1.secret.items.0.path: "..data": must not start with '..'`,
        'spec.containers.0.volumeMounts.0.subPath: "/abs": must be a relative path',
      ],
    ],
  ])('item path %j, subPath %j', (itemPath, subPath, expected) => {
    expect(messages(pod([{ key: 'k', path: itemPath }], subPath))).toEqual(expected);
  });

  describe('on the node (a pod stored before validation refused it)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'berth-volume-paths-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('refuses an item path that leaves the volume, and writes nothing', () => {
      const volume = path.join(dir, 'volume');
      expect(() => writeDataDir(volume, { k: Buffer.from('x') }, [{ key: 'k', path: '../outside' }], 0o644)).toThrow(
        ResolveError,
      );
      expect(() => writeDataDir(volume, { k: Buffer.from('x') }, [{ key: 'k', path: '/etc/x' }], 0o644)).toThrow(
        /outside its volume/,
      );
    });

    it('refuses a subPath that leaves the volume, by its text or through a symlink a container made', () => {
      const volume = path.join(dir, 'volume');
      mkdirSync(path.join(volume, 'data'), { recursive: true });
      symlinkSync('/', path.join(volume, 'escape'));
      symlinkSync('/nonexistent-berth-test', path.join(volume, 'dangling'));
      expect(subPathSource({ path: volume }, 'data', 'main')).toBe(path.join(volume, 'data'));
      expect(subPathSource({ path: volume }, 'data/new/dir', 'main')).toBe(path.join(volume, 'data/new/dir'));
      for (const bad of ['../x', 'escape', 'escape/etc', 'dangling/x'])
        expect(() => subPathSource({ path: volume }, bad, 'main'), bad).toThrow(/outside its volume/);
    });
  });
});
