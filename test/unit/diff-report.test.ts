import { describe, expect, it } from 'vitest';
import {
  diffReport,
  MAX_COMMENT_CHARS,
  plan,
  renderMarkdown,
  renderMarkdownParts,
  renderText,
  withTracking,
  type ObjectLike,
} from '../../src/diff/index.js';

const app = { namespace: 'default', name: 'shop' };
const live = (o: ObjectLike): ObjectLike => ({ ...withTracking(app, o), status: {} });
const cm = (name: string, data: Record<string, string>): ObjectLike => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});
const secret = (data: Record<string, string>): ObjectLike =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'default' },
    data,
    type: 'Opaque',
  }) as ObjectLike;

describe('diff report', () => {
  it('shows created, changed (unified, with skipped lines between hunks) and pruned objects', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `v${i}`]));
    const changed = { ...many, k01: 'CHANGED', k38: 'CHANGED' };
    const r = diffReport(
      plan(app, [cm('big', changed), cm('new', { a: '1' })], [live(cm('big', many)), live(cm('gone', { x: '1' }))], {
        prune: true,
      }),
      'abcdef1234',
    );
    expect(r.created.map((e) => e.name)).toEqual(['new']);
    expect(r.pruned.map((e) => e.name)).toEqual(['gone']);
    expect(r.changed).toHaveLength(1);
    const diff = r.changed[0]!.diff;
    expect(diff).toMatch(/^-\s+k01: v1$/m);
    expect(diff).toMatch(/^\+\s+k01: CHANGED$/m);
    expect(diff).toMatch(/^@@ skipped \d+ lines \(\d+ -> \d+\) @@$/m);
    expect(r.changed[0]).toMatchObject({ added: 2, removed: 2 });
    expect(renderText(r)).toMatch(/^1 created, 1 changed, 1 pruned at abcdef1$/m);
    const md = renderMarkdown(r, 'shop');
    expect(md).toMatch(/^## Berth Diff Preview$/m);
    expect(md).toMatch(/^Modified \(1\):\n± ConfigMap\/big \(default\) \(\+2\|-2\)$/m);
    expect(md).toMatch(/^#### ConfigMap\/new \(default\)\n```diff\n\+apiVersion: v1$/m);
  });

  it('never shows Secret values: *** and, where one changed, *** (before) / *** (after)', () => {
    const before = {
      user: Buffer.from('admin').toString('base64'),
      password: Buffer.from('old-s3cret').toString('base64'),
    };
    const after = { user: before.user, password: Buffer.from('new-s3cret').toString('base64') };
    const r = diffReport(plan(app, [secret(after)], [live(secret(before))], { prune: true }), 'abc1234');
    const text = renderText(r) + renderMarkdown(r, 'shop') + JSON.stringify(r);
    for (const v of [...Object.values(before), ...Object.values(after), 'old-s3cret', 'new-s3cret', 'admin'])
      expect(text.includes(v)).toBe(false);
    expect(r.changed[0]!.diff).toMatch(/^-\s+password: "\*\*\* \(before\)"$/m);
    expect(r.changed[0]!.diff).toMatch(/^\+\s+password: "\*\*\* \(after\)"$/m);
    expect(r.changed[0]!.diff).toMatch(/^ {3}user: "\*\*\*"$/m); // unchanged: context, masked
  });

  it('says so when there is no difference', () => {
    const r = diffReport(
      plan(app, [cm('same', { a: '1' })], [live(cm('same', { a: '1' }))], { prune: true }),
      'abc1234',
    );
    expect(renderText(r)).toBe('no differences at abc1234\n');
  });
});

describe('PR comments past GitHub’s 64 KB: parts split between resources, long diffs cut', () => {
  const entry = (i: number, lines: number) => ({
    kind: 'ConfigMap',
    namespace: 'default',
    name: `cm-${i}`,
    diff:
      Array.from({ length: lines }, (_, l) => `-  k${l}: ${'x'.repeat(60)}\n+  k${l}: ${'y'.repeat(60)}`).join('\n') +
      '\n',
    added: lines,
    removed: lines,
  });
  const report = (entries: ReturnType<typeof entry>[]) => ({
    revision: 'abcdef1234',
    created: [],
    changed: entries,
    pruned: [],
  });
  const balanced = (part: string) => {
    expect(part.match(/^```diff$/gm)?.length).toBe(part.match(/^#### /gm)?.length);
    expect(part.match(/^```$/gm)?.length).toBe(
      part.match(/^```diff$/gm)?.length! + (part.includes('Summary:') ? 1 : 0),
    );
    expect(part.match(/<details>/g)?.length).toBe(1);
    expect(part.match(/<\/details>/g)?.length).toBe(1);
  };

  it('splits 40 resources of 6 KB into parts under the cap, each rendering on its own, every resource once', () => {
    const parts = renderMarkdownParts(report(Array.from({ length: 40 }, (_, i) => entry(i, 45))), 'shop');
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
      balanced(p);
    }
    expect(parts[0]).toMatch(/^## Berth Diff Preview\n/);
    expect(parts[1]).toMatch(/^## Berth Diff Preview \(part 2\)\n/);
    expect(parts.join('').match(/^#### ConfigMap\/cm-\d+/gm)).toHaveLength(40);
  });

  it('cuts one diff at --max-diff-length, and one diff larger than a comment to fit it', () => {
    const [cutPart] = renderMarkdownParts(report([entry(0, 100)]), 'shop', { maxDiffLength: 1000 });
    expect(cutPart!.length).toBeLessThan(2500);
    expect(cutPart).toMatch(
      /^@@ diff cut: \d+ more characters \(berth app diff shop --revision abcdef1 shows it whole\) @@$/m,
    );
    balanced(cutPart!);
    const huge = renderMarkdownParts(report([entry(0, 2000)]), 'shop');
    expect(huge).toHaveLength(1);
    expect(huge[0]!.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    balanced(huge[0]!);
  });
});
