/**
 * Kubernetes field selectors (k8s.io/apimachinery/pkg/fields): `a=b`, `a==b`, `a!=b`, joined by
 * commas; `\,` `\=` `\\` escape. Each kind supports a few fields; Berth supports Kubernetes' pod
 * fields and a Secret's type on every kind (absent fields read as "").
 */
import { BerthError } from './errors.js';

export const SELECTABLE_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'status.phase',
  // The rest of Kubernetes' pod field labels, and a Secret's type.
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'status.podIP',
  'status.nominatedNodeName',
  'type',
] as const;
export type SelectableField = (typeof SELECTABLE_FIELDS)[number];

export interface FieldRequirement {
  readonly field: SelectableField;
  readonly operator: '=' | '!=';
  readonly value: string;
}

export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  matches(obj: unknown): boolean;
  toString(): string;
  /** The value required by an `=` term on the field, when there is one (for indexed lookups). */
  exact(field: SelectableField): string | undefined;
}

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const unescape = (s: string): string => s.replace(/\\(.)/g, '$1');

export function fieldValue(obj: unknown, field: SelectableField): string {
  let cur: unknown = obj;
  for (const part of field.split('.'))
    cur = cur != null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  return typeof cur === 'string' ? cur : '';
}

export function parseFieldSelector(input: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  for (const term of input.trim() === '' ? [] : splitUnescaped(input, ',')) {
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(term);
    if (!m)
      throw new BerthError(
        'Invalid',
        `invalid field selector ${JSON.stringify(input)}: ${JSON.stringify(term)} is not field=value, field==value or field!=value`,
      );
    const field = m[1]!.trim();
    if (!(SELECTABLE_FIELDS as readonly string[]).includes(field)) {
      throw new BerthError(
        'Invalid',
        `field label not supported: ${field} (supported: ${SELECTABLE_FIELDS.join(', ')})`,
      );
    }
    requirements.push({
      field: field as SelectableField,
      operator: m[2] === '!=' ? '!=' : '=',
      value: unescape(m[3]!.trim()),
    });
  }
  return {
    requirements,
    matches: (obj) => requirements.every((r) => (fieldValue(obj, r.field) === r.value) === (r.operator === '=')),
    toString: () => requirements.map((r) => `${r.field}${r.operator}${r.value.replace(/([\\,=])/g, '\\$1')}`).join(','),
    exact: (field) => requirements.find((r) => r.field === field && r.operator === '=')?.value,
  };
}
