/** Encryption at rest, the pure part: the EncryptionConfiguration, its providers and the stored format. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ENCRYPTED_PREFIX,
  ValueTransformer,
  newEncryptionConfigText,
  parseEncryptionConfig,
} from '../../src/store/encryption.js';

const key = (bytes = 32) => randomBytes(bytes).toString('base64');
const config = (providers: string, resources = '[secrets]') => `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: ${resources}
    providers:
${providers}`;
const aesgcm = (name: string, secret = key()) =>
  `      - aesgcm:\n          keys:\n            - {name: ${name}, secret: ${secret}}\n`;
const secretbox = (name: string, secret = key()) =>
  `      - secretbox:\n          keys:\n            - {name: ${name}, secret: ${secret}}\n`;
const identity = '      - identity: {}\n';
const transformer = (text: string) => new ValueTransformer(parseEncryptionConfig(text, 'enc.yaml'));
const SECRET_KEY = 'core/Secret/default/db';
const VALUE = JSON.stringify({ kind: 'Secret', data: { password: 'aHVudGVyMg==' } });

describe('EncryptionConfiguration', () => {
  it.each([
    ['not YAML', 'a: [', /enc\.yaml: \(yaml\)/],
    [
      'another kind',
      'apiVersion: v1\nkind: ConfigMap\nresources: []',
      /enc\.yaml:2: kind: expected EncryptionConfiguration/,
    ],
    [
      'no resources',
      'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []',
      /resources: lists no resources/,
    ],
    ['an unknown resource', config(identity, '[gadgets]'), /"gadgets" is not a resource Berth serves/],
    [
      'no providers',
      config('      []\n').replace('providers:\n      []', 'providers: []'),
      /providers: lists no providers/,
    ],
    [
      'aescbc',
      config('      - aescbc: {keys: [{name: k, secret: abc}]}\n'),
      /"aescbc" is not supported.*padding oracles/,
    ],
    ['kms', config('      - kms: {name: x}\n'), /"kms" is not supported/],
    [
      'a short aesgcm key',
      config(aesgcm('k1', key(8))),
      /keys\[0\]\.secret \(key "k1"\) must be 16, 24, 32 bytes.*it is 8/,
    ],
    ['a short secretbox key', config(secretbox('k1', key(16))), /must be 32 bytes/],
    ['a key name with a colon', config(aesgcm('a:b')), /name must be a non-empty name without ':'/],
    ['two providers in one entry', config('      - {identity: {}, aesgcm: {keys: []}}\n'), /names 2 providers/],
  ])('refuses %s, naming the file and field', (_, text, message) => {
    expect(() => parseEncryptionConfig(text, 'enc.yaml')).toThrow(message);
  });

  it('a new configuration writes with a fresh 32-byte aesgcm key and still reads plaintext', () => {
    const text = newEncryptionConfigText('k1');
    const t = transformer(text);
    expect(t.writerOf(SECRET_KEY)).toBe('aesgcm:k1');
    expect(t.fromStorage(SECRET_KEY, VALUE)).toBe(VALUE);
    expect(newEncryptionConfigText()).not.toBe(text);
  });
});

describe('stored values', () => {
  it.each([
    ['aesgcm 32-byte key', aesgcm('k1')],
    ['aesgcm 16-byte key', aesgcm('k1', key(16))],
    ['aesgcm 24-byte key', aesgcm('k1', key(24))],
    ['secretbox', secretbox('k1')],
  ])('%s: stored as k8s:enc:<provider>:v1:<key>:…, never the plaintext, and read back', (_, providers) => {
    const t = transformer(config(providers));
    const stored = t.toStorage(SECRET_KEY, VALUE);
    const provider = providers.includes('aesgcm') ? 'aesgcm' : 'secretbox';
    expect(stored.startsWith(`${ENCRYPTED_PREFIX}${provider}:v1:k1:`)).toBe(true);
    expect(stored).not.toContain('aHVudGVyMg');
    expect(stored).not.toContain('password');
    expect(t.fromStorage(SECRET_KEY, stored)).toBe(VALUE);
    // A random nonce: the same value never encrypts the same way twice.
    expect(t.toStorage(SECRET_KEY, VALUE)).not.toBe(stored);
  });

  it('aesgcm binds a value to its store key: moved under another key, it does not decrypt', () => {
    const t = transformer(config(aesgcm('k1')));
    const stored = t.toStorage(SECRET_KEY, VALUE);
    expect(() => t.fromStorage('core/Secret/default/other', stored)).toThrow(/does not decrypt it/);
  });

  it('a tampered ciphertext is refused, never returned', () => {
    const t = transformer(config(aesgcm('k1')));
    const stored = t.toStorage(SECRET_KEY, VALUE);
    const i = stored.length - 10;
    const flipped = stored.slice(0, i) + (stored[i] === 'A' ? 'B' : 'A') + stored.slice(i + 1);
    expect(() => t.fromStorage(SECRET_KEY, flipped)).toThrow(/aesgcm key "k1" does not decrypt it .*tampered/);
  });

  it('reads with every key it has, by the name stored; a missing key is named', () => {
    const old = key();
    const before = transformer(config(aesgcm('old', old)));
    const stored = before.toStorage(SECRET_KEY, VALUE);
    // Rotation step 2: the new key writes, the old one still reads.
    const rotated = transformer(config(aesgcm('new') + aesgcm('old', old)));
    expect(rotated.fromStorage(SECRET_KEY, stored)).toBe(VALUE);
    expect(rotated.toStorage(SECRET_KEY, VALUE)).toMatch(/^k8s:enc:aesgcm:v1:new:/);
    // Step 4 too early: the old key dropped before every value was rewritten.
    const dropped = transformer(config(aesgcm('new')));
    expect(() => dropped.fromStorage(SECRET_KEY, stored)).toThrow(
      'cannot read core/Secret/default/db from the store: it is encrypted with aesgcm key "old", which the encryption configuration does not have',
    );
  });

  it('plaintext is read only where identity is a provider', () => {
    expect(transformer(config(aesgcm('k1') + identity)).fromStorage(SECRET_KEY, VALUE)).toBe(VALUE);
    expect(() => transformer(config(aesgcm('k1'))).fromStorage(SECRET_KEY, VALUE)).toThrow(
      /stored unencrypted.*no identity provider/,
    );
    // identity first: written in plaintext, encrypted values still read (decrypting a store).
    const k = key();
    const stored = transformer(config(aesgcm('k1', k))).toStorage(SECRET_KEY, VALUE);
    const decrypting = transformer(config(identity + aesgcm('k1', k)));
    expect(decrypting.toStorage(SECRET_KEY, VALUE)).toBe(VALUE);
    expect(decrypting.fromStorage(SECRET_KEY, stored)).toBe(VALUE);
  });

  it.each([
    ['[secrets]', { 'core/Secret/a/b': true, 'core/ConfigMap/a/b': false, 'apps/Deployment/a/b': false }],
    ['[secrets, configmaps]', { 'core/Secret/a/b': true, 'core/ConfigMap/a/b': true, 'apps/Deployment/a/b': false }],
    ['["*.apps"]', { 'core/Secret/a/b': false, 'apps/Deployment/a/b': true, 'apps/StatefulSet/a/b': true }],
    ['[deployments.apps]', { 'apps/Deployment/a/b': true, 'apps/StatefulSet/a/b': false }],
    ['["*.*"]', { 'core/Secret/a/b': true, 'apps/Deployment/a/b': true, 'berth.dev/Application/a/b': true }],
  ])('resources %s select the store keys they name', (resources, expected) => {
    const t = transformer(config(aesgcm('k1'), resources));
    for (const [storeKey, encrypted] of Object.entries(expected))
      expect([storeKey, t.encrypts(storeKey)]).toEqual([storeKey, encrypted]);
  });
});
