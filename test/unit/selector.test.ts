import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSelector, selectorFromObject } from '../../src/api/index.js';
import { TESTDATA } from '../shared.js';

const vectors = JSON.parse(readFileSync(`${TESTDATA}/label-selectors.json`, 'utf8')) as {
  parse_ok_canonical: { in: string; canonical: string }[];
  parse_error: string[];
  match: { sel: string; labels: Record<string, string>; match: boolean }[];
};

describe('parseSelector against Kubernetes vectors', () => {
  it.each(vectors.parse_ok_canonical)('parses $in as $canonical', ({ in: input, canonical }) => {
    expect(parseSelector(input).toString()).toBe(canonical);
  });
  it.each(vectors.parse_error)('rejects %j', (input) => {
    expect(() => parseSelector(input)).toThrow();
  });
  it.each(vectors.match)('$sel matches $labels: $match', ({ sel, labels, match }) => {
    expect(parseSelector(sel).matches(labels)).toBe(match);
  });
});

describe('selectors beyond the vectors', () => {
  it.each([
    ['x in (b,a),y notin (c)', 'x in (a,b),y notin (c)'],
    ['x==a', 'x==a'],
    ['  a  ,  !b ', 'a,!b'],
    ['app.kubernetes.io/name=web', 'app.kubernetes.io/name=web'],
    ['x in (a,)', 'x in (,a)'],
  ])('canonical form of %j is %j', (input, canonical) => {
    expect(parseSelector(input).toString()).toBe(canonical);
  });
  it.each(['x>a', 'bad key!=1', 'x=' + 'a'.repeat(64), '-x=a'])('rejects %j', (input) => {
    expect(() => parseSelector(input)).toThrow();
  });
  it('reads the object form as LabelSelectorAsSelector does', () => {
    const sel = selectorFromObject({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['fe', 'be'] },
        { key: 'canary', operator: 'DoesNotExist' },
      ],
    });
    expect(sel.toString()).toBe('app=web,!canary,tier in (be,fe)');
    expect(sel.matches({ app: 'web', tier: 'fe' })).toBe(true);
    expect(sel.matches({ app: 'web', tier: 'fe', canary: 'x' })).toBe(false);
    expect(selectorFromObject({}).matches({ any: 'thing' })).toBe(true);
    expect(selectorFromObject(null).matches({})).toBe(false);
    expect(() => selectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] })).toThrow(
      /not a valid label selector operator/,
    );
  });
});

describe('empty value sets, as Kubernetes parses them', () => {
  it.each([
    ['x in ()', { x: '' }, true],
    ['x in ()', { x: 'a' }, false],
    ['x notin (),y', { y: '1' }, true],
    ['x notin (),y', { x: '', y: '1' }, false],
  ])('%s against %j → %s', (selector, labels, want) => {
    expect(parseSelector(selector).matches(labels)).toBe(want);
  });
});
