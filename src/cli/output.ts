/** Output formats shared by every command: `-o text|json|yaml`. */
import { stringify } from 'yaml';
import { BerthError } from '../api/errors.js';

/** Where a command writes: stdout and stderr (tests pass their own). */
export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new BerthError(
    'Usage',
    `unknown output format ${JSON.stringify(value)}: use one of ${OUTPUT_FORMATS.join(', ')}`,
  );
}

export function renderStructured(format: 'json' | 'yaml', value: unknown): string {
  return format === 'json' ? JSON.stringify(value, null, 2) + '\n' : stringify(value);
}
