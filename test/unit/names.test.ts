import { describe, expect, it } from 'vitest';
import {
  dns1035Label,
  dns1123Label,
  dns1123Subdomain,
  ianaServiceName,
  labelValue,
  qualifiedName,
} from '../../src/api/index.js';

const table: [string, (v: string) => string[], string, boolean][] = [
  ['dns1123Label', dns1123Label, 'my-name', true],
  ['dns1123Label', dns1123Label, '123-abc', true],
  ['dns1123Label', dns1123Label, 'My-Name', false],
  ['dns1123Label', dns1123Label, '-x', false],
  ['dns1123Label', dns1123Label, 'a'.repeat(64), false],
  ['dns1123Subdomain', dns1123Subdomain, 'example.com', true],
  ['dns1123Subdomain', dns1123Subdomain, 'a..b', false],
  ['dns1035Label', dns1035Label, 'web-1', true],
  ['dns1035Label', dns1035Label, '1web', false],
  ['qualifiedName', qualifiedName, 'app.kubernetes.io/name', true],
  ['qualifiedName', qualifiedName, 'MyName', true],
  ['qualifiedName', qualifiedName, '/name', false],
  ['qualifiedName', qualifiedName, 'a/b/c', false],
  ['qualifiedName', qualifiedName, 'bad key', false],
  ['labelValue', labelValue, '', true],
  ['labelValue', labelValue, 'v1.2_3-x', true],
  ['labelValue', labelValue, '-v', false],
  ['ianaServiceName', ianaServiceName, 'http', true],
  ['ianaServiceName', ianaServiceName, 'http-alt2', true],
  ['ianaServiceName', ianaServiceName, '8080', false],
  ['ianaServiceName', ianaServiceName, 'a--b', false],
  ['ianaServiceName', ianaServiceName, 'much-too-long-name', false],
];

describe('Kubernetes name syntax', () => {
  it.each(table)('%s(%j) valid: %s', (_, check, value, valid) => {
    expect(check(value).length === 0).toBe(valid);
  });
});
