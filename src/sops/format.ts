/**
 * The SOPS file format (getsops/sops: sops.go, aes/cipher.go, stores/yaml), for YAML and JSON
 * documents whose data key is given: which leaves are encrypted, their `ENC[AES256_GCM,…]` values,
 * and the MAC over every leaf. Pure: the data key comes from age (see age.ts).
 *
 * The tree is walked as parsed, in source order (plain JS objects would move integer-like keys
 * first, and the MAC is over the leaves in file order). A leaf's authenticated data is its path of
 * map keys joined with ':' plus a trailing ':' (list indices are not in it); empty strings and
 * nulls are never encrypted; comments are neither decrypted nor in the MAC here (SOPS leaves them
 * out of the MAC too).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Scalar } from 'yaml';

/** sha256("sops"): the MAC's seed when only encrypted leaves count (mac_only_encrypted). */
const MAC_ONLY_ENCRYPTED_SEED = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');
const ENC = /^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$/;
const NONCE_BYTES = 32;

/** Which leaves are encrypted: the rules of the file's `sops` block (sops' shouldBeEncrypted). */
export interface EncryptionRules {
  unencrypted_suffix?: string;
  encrypted_suffix?: string;
  unencrypted_regex?: string;
  encrypted_regex?: string;
  mac_only_encrypted?: boolean;
}

export class SopsError extends Error {}

export function shouldBeEncrypted(rules: EncryptionRules, path: readonly string[]): boolean {
  let encrypted = true;
  if (rules.unencrypted_suffix && path.some((p) => p.endsWith(rules.unencrypted_suffix!))) encrypted = false;
  if (rules.encrypted_suffix) encrypted = path.some((p) => p.endsWith(rules.encrypted_suffix!));
  // Go's regexp.Match finds a match anywhere in the key, as RegExp.test does.
  if (rules.unencrypted_regex && path.some((p) => new RegExp(rules.unencrypted_regex!).test(p))) encrypted = false;
  if (rules.encrypted_regex) encrypted = path.some((p) => new RegExp(rules.encrypted_regex!).test(p));
  return encrypted;
}

type Leaf = string | number | boolean;
/** A scalar's kind as Go's yaml.v3 decodes it into interface{}: what SOPS hashes and records as `type:`. */
type LeafType = 'str' | 'int' | 'float' | 'bool';

/** Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest digits, never an exponent. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  const s = String(f);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, int, frac = '', exp] = m;
  const digits = int! + frac;
  const point = int!.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** What SOPS hashes for a leaf (its ToBytes). */
function leafBytes(value: Leaf, type: LeafType): Buffer {
  if (type === 'bool') return Buffer.from(value ? 'True' : 'False');
  if (type === 'float') return Buffer.from(formatGoFloat(value as number));
  return Buffer.from(String(value), 'utf8');
}

/**
 * A plain (unquoted) scalar as Go's yaml.v3 reads it into interface{} — what sops hashes, and not
 * always what a YAML 1.2 parser says: `0644` is 420 (strconv.ParseInt with base 0), `1_000` is
 * 1000, `0b101` is 5; `yes` and `on` stay strings; null forms are null.
 */
export function goPlainScalar(text: string): { value: Leaf; type: LeafType } | null {
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return null;
  if (text === 'true' || text === 'True' || text === 'TRUE') return { value: true, type: 'bool' };
  if (text === 'false' || text === 'False' || text === 'FALSE') return { value: false, type: 'bool' };
  const digits = text.replace(/_/g, '');
  const int = /^([-+]?)(0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[1-9][0-9]*|0)$/.exec(digits);
  if (int) {
    const body = int[2]!;
    const radix = /^0[bB]/.test(body)
      ? 2
      : /^0[xX]/.test(body)
        ? 16
        : /^0[oO]?[0-7]/.test(body) && body.length > 1
          ? 8
          : 10;
    const n = Number.parseInt(radix === 10 ? body : body.replace(/^0[bBoOxX]?/, ''), radix);
    const value = int[1] === '-' ? -n : n;
    if (Number.isSafeInteger(value)) return { value, type: 'int' };
  }
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(digits))
    return { value: Number.parseFloat(digits), type: 'float' };
  if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return { value: text.startsWith('-') ? -Infinity : Infinity, type: 'float' };
  if (/^\.(nan|NaN|NAN)$/.test(text)) return { value: Number.NaN, type: 'float' };
  return { value: text, type: 'str' };
}

function leafOf(node: Scalar, source: string): { value: Leaf; type: LeafType } | undefined {
  // Quoted and block scalars are strings whatever they hold; a plain one is typed as yaml.v3 types it.
  if (node.type === 'PLAIN' && node.range)
    return goPlainScalar(source.slice(node.range[0], node.range[1]).trim()) ?? undefined;
  const v = node.value;
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'boolean') return { value: v, type: 'bool' };
  if (typeof v === 'number') return { value: v, type: Number.isSafeInteger(v) ? 'int' : 'float' };
  return { value: String(v), type: 'str' };
}

/** A decrypted value written back into the file's text: strings double-quoted (JSON's escapes are YAML's). */
function literal(value: Leaf, type: LeafType): string {
  if (type === 'str') return JSON.stringify(value);
  if (type === 'float')
    return Number.isNaN(value)
      ? '.nan'
      : Number.isFinite(value)
        ? formatGoFloat(value as number)
        : (value as number) > 0
          ? '.inf'
          : '-.inf';
  return String(value);
}

/** Text to put in place of [start, end) of the source. */
export interface Splice {
  start: number;
  end: number;
  text: string;
}

/** Visits each non-null scalar leaf under `node` with its path of map keys, in source order. */
/** Where a leaf was found: inside a flow collection ({…}, […]), or through an alias (*name). */
interface LeafContext {
  flow: boolean;
  alias: boolean;
}

function walk(
  doc: Document,
  node: Node | null | undefined,
  path: string[],
  visit: (leaf: Scalar, path: string[], context: LeafContext) => void,
  context: LeafContext = { flow: false, alias: false },
): void {
  if (!node) return;
  if (isAlias(node)) return walk(doc, node.resolve(doc) as Node | undefined, path, visit, { ...context, alias: true });
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean')
        throw new SopsError(`a non-scalar map key at ${path.join('.') || 'the top'} (SOPS supports string keys only)`);
      walk(doc, pair.value as Node, [...path, String(key)], visit, {
        ...context,
        flow: context.flow || node.flow === true,
      });
    }
    return;
  }
  if (isSeq(node)) {
    for (const item of node.items)
      walk(doc, item as Node, path, visit, { ...context, flow: context.flow || node.flow === true });
    return;
  }
  if (isScalar(node)) visit(node, path, context);
}

/** Every leaf of the documents, in source order, but those of their `sops` blocks. */
function eachLeaf(docs: Document[], visit: (leaf: Scalar, path: string[], context: LeafContext) => void): void {
  for (const d of docs) {
    if (!isMap(d.contents)) continue;
    for (const pair of d.contents.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (key !== 'sops') walk(d, pair.value as Node, [key], visit);
    }
  }
}

function aad(path: readonly string[]): Buffer {
  return Buffer.from(`${path.join(':')}:`, 'utf8');
}

/** One `ENC[AES256_GCM,…]` value, opened: the plaintext as its recorded type. */
export function decryptValue(
  text: string,
  dataKey: Uint8Array,
  additional: Buffer | string,
): { value: Leaf; type: LeafType | 'bytes' | 'time' | 'comment' } {
  const m = ENC.exec(text);
  if (!m) throw new SopsError('not in SOPS data format (ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])');
  const [, data, iv, tag, type] = m;
  const nonce = Buffer.from(iv!, 'base64');
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, nonce);
    decipher.setAAD(typeof additional === 'string' ? Buffer.from(additional, 'utf8') : additional);
    decipher.setAuthTag(Buffer.from(tag!, 'base64'));
    plain = Buffer.concat([decipher.update(Buffer.from(data!, 'base64')), decipher.final()]);
  } catch {
    throw new SopsError('a value does not decrypt with the data key (the file was changed, or a value moved)');
  }
  const s = plain.toString('utf8');
  switch (type) {
    case 'str':
    case 'bytes':
    case 'time':
    case 'comment':
      return { value: s, type: type === 'bytes' || type === 'time' ? 'str' : type };
    case 'int':
      return { value: Number.parseInt(s, 10), type: 'int' };
    case 'float':
      return { value: Number.parseFloat(s), type: 'float' };
    case 'bool':
      return { value: /^(1|t|T|TRUE|true|True)$/.test(s), type: 'bool' };
    default:
      throw new SopsError(`a value of unknown type ${JSON.stringify(type)}`);
  }
}

export function encryptValue(value: Leaf, type: LeafType, dataKey: Uint8Array, additional: Buffer | string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
  cipher.setAAD(typeof additional === 'string' ? Buffer.from(additional, 'utf8') : additional);
  const data = Buffer.concat([cipher.update(leafBytes(value, type)), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${nonce.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

/** `lastmodified` as Go's time.Format(RFC3339) writes it back: the MAC's authenticated data. */
export function rfc3339(lastModified: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(lastModified);
  if (!m) throw new SopsError(`sops.lastmodified ${JSON.stringify(lastModified)} is not an RFC 3339 time`);
  return `${m[1]}${m[2]}`;
}

/**
 * Decrypts the documents of one SOPS file in place (their leaves get their plaintext, the `sops`
 * blocks go) and checks the MAC; throws SopsError when a value or the MAC does not check out.
 * Returns the same as edits of the source text, so that everything else in the file stays as
 * written (a YAML 1.1 reader reads `0644` there as it would have without SOPS).
 */
export function decryptDocuments(
  docs: Document[],
  source: string,
  rules: EncryptionRules & { mac: string; lastmodified: string },
  dataKey: Uint8Array,
): Splice[] {
  const splices: Splice[] = [];
  const hash = createHash('sha512');
  if (rules.mac_only_encrypted) hash.update(MAC_ONLY_ENCRYPTED_SEED);
  eachLeaf(docs, (leaf, path) => {
    const encrypted = shouldBeEncrypted(rules, path);
    let plain = leafOf(leaf, source);
    if (!plain) return;
    if (encrypted && !(plain.type === 'str' && plain.value === '')) {
      if (plain.type !== 'str')
        throw new SopsError(`${path.join('.')} should be encrypted but is a plain ${plain.type}`);
      try {
        const opened = decryptValue(plain.value as string, dataKey, aad(path));
        plain = { value: opened.value, type: opened.type as LeafType };
      } catch (e) {
        throw new SopsError(`${path.join('.')}: ${(e as Error).message}`);
      }
      leaf.value = plain.value; // for a JSON file, written from the documents
      if (leaf.range)
        splices.push({ start: leaf.range[0], end: leaf.range[1], text: literal(plain.value, plain.type) });
    }
    if (!rules.mac_only_encrypted || encrypted) hash.update(leafBytes(plain.value, plain.type));
  });
  const expected = (() => {
    try {
      return decryptValue(rules.mac, dataKey, rfc3339(rules.lastmodified)).value;
    } catch {
      throw new SopsError('its MAC does not decrypt: the file was changed (or its lastmodified)');
    }
  })();
  if (String(expected).toUpperCase() !== hash.digest('hex').toUpperCase())
    throw new SopsError('its MAC does not match its contents: the file was changed after it was encrypted');
  // The sops blocks go, from their key to the end of their value.
  for (const d of docs) {
    if (!isMap(d.contents)) continue;
    const pair = d.contents.items.find((p) => isScalar(p.key) && p.key.value === 'sops');
    const [keyRange, valueRange] = [(pair?.key as Node | undefined)?.range, (pair?.value as Node | undefined)?.range];
    if (keyRange && valueRange) splices.push({ start: keyRange[0], end: valueRange[2], text: '' });
    d.contents.delete('sops');
  }
  return splices;
}

/** The source with the splices made (they do not overlap). */
export function applySplices(source: string, splices: readonly Splice[]): string {
  let out = '';
  let at = 0;
  for (const s of [...splices].sort((a, b) => a.start - b.start)) {
    out += source.slice(at, s.start) + s.text;
    at = s.end;
  }
  return out + source.slice(at);
}

/**
 * Encrypts the documents in place by `rules` (the leaves they select, empty strings left alone)
 * and returns the MAC to record, encrypted with the data key for `lastModified`, and the same as
 * edits of the source text (the rest of the file stays as written: the MAC is over it as read).
 */
export function encryptDocuments(
  docs: Document[],
  source: string,
  rules: EncryptionRules,
  dataKey: Uint8Array,
  lastModified: string,
): { mac: string; splices: Splice[] } {
  const hash = createHash('sha512');
  const splices: Splice[] = [];
  if (rules.mac_only_encrypted) hash.update(MAC_ONLY_ENCRYPTED_SEED);
  eachLeaf(docs, (leaf, path, context) => {
    const plain = leafOf(leaf, source);
    if (!plain) return;
    const encrypted = shouldBeEncrypted(rules, path);
    if (!rules.mac_only_encrypted || encrypted) hash.update(leafBytes(plain.value, plain.type));
    if (encrypted && !(plain.type === 'str' && plain.value === '')) {
      if (context.alias)
        throw new SopsError(`${path.join('.')} is a YAML alias (*name) under an encrypted key: write the value out`);
      const sealed = encryptValue(plain.value, plain.type, dataKey, aad(path));
      leaf.value = sealed;
      // Plain, as sops writes it, but quoted in a flow collection ([a, b]), which its commas would end.
      const text = context.flow ? JSON.stringify(sealed) : sealed;
      if (leaf.range) splices.push({ start: leaf.range[0], end: leaf.range[1], text });
    }
  });
  return { mac: encryptValue(hash.digest('hex').toUpperCase(), 'str', dataKey, rfc3339(lastModified)), splices };
}
