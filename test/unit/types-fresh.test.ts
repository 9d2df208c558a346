import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateTypes, TYPES_FILE } from '../tools/gen-types.js';

describe('generated types', () => {
  it('src/api/types.gen.ts is what schemas/ generates (run `npm run gen:types` when this fails)', async () => {
    expect(readFileSync(TYPES_FILE, 'utf8')).toBe(await generateTypes());
  }, 30_000);
});
