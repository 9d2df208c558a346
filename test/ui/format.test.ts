/** The dashboard's printing helpers (its browser code, pure): ages and YAML as the pages show them. */
import { describe, expect, it } from 'vitest';
import { age, duration, short, toYaml } from '../../src/ui/web/format.js';

describe('dashboard formatting', () => {
  it.each([
    [0, '0s'],
    [59_400, '59s'],
    [60_000, '1m'],
    [95_000, '1m35s'],
    [3_600_000, '1h0m'],
    [7_260_000, '2h1m'],
    [90_000_000, '1d1h'],
    [-5000, '0s'],
  ])('duration(%i) is %s', (ms, text) => expect(duration(ms)).toBe(text));

  it('ages count from now; a revision is shortened to 7', () => {
    expect(age('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:02:00Z'))).toBe('2m');
    expect(age(undefined)).toBe('');
    expect(short('0123456789abcdef')).toBe('0123456');
  });

  it('prints YAML a reader takes for what the object holds', () => {
    const yaml = toYaml({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'web' }, annotations: {} },
      data: { yes: 'yes', one: '1', colon: 'a: b', text: 'line 1\nline 2\n', empty: '' },
      list: [{ name: 'a', ports: [80, 443] }, 'plain', []],
      flag: true,
      none: null,
    });
    expect(yaml).toBe(
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: x',
        '  labels:',
        '    app.kubernetes.io/name: web',
        '  annotations: {}',
        'data:',
        '  yes: "yes"',
        '  one: "1"',
        '  colon: "a: b"',
        '  text: |',
        '    line 1',
        '    line 2',
        '  empty: ""',
        'list:',
        '- name: a',
        '  ports:',
        '  - 80',
        '  - 443',
        '- plain',
        '- []',
        'flag: true',
        'none: null',
      ].join('\n'),
    );
  });
});
