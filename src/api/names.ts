import { randomInt } from 'node:crypto';
/**
 * Kubernetes name and label syntax (k8s.io/apimachinery/pkg/util/validation). Each check returns
 * the list of problems, empty when the input is valid, so callers can attach them to a field.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])*$/;
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;

/** A check of a maximum length and a pattern, as Kubernetes' validation functions make them. */
function lengthAndPattern(max: number, pattern: RegExp, explanation: string): (value: string) => string[] {
  return (value) => {
    const errs: string[] = [];
    if (value.length > max) errs.push(`must be no more than ${max} characters`);
    if (!pattern.test(value)) errs.push(explanation);
    return errs;
  };
}

export const dns1123Label = lengthAndPattern(
  63,
  DNS1123_LABEL,
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')",
);

export const dns1123Subdomain = lengthAndPattern(
  253,
  DNS1123_SUBDOMAIN,
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')",
);

export const dns1035Label = lengthAndPattern(
  63,
  DNS1035_LABEL,
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')",
);

export const labelValue = lengthAndPattern(
  63,
  LABEL_VALUE,
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345')",
);

/** A label or annotation key: an optional DNS subdomain prefix and '/', then a name of ≤ 63. */
export function qualifiedName(value: string): string[] {
  const parts = value.split('/');
  let name = value;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix = '', rest = ''] = parts;
    name = rest;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...dns1123Subdomain(prefix).map((e) => `prefix part ${e}`));
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !QUALIFIED_NAME.test(name)) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')",
    );
  }
  return errs;
}

/** Port names (IANA service names): ≤ 15 characters, at least one letter, no '--'. */
export function ianaServiceName(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 15) errs.push('must be no more than 15 characters');
  if (!IANA_SVC_NAME.test(value))
    errs.push(
      "must contain only lower case alphanumeric characters or '-', and start and end with an alphanumeric character",
    );
  if (value.includes('--')) errs.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(value)) errs.push('must contain at least one letter (a-z)');
  return errs;
}

export function configMapKey(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!CONFIG_MAP_KEY.test(value))
    errs.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name')",
    );
  if (value === '.' || value === '..' || value.startsWith('..'))
    errs.push("must not be '.' or '..' or start with '..'");
  return errs;
}

/** The characters Kubernetes' rand.String draws from (no vowels, no look-alikes). */
export const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** A random name suffix, as Kubernetes makes them for generateName and controllers' pods. */
export function randomSuffix(length = 5): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHANUMS[randomInt(ALPHANUMS.length)];
  return s;
}
