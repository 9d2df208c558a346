/**
 * SOPS files as Flux's kustomize-controller reads them: a YAML or JSON file whose documents carry
 * a `sops` block with the data key encrypted for age recipients. Decrypting finds the data key
 * with the age identities given, opens every value and checks the MAC; encrypting writes what the
 * real `sops` would (format of sops 3.10: no empty kms/pgp lists).
 */
import { Decrypter, Encrypter, armor } from 'age-encryption';
import { Document, isMap, parseAllDocuments, type Scalar } from 'yaml';
import { applySplices, decryptDocuments, encryptDocuments, SopsError, type EncryptionRules } from './format.js';

export { SopsError } from './format.js';

/** The format version written; it is what `sops --version` 3.10 records. */
export const SOPS_VERSION = '3.10.2';

interface SopsMetadata extends EncryptionRules {
  age?: { recipient?: string; enc?: string }[];
  lastmodified?: string;
  mac?: string;
  version?: string;
  key_groups?: unknown;
  unencrypted_comment_regex?: string;
  encrypted_comment_regex?: string;
  pgp?: unknown[];
  kms?: unknown[];
  gcp_kms?: unknown[];
  azure_kv?: unknown[];
  hc_vault?: unknown[];
}

/** A quick look before any parsing: does this text have a SOPS block at all? */
export function looksEncrypted(text: string): boolean {
  return text.includes('ENC[AES256_GCM,') && /(^|\n)\s*"?sops"?\s*:/.test(text);
}

function parse(text: string): Document[] {
  const docs = parseAllDocuments(text, { intAsBigInt: false });
  if (!Array.isArray(docs)) return [];
  for (const d of docs) if (d.errors.length) throw new SopsError(`not YAML: ${d.errors[0]!.message}`);
  return docs;
}

function metadataOf(docs: Document[]): SopsMetadata | undefined {
  for (const d of docs) {
    const js = d.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null;
    if (js && typeof js === 'object' && js.sops && typeof js.sops === 'object') return js.sops as SopsMetadata;
  }
  return undefined;
}

/** Data keys already opened, by their armored age file: opening one is a key agreement (~10 ms). */
const openedKeys = new Map<string, Uint8Array>();
const MAX_OPENED_KEYS = 1000;

async function openDataKey(meta: SopsMetadata, identities: readonly string[]): Promise<Uint8Array> {
  const stanzas = (meta.age ?? []).filter((a) => typeof a.enc === 'string');
  if (!stanzas.length) {
    const others = ['pgp', 'kms', 'gcp_kms', 'azure_kv', 'hc_vault'].filter(
      (k) => ((meta as Record<string, unknown[] | undefined>)[k] ?? []).length > 0,
    );
    throw new SopsError(
      `its data key is encrypted for ${others.length ? others.join(', ') : 'no key'}, not for an age recipient: Berth decrypts with age`,
    );
  }
  if (!identities.length) throw new SopsError('no age identity was given to decrypt it');
  for (const a of stanzas) {
    const cacheKey = `${identities.join('\n')}\u0000${a.enc}`;
    const known = openedKeys.get(cacheKey);
    if (known) return known;
    const decrypter = new Decrypter();
    for (const id of identities) decrypter.addIdentity(id);
    try {
      const key = await decrypter.decrypt(armor.decode(a.enc!), 'uint8array');
      if (key.length !== 32) throw new SopsError(`its data key is ${key.length} bytes, not 32`);
      if (openedKeys.size >= MAX_OPENED_KEYS) openedKeys.delete(openedKeys.keys().next().value!);
      openedKeys.set(cacheKey, key);
      return key;
    } catch (e) {
      if (e instanceof SopsError) throw e;
      // Not for these identities: the next recipient's stanza may be.
    }
  }
  throw new SopsError(
    `none of the age identities given decrypts its data key (it is encrypted for ${stanzas.map((a) => a.recipient ?? '?').join(', ')})`,
  );
}

export interface Decrypted {
  /** The documents in plaintext, without their `sops` blocks, as YAML (JSON for a .json file). */
  text: string;
  /** How many documents it held. */
  documents: number;
}

/**
 * The plaintext of a SOPS file, or undefined when it is not one. Throws SopsError (the reason,
 * never a value) when it cannot be decrypted or its MAC does not match.
 */
export async function decryptSopsFile(
  text: string,
  identities: readonly string[],
  json = false,
): Promise<Decrypted | undefined> {
  if (!looksEncrypted(text)) return undefined;
  const docs = parse(text);
  const meta = metadataOf(docs);
  if (!meta) return undefined;
  if (meta.key_groups) throw new SopsError('key_groups (Shamir secret sharing) are not supported');
  if (meta.unencrypted_comment_regex || meta.encrypted_comment_regex)
    throw new SopsError('encrypted_comment_regex and unencrypted_comment_regex are not supported');
  if (typeof meta.mac !== 'string' || typeof meta.lastmodified !== 'string')
    throw new SopsError('its sops block has no mac or lastmodified');
  const dataKey = await openDataKey(meta, identities);
  const splices = decryptDocuments(docs, text, { ...meta, mac: meta.mac, lastmodified: meta.lastmodified }, dataKey);
  const out = json
    ? JSON.stringify(docs.length === 1 ? docs[0]!.toJS() : docs.map((d) => d.toJS()), null, 2) + '\n'
    : applySplices(text, splices);
  return { text: out, documents: docs.length };
}

export interface EncryptOptions extends EncryptionRules {
  recipients: readonly string[];
  /** When it was encrypted (default now): the MAC's authenticated data. */
  now?: Date;
}

/**
 * A file encrypted as `sops --encrypt --age RECIPIENTS` writes it: the leaves the rules select
 * get `ENC[…]` values, every document gets the same `sops` block. Default rule: Flux's advice,
 * encrypted_regex ^(data|stringData)$, so apiVersion, kind and metadata stay readable.
 */
export async function encryptSopsFile(text: string, o: EncryptOptions, json = false): Promise<string> {
  if (!o.recipients.length) throw new SopsError('no age recipient given');
  const docs = parse(text);
  if (!docs.length) throw new SopsError('no document to encrypt');
  if (metadataOf(docs)) throw new SopsError('it is already encrypted (it has a sops block)');
  const rules: EncryptionRules = {
    ...(o.encrypted_regex || o.unencrypted_regex || o.encrypted_suffix || o.unencrypted_suffix
      ? pick(o)
      : { encrypted_regex: '^(data|stringData)$' }),
    ...(o.mac_only_encrypted ? { mac_only_encrypted: true } : {}),
  };
  const dataKey = new Uint8Array(32);
  crypto.getRandomValues(dataKey);
  const lastModified = (o.now ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const { mac, splices } = encryptDocuments(docs, text, rules, dataKey, lastModified);
  const age = [];
  for (const recipient of o.recipients) {
    const e = new Encrypter();
    try {
      e.addRecipient(recipient);
    } catch (err) {
      throw new SopsError(`${JSON.stringify(recipient)} is not an age recipient: ${(err as Error).message}`);
    }
    age.push({ recipient, enc: armor.encode(await e.encrypt(dataKey)) });
  }
  const block = { age, lastmodified: lastModified, mac, ...rules, version: SOPS_VERSION };
  if (json) {
    const doc = docs[0]!;
    if (!isMap(doc.contents)) throw new SopsError('the document is not an object');
    doc.contents.set('sops', doc.createNode(block));
    return JSON.stringify(doc.toJS(), null, 4) + '\n';
  }
  // The block goes at the end of every document, in sops' indentation (4 spaces).
  const sopsDoc = new Document({ sops: block });
  (sopsDoc.getIn(['sops', 'lastmodified'], true) as Scalar).type = 'QUOTE_DOUBLE';
  const sopsText = sopsDoc.toString({ lineWidth: 0, indent: 4 });
  for (const d of docs) {
    if (!isMap(d.contents) || !d.contents.range) throw new SopsError('a document is not a map');
    const end = d.contents.range[2];
    splices.push({ start: end, end, text: `${source(end - 1) === '\n' || end === 0 ? '' : '\n'}${sopsText}` });
  }
  return applySplices(text, splices);

  function source(i: number): string {
    return text[i] ?? '';
  }
}

/** A decrypt hook for a manifest loader: a file's plaintext, or undefined when it is not a SOPS file. */
export function sopsDecryptor(
  identities: readonly string[],
): (path: string, text: string) => Promise<string | undefined> {
  return async (path, text) => (await decryptSopsFile(text, identities, path.endsWith('.json')))?.text;
}

/** The age identities in a key file (`age-keygen` output: comments and AGE-SECRET-KEY-1… lines). */
export function ageIdentitiesOf(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
}

function pick(o: EncryptionRules): EncryptionRules {
  const out: EncryptionRules = {};
  for (const k of ['unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex'] as const)
    if (o[k]) out[k] = o[k];
  return out;
}
