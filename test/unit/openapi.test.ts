/** schemas/ as OpenAPI v3 components: what kubectl explain walks. */
import { describe, expect, it } from 'vitest';
import { KINDS } from '../../src/api/kinds.js';
import { openapiSchemas } from '../../src/manifest/openapi.js';

describe('OpenAPI components from schemas/', () => {
  const all = openapiSchemas(KINDS) as Record<string, any>;
  it('every kind has a component with its group-version-kind', () => {
    for (const k of KINDS) {
      expect(all[k.schema.replace(/\.json$/, '')]['x-kubernetes-group-version-kind'], k.kind).toEqual([
        { group: k.group, version: k.version, kind: k.kind },
      ]);
    }
  });
  it('every $ref points at a component that exists', () => {
    const refs: string[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object')
        for (const [k, v] of Object.entries(n)) k === '$ref' ? refs.push(v as string) : walk(v);
    };
    walk(all);
    expect(refs.length).toBeGreaterThan(100);
    expect(refs.filter((r) => !all[r.replace('#/components/schemas/', '')])).toEqual([]);
  });
  it('a union type becomes one type: int-or-string as Kubernetes writes it', () => {
    expect(all['meta.IntOrString']).toMatchObject({
      type: 'string',
      format: 'int-or-string',
      'x-kubernetes-int-or-string': true,
    });
    const types: unknown[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object')
        for (const [k, v] of Object.entries(n)) k === 'type' && typeof v !== 'object' ? types.push(v) : walk(v);
    };
    walk(all);
    expect(types.every((t) => typeof t === 'string')).toBe(true);
  });
});
