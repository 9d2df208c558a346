/**
 * Encryption at rest, in the shape of Kubernetes' EncryptionConfiguration: which kinds are
 * encrypted, by which providers and keys. The first provider's first key writes; every provider and
 * key is tried on read, by the name stored with the value. Values are stored as
 * `k8s:enc:<provider>:v1:<key name>:<base64 of the ciphertext>` (Kubernetes stores the bytes raw;
 * Berth's drivers store text). With aesgcm the store key is the authenticated data, so a
 * ciphertext moved under another key does not decrypt (as the apiserver's storage/etcd3 does).
 *
 * Pure: text in, transformer out; no file or store is touched here.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { secretbox } from '@noble/ciphers/salsa.js';
import { parseDocument } from 'yaml';
import { BerthError } from '../api/errors.js';
import { KINDS } from '../api/kinds.js';

export const ENCRYPTED_PREFIX = 'k8s:enc:';
const GCM_NONCE = 12;
const GCM_TAG = 16;
const SECRETBOX_NONCE = 24;

type CipherProvider = { type: 'aesgcm' | 'secretbox'; keys: { name: string; secret: Buffer }[] };
export type Provider = CipherProvider | { type: 'identity' };

export interface EncryptionRule {
  /** As written: `secrets`, `deployments.apps`, `*.apps`, `*.*`. */
  resources: string[];
  providers: Provider[];
}

export interface EncryptionConfig {
  rules: EncryptionRule[];
}

/** Reads an EncryptionConfiguration (apiserver.config.k8s.io/v1); `file` names it in errors. */
export function parseEncryptionConfig(text: string, file: string): EncryptionConfig {
  const fail = (field: string, why: string, line?: number): never => {
    throw new BerthError('Usage', `${file}${line ? `:${line}` : ''}: ${field}: ${why}`);
  };
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) fail('(yaml)', doc.errors[0]!.message);
  const lineOf = (path: (string | number)[]): number | undefined => {
    const node = doc.getIn(path, true) as { range?: [number] } | undefined;
    return node?.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
  };
  const root = doc.toJS() as Record<string, unknown> | null;
  if (!root || typeof root !== 'object') return fail('(document)', 'expected an EncryptionConfiguration');
  if (root.kind !== 'EncryptionConfiguration')
    fail('kind', `expected EncryptionConfiguration, found ${JSON.stringify(root.kind)}`, lineOf(['kind']));
  if (root.apiVersion !== 'apiserver.config.k8s.io/v1')
    fail(
      'apiVersion',
      `expected apiserver.config.k8s.io/v1, found ${JSON.stringify(root.apiVersion)}`,
      lineOf(['apiVersion']),
    );
  if (!Array.isArray(root.resources) || root.resources.length === 0)
    fail('resources', 'lists no resources', lineOf(['resources']));
  const rules = (root.resources as unknown[]).map((r, i): EncryptionRule => {
    const at = `resources[${i}]`;
    const rule = r as { resources?: unknown; providers?: unknown };
    if (!Array.isArray(rule.resources) || !rule.resources.every((x) => typeof x === 'string') || !rule.resources.length)
      fail(
        `${at}.resources`,
        'must be a list of resource names (secrets, configmaps, deployments.apps, *.apps)',
        lineOf(['resources', i]),
      );
    for (const name of rule.resources as string[]) resourceMatcher(name, `${file}: ${at}.resources`);
    if (!Array.isArray(rule.providers) || rule.providers.length === 0)
      fail(`${at}.providers`, 'lists no providers', lineOf(['resources', i]));
    const providers = (rule.providers as unknown[]).map((p, j) =>
      parseProvider(p, `${at}.providers[${j}]`, (why) =>
        fail(`${at}.providers[${j}]`, why, lineOf(['resources', i, 'providers', j])),
      ),
    );
    return { resources: rule.resources as string[], providers };
  });
  return { rules };
}

function parseProvider(p: unknown, at: string, fail: (why: string) => never): Provider {
  if (!p || typeof p !== 'object') return fail('expected one of aesgcm, secretbox, identity');
  const names = Object.keys(p);
  if (names.length !== 1) return fail(`names ${names.length} providers: one per list entry`);
  const type = names[0]!;
  if (type === 'identity') return { type };
  if (type !== 'aesgcm' && type !== 'secretbox')
    return fail(
      `provider ${JSON.stringify(type)} is not supported: use aesgcm, secretbox or identity${type === 'aescbc' ? ' (aescbc is weak against padding oracles; Kubernetes advises against it)' : ''}`,
    );
  const keys = ((p as Record<string, { keys?: unknown }>)[type] ?? {}).keys;
  if (!Array.isArray(keys) || keys.length === 0) return fail(`${type}.keys lists no keys`);
  const seen = new Set<string>();
  return {
    type,
    keys: keys.map((k: { name?: unknown; secret?: unknown }, i) => {
      if (typeof k?.name !== 'string' || !k.name || k.name.includes(':'))
        return fail(`${type}.keys[${i}].name must be a non-empty name without ':'`);
      if (seen.has(k.name)) return fail(`${type}.keys[${i}].name ${JSON.stringify(k.name)} is used twice`);
      seen.add(k.name);
      const secret = typeof k.secret === 'string' ? Buffer.from(k.secret, 'base64') : Buffer.alloc(0);
      const sizes = type === 'aesgcm' ? [16, 24, 32] : [32];
      if (!sizes.includes(secret.length))
        return fail(
          `${type}.keys[${i}].secret (key ${JSON.stringify(k.name)}) must be ${sizes.join(', ')} bytes, base64-encoded; it is ${secret.length}`,
        );
      return { name: k.name, secret };
    }),
  };
}

/** `secrets` → its store key prefix; `*.apps` → the group's; `*.*` → every key. */
function resourceMatcher(name: string, where: string): string {
  if (name === '*.*') return '';
  const dot = name.indexOf('.');
  const [resource, group] = dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot + 1)];
  if (resource === '*') return `${group || 'core'}/`;
  const info = KINDS.find((k) => k.plural === resource && k.group === group);
  if (!info) throw new BerthError('Usage', `${where}: ${JSON.stringify(name)} is not a resource Berth serves`);
  return `${group || 'core'}/${info.kind}/`;
}

/** A fresh configuration: one new 32-byte aesgcm key writing, identity last (values written before stay readable). */
export function newEncryptionConfigText(keyName = `key-${new Date().toISOString().slice(0, 10)}`): string {
  return `# Berth's encryption at rest (Kubernetes' EncryptionConfiguration). Back this file up apart
# from the store: without its key the encrypted values in the store and its backups cannot be read.
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys:
            - name: ${keyName}
              secret: ${randomBytes(32).toString('base64')}
      - identity: {}
`;
}

/** Encrypts and decrypts stored values by their store key. */
export class ValueTransformer {
  private readonly matchers: { prefix: string; rule: EncryptionRule }[];

  constructor(readonly config: EncryptionConfig) {
    this.matchers = config.rules.flatMap((rule) =>
      rule.resources.map((r) => ({ prefix: resourceMatcher(r, 'encryption configuration'), rule })),
    );
  }

  /** The rule for a store key: the first that names its resource, as Kubernetes picks. */
  private ruleFor(key: string): EncryptionRule | undefined {
    return this.matchers.find((m) => key.startsWith(m.prefix))?.rule;
  }

  /** The store key prefixes the configuration names ('' for every key). */
  prefixes(): string[] {
    const all = [...new Set(this.matchers.map((m) => m.prefix))];
    return all.includes('') ? [''] : all;
  }

  /** True when values under this key are written encrypted. */
  encrypts(key: string): boolean {
    const first = this.ruleFor(key)?.providers[0];
    return first !== undefined && first.type !== 'identity';
  }

  /** What a key's writing provider and key are called: `aesgcm:key1`, or `identity`. */
  writerOf(key: string): string {
    const first = this.ruleFor(key)?.providers[0];
    return !first || first.type === 'identity' ? 'identity' : `${first.type}:${first.keys[0]!.name}`;
  }

  toStorage(key: string, value: string): string {
    const first = this.ruleFor(key)?.providers[0];
    if (!first || first.type === 'identity') return value;
    const k = first.keys[0]!;
    const sealed = seal(first.type, k.secret, Buffer.from(value, 'utf8'), key);
    return `${ENCRYPTED_PREFIX}${first.type}:v1:${k.name}:${sealed.toString('base64')}`;
  }

  /** The stored value in plaintext; throws (never returns ciphertext or a guess) when it cannot. */
  fromStorage(key: string, stored: string): string {
    if (!stored.startsWith(ENCRYPTED_PREFIX)) {
      const rule = this.ruleFor(key);
      if (rule && !rule.providers.some((p) => p.type === 'identity'))
        throw unreadable(
          key,
          'it is stored unencrypted and the encryption configuration has no identity provider for it',
        );
      return stored;
    }
    const [type, version, name, data] = splitStored(stored);
    if (version !== 'v1' || (type !== 'aesgcm' && type !== 'secretbox'))
      throw unreadable(key, `it is stored as ${JSON.stringify(`${type}:${version}`)}, which Berth does not know`);
    // Its own rule's providers first; a kind moved out of the configuration still reads by name.
    const rules = [this.ruleFor(key), ...this.config.rules].filter((r): r is EncryptionRule => Boolean(r));
    for (const rule of rules)
      for (const p of rule.providers) {
        if (p.type !== type) continue;
        const k = p.keys.find((x) => x.name === name);
        if (!k) continue;
        const opened = open(type, k.secret, Buffer.from(data, 'base64'), key);
        if (opened === undefined)
          throw unreadable(
            key,
            `${type} key ${JSON.stringify(name)} does not decrypt it (a wrong key, or the value was tampered with)`,
          );
        return opened.toString('utf8');
      }
    throw unreadable(
      key,
      `it is encrypted with ${type} key ${JSON.stringify(name)}, which the encryption configuration does not have`,
    );
  }
}

function splitStored(stored: string): [string, string, string, string] {
  const rest = stored.slice(ENCRYPTED_PREFIX.length);
  const parts: string[] = [];
  let at = 0;
  for (let i = 0; i < 3; i++) {
    const colon = rest.indexOf(':', at);
    if (colon < 0) return ['', '', '', ''];
    parts.push(rest.slice(at, colon));
    at = colon + 1;
  }
  return [parts[0]!, parts[1]!, parts[2]!, rest.slice(at)];
}

function unreadable(key: string, why: string): BerthError {
  return new BerthError('Internal', `cannot read ${key} from the store: ${why}`);
}

/**
 * Random nonces drawn from a pool filled 4 KiB at a time: a call to randomBytes costs about as
 * much as the encryption itself (6 µs here), and every slice is still used once only.
 */
let randomPool = Buffer.alloc(0);
let randomAt = 0;
function randomNonce(bytes: number): Buffer {
  if (randomAt + bytes > randomPool.length) {
    randomPool = randomBytes(4096);
    randomAt = 0;
  }
  randomAt += bytes;
  return randomPool.subarray(randomAt - bytes, randomAt);
}

function seal(type: CipherProvider['type'], secret: Buffer, plain: Buffer, aad: string): Buffer {
  if (type === 'secretbox') {
    // NaCl's secretbox (XSalsa20-Poly1305) takes no authenticated data: Kubernetes' neither.
    const nonce = randomNonce(SECRETBOX_NONCE);
    return Buffer.concat([nonce, secretbox(secret, nonce).seal(plain)]);
  }
  const nonce = randomNonce(GCM_NONCE);
  const cipher = createCipheriv(`aes-${secret.length * 8}-gcm` as 'aes-256-gcm', secret, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function open(type: CipherProvider['type'], secret: Buffer, data: Buffer, aad: string): Buffer | undefined {
  try {
    if (type === 'secretbox') {
      if (data.length < SECRETBOX_NONCE + 16) return undefined;
      return Buffer.from(secretbox(secret, data.subarray(0, SECRETBOX_NONCE)).open(data.subarray(SECRETBOX_NONCE)));
    }
    if (data.length < GCM_NONCE + GCM_TAG) return undefined;
    const decipher = createDecipheriv(
      `aes-${secret.length * 8}-gcm` as 'aes-256-gcm',
      secret,
      data.subarray(0, GCM_NONCE),
    );
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - GCM_TAG));
    return Buffer.concat([decipher.update(data.subarray(GCM_NONCE, data.length - GCM_TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}
