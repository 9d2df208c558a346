/** What a person sees on a terminal: log lines made readable, diffs in colour. */
import { describe, expect, it } from 'vitest';
import { humanLine } from '../../src/cli/log-format.js';
import { colorDiff } from '../../src/cli/output.js';

describe('humanLine: a pino JSON line as a person reads it', () => {
  it.each([
    [
      '{"level":30,"time":1796612943667,"component":"server","subsystem":"sync","app":"shop","result":"synced","msg":"reconciled"}',
      '03:09:03 INFO  server/sync: reconciled app=shop result=synced\n',
    ],
    [
      '{"level":40,"time":1796612943667,"component":"agent","port":8080,"msg":"service proxy could not listen"}',
      '03:09:03 WARN  agent: service proxy could not listen port=8080\n',
    ],
    [
      '{"level":50,"time":1796612943667,"component":"server","err":{"message":"boom","stack":"Error: boom\\n    at x"},"msg":"failed"}',
      '03:09:03 ERROR server: failed\n  Error: boom\n      at x\n',
    ],
    ['not json', 'not json\n'],
  ])('%s', (json, line) => expect(humanLine(json)).toBe(line));
});

describe('colorDiff', () => {
  it('colours added lines green, removed red, headers cyan, and leaves the rest', () => {
    expect(colorDiff('± ConfigMap a\n-  x: 1\n+  x: 2\n   y: 3')).toBe(
      '\x1b[36m± ConfigMap a\x1b[0m\n\x1b[31m-  x: 1\x1b[0m\n\x1b[32m+  x: 2\x1b[0m\n   y: 3',
    );
  });
});
