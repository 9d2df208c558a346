import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseQuantity } from '../../src/api/index.js';
import { TESTDATA } from '../shared.js';

const vectors = JSON.parse(readFileSync(`${TESTDATA}/quantities.json`, 'utf8')) as {
  parse: [string, string, string][];
  parse_error: string[];
  canonical: [string, string][];
  compare: [string, string, number][];
};

describe('parseQuantity against Kubernetes vectors', () => {
  it.each(vectors.parse)('parses %j to %s (%s)', (input, value, format) => {
    const q = parseQuantity(input);
    expect(q.value).toBe(value);
    expect(q.format).toBe(format);
  });
  it.each(vectors.parse_error)('rejects %j', (input) => {
    expect(() => parseQuantity(input)).toThrow(/invalid quantity/);
  });
  it.each(vectors.canonical)('canonicalises %j as %j', (input, canonical) => {
    expect(parseQuantity(input).toString()).toBe(canonical);
  });
  it.each(vectors.compare)('compares %j with %j as %i', (a, b, want) => {
    expect(parseQuantity(a).cmp(parseQuantity(b))).toBe(want);
  });
});

describe('parseQuantity beyond the vectors', () => {
  it.each([
    [1, '1'],
    [0.5, '500m'],
    [100, '100'],
    ['-1.5Gi', '-1536Mi'],
    ['1500m', '1500m'],
    ['2000m', '2'],
    ['1e1', '10'],
  ] as const)('%j → %s', (input, canonical) => {
    expect(parseQuantity(input).toString()).toBe(canonical);
  });
  it('gives millicores and bytes rounded up', () => {
    expect(parseQuantity('250m').milliValue()).toBe(250n);
    expect(parseQuantity('1.5').milliValue()).toBe(1500n);
    expect(parseQuantity('1Mi').intValue()).toBe(1048576n);
    expect(parseQuantity('1n').milliValue()).toBe(1n);
  });
  it('refuses absurd exponents instead of expanding them', () => {
    expect(() => parseQuantity('1e999999')).toThrow(/out of range/);
  });
});

describe('a fractional binary amount', () => {
  it('0.000000000001Ki rounds up to 2n and reads as DecimalSI, as Kubernetes', () => {
    const q = parseQuantity('0.000000000001Ki');
    expect({ text: q.toString(), format: q.format }).toEqual({ text: '2n', format: 'DecimalSI' });
    expect(parseQuantity('1.5Ki').format).toBe('BinarySI');
  });
});
