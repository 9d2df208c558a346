/**
 * 10,000 random and mutated inputs through the loader: it must never throw, and every
 * diagnostic it returns must be well-formed. Seeded, so a failure reproduces.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFile } from '../../src/manifest/index.js';
import { CORPUS, REPO_ROOT } from '../shared.js';

function rng(seed: number): () => number {
  // mulberry32
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : /\.(ya?ml|json)$/.test(name) ? [full] : [];
  });
}

const TOKENS = [
  'apiVersion: ',
  'kind: ',
  'metadata:',
  'name: ',
  'spec:',
  '  ',
  '- ',
  '---\n',
  '\n',
  ': ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '&a ',
  '*a',
  '<<: ',
  '!!str ',
  '"',
  "'",
  '|',
  '>',
  '#',
  '0644',
  'yes',
  '~',
  'null',
  'Deployment',
  'apps/v1',
  'v1',
  'Service',
  'Ingress',
  'containers:',
  'image: x',
  '{{ .x }}',
  '\t',
  '\u0000',
  '%YAML 1.1\n',
  '...\n',
  '? ',
  'replicas: ',
  '-1',
  '1e999',
  '9'.repeat(30),
];

describe('loader fuzzing', () => {
  it('never throws on 10,000 random and mutated inputs', () => {
    const seeds = [...files(CORPUS), ...files(`${REPO_ROOT}test/fixtures/manifests`)].map((f) => readFileSync(f));
    const random = rng(20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const inputs: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      const mode = i % 5;
      if (mode === 0) {
        inputs.push(Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => pick(TOKENS)).join('')));
      } else if (mode === 1) {
        inputs.push(Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256))));
      } else {
        const base = Buffer.from(pick(seeds));
        const lines = base.toString('utf8').split('\n');
        const edits = 1 + Math.floor(random() * 4);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(random() * lines.length);
          const op = Math.floor(random() * 5);
          if (op === 0) lines.splice(at, 1);
          else if (op === 1) lines.splice(at, 0, lines[Math.floor(random() * lines.length)] ?? '');
          else if (op === 2) lines[at] = (lines[at] ?? '').slice(0, Math.floor(random() * 40)) + pick(TOKENS);
          else if (op === 3) lines[at] = ' '.repeat(Math.floor(random() * 6)) + (lines[at] ?? '').trimStart();
          else lines.length = Math.max(1, at);
        }
        inputs.push(Buffer.from(lines.join('\n')));
      }
    }
    let diagnostics = 0;
    inputs.forEach((bytes, i) => {
      let result;
      try {
        result = loadFile({ path: `fuzz-${i}.yaml`, bytes }, { strict: i % 2 === 0, defaultNamespace: 'default' });
      } catch (e) {
        throw new Error(
          `input ${i} threw: ${(e as Error).stack}\n--- input ---\n${bytes.toString('utf8').slice(0, 2000)}`,
        );
      }
      for (const d of result.diagnostics) {
        diagnostics++;
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.column).toBeGreaterThanOrEqual(1);
        expect(d.message.length).toBeGreaterThan(0);
      }
    });
    expect(inputs.length).toBe(10_000);
    expect(diagnostics).toBeGreaterThan(1000);
  }, 120_000);
});
