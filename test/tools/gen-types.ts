/**
 * Generates src/api/types.gen.ts from schemas/ with json-schema-to-typescript.
 *   node --import tsx test/tools/gen-types.ts           write the file
 *   node --import tsx test/tools/gen-types.ts --check   exit 1 when the committed file is stale
 * One synthetic root schema references every kind, so each shared definition is emitted once.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { KINDS } from '../../src/api/kinds.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const schemasDir = `${root}schemas/`;
export const TYPES_FILE = `${root}src/api/types.gen.ts`;

const BANNER = `/* eslint-disable */
/**
 * GENERATED from schemas/ by \`npm run gen:types\` (json-schema-to-typescript). Do not edit:
 * change the schema and regenerate; a test fails when this file is stale.
 */`;

export async function generateTypes(): Promise<string> {
  const rootSchema = {
    title: 'BerthObjects',
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(KINDS.map((k) => [k.kind, { $ref: k.schema }])),
  } as JSONSchema;
  const ts = await compile(rootSchema, 'BerthObjects', {
    cwd: schemasDir,
    bannerComment: BANNER,
    format: true,
    additionalProperties: false,
    declareExternallyReferenced: true,
    unreachableDefinitions: false,
    strictIndexSignatures: true,
  });
  return ts;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fresh = await generateTypes();
  if (process.argv.includes('--check')) {
    const committed = await readFile(TYPES_FILE, 'utf8').catch(() => '');
    if (committed !== fresh) {
      console.error('src/api/types.gen.ts is stale: run `npm run gen:types`');
      process.exit(1);
    }
  } else {
    await writeFile(TYPES_FILE, fresh);
    console.log(`wrote ${TYPES_FILE}`);
  }
}
