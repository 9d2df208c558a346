/** Output formats shared by every command: `-o text|json|yaml`. */
import { stringify } from 'yaml';
import { BerthError } from '../api/errors.js';

/** Where a command writes: stdout and stderr (tests pass their own). */
export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** stdout is a terminal that takes colour (not NO_COLOR). */
  color?: boolean;
}

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const CYAN = '\x1b[36m';
const RESET = '\x1b[0m';

/** A diff's lines coloured as git colours them: added green, removed red, headers cyan. */
export function colorDiff(text: string): string {
  return text
    .split('\n')
    .map((l) =>
      l.startsWith('+')
        ? `${GREEN}${l}${RESET}`
        : l.startsWith('-')
          ? `${RED}${l}${RESET}`
          : l.startsWith('±') || l.startsWith('@@')
            ? `${CYAN}${l}${RESET}`
            : l,
    )
    .join('\n');
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
