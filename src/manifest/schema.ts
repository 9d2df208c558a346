/**
 * Validation against schemas/ with ajv. Validators are compiled once per kind, on first use, so
 * a `berth validate` of one Deployment compiles one schema and its shared definitions.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isQuantity } from '../api/quantity.js';
import { KINDS } from '../api/kinds.js';

/** schemas/ sits beside src/ in the source tree and beside .build/ in the installed package. */
const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url);

let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function instance(): Ajv {
  if (ajv) return ajv;
  ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: false });
  ajv.addFormat('quantity', { type: 'string', validate: (s: string) => isQuantity(s) });
  for (const file of readdirSync(SCHEMAS_DIR)) {
    if (!file.endsWith('.json')) continue;
    ajv.addSchema(JSON.parse(readFileSync(new URL(file, SCHEMAS_DIR), 'utf8')));
  }
  return ajv;
}

export function validatorFor(kind: string): ValidateFunction {
  let v = validators.get(kind);
  if (!v) {
    const info = KINDS.find((k) => k.kind === kind);
    if (!info) throw new Error(`no schema for kind ${kind}`);
    const found = instance().getSchema(info.schema);
    if (!found) throw new Error(`schema ${info.schema} did not load`);
    v = found;
    validators.set(kind, v);
  }
  return v;
}

export function validateSchema(kind: string, obj: unknown): ErrorObject[] {
  const validate = validatorFor(kind);
  return validate(obj) ? [] : [...(validate.errors ?? [])];
}

/** Compiles every kind's validator now (worker threads do this once, up front). */
export function warmValidators(): void {
  for (const k of KINDS) validatorFor(k.kind);
}
