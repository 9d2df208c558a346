/** What the pages print: ages, durations, YAML for reading (not for parsing back). */

export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  return duration(now - Date.parse(iso));
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export const short = (revision: string | undefined) => (revision ?? '').slice(0, 7);

const PLAIN = /^[A-Za-z_/.][\w ./-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s.includes('\n')) return `|\n${s.replace(/\n$/, '').replace(/^/gm, '  ')}`;
  return PLAIN.test(s) && !RESERVED.test(s) && !s.endsWith(' ') ? s : JSON.stringify(s);
}

/** YAML as kubectl prints it, near enough to read; block strings indented under their key. */
export function toYaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return v
      .map((item) => {
        const inner = toYaml(item, `${indent}  `);
        return `${indent}- ${isBlock(item) ? inner.trimStart() : inner.replace(/\n {2}/g, `\n${indent}  `)}`;
      })
      .join('\n');
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (!entries.length) return '{}';
    return entries
      .map(([k, value]) => {
        const key = `${indent}${PLAIN.test(k) ? k : JSON.stringify(k)}:`;
        if (isBlock(value)) return `${key}\n${toYaml(value, Array.isArray(value) ? indent : `${indent}  `)}`;
        const text = toYaml(value); // a scalar, {} or []
        return `${key} ${text.replace(/\n/g, `\n${indent}`)}`;
      })
      .join('\n');
  }
  return scalar(v);
}

const isBlock = (v: unknown) =>
  Array.isArray(v) ? v.length > 0 : !!v && typeof v === 'object' && Object.keys(v).length > 0;
