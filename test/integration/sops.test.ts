/**
 * SOPS files: Berth's encrypter and decrypter against each other, against the format's rules read
 * independently (node:crypto with the documented AAD), and against Debian's `age` for the data
 * key both ways. Tampering anywhere — a plaintext field, a value, a value moved, lastmodified — is
 * refused. (Flux's own fixtures were checked by hand: see the README's SOPS section.)
 */
import { execFileSync } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatGoFloat, goPlainScalar, shouldBeEncrypted } from '../../src/sops/format.js';
import { ageIdentitiesOf, decryptSopsFile, encryptSopsFile, sopsDecryptor } from '../../src/sops/file.js';
import { validateCommand } from '../../src/cli/validate.js';
import { loadFile } from '../../src/manifest/index.js';

const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
  labels: {"80": first, tier: data}
type: Opaque
stringData:
  password: hunter2
  port: 5432
  ratio: 0.25
  big: 1.0e+21
  enabled: true
  empty: ""
  nothing: null
  hosts: [a.example.com, b.example.com]
  nested:
    deep: value
`;

const VALID_SECRET = `apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
`;

describe('SOPS', () => {
  let dir: string;
  let identity: string;
  let recipient: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-sops-'));
    execFileSync('age-keygen', ['-o', path.join(dir, 'key.txt')], { stdio: 'pipe' });
    const keyFile = readFileSync(path.join(dir, 'key.txt'), 'utf8');
    identity = ageIdentitiesOf(keyFile)[0]!;
    recipient = /public key: (age1\w+)/.exec(keyFile)![1]!;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [0.25, '0.25'],
    [1, '1'],
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [-2.5e22, '-25000000000000000000000'],
    [123456.789, '123456.789'],
  ])('formats the float %s as Go FormatFloat(f, f, -1) does: %s', (f, s) => {
    expect(formatGoFloat(f)).toBe(s);
  });

  it.each([
    ['0644', { value: 420, type: 'int' }],
    ['010', { value: 8, type: 'int' }],
    ['0o17', { value: 15, type: 'int' }],
    ['0x1F', { value: 31, type: 'int' }],
    ['0b101', { value: 5, type: 'int' }],
    ['1_000', { value: 1000, type: 'int' }],
    ['-42', { value: -42, type: 'int' }],
    ['09', { value: 9, type: 'float' }],
    ['1e3', { value: 1000, type: 'float' }],
    ['.5', { value: 0.5, type: 'float' }],
    ['-.inf', { value: -Infinity, type: 'float' }],
    ['yes', { value: 'yes', type: 'str' }],
    ['on', { value: 'on', type: 'str' }],
    ['True', { value: true, type: 'bool' }],
    ['~', null],
    ['NULL', null],
  ])('types the plain scalar %s as Go yaml.v3 does: %j', (text, expected) => {
    expect(goPlainScalar(text)).toEqual(expected);
  });

  it.each([
    [{}, ['data', 'x'], true],
    [{ unencrypted_suffix: '_unencrypted' }, ['data', 'x_unencrypted'], false],
    [{ encrypted_regex: '^(data|stringData)$' }, ['metadata', 'name'], false],
    [{ encrypted_regex: '^(data|stringData)$' }, ['stringData', 'a', 'b'], true],
    [{ unencrypted_regex: '^meta' }, ['metadata', 'name'], false],
    [{ encrypted_suffix: '_secret' }, ['a', 'b_secret'], true],
    [{ encrypted_suffix: '_secret' }, ['a', 'b'], false],
  ])('rules %j: %j encrypted = %s', (rules, p, expected) => {
    expect(shouldBeEncrypted(rules, p)).toBe(expected);
  });

  it('encrypts as sops does (Flux’s advice by default) and decrypts to the same documents, types and key order', async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const doc = parse(encrypted);
    // Readable where Flux needs it, encrypted where the rule says, with the format's sizes.
    expect(doc.metadata).toEqual({ name: 'db', namespace: 'shop', labels: { 80: 'first', tier: 'data' } });
    expect(Object.keys(doc.sops)).toEqual(['age', 'lastmodified', 'mac', 'encrypted_regex', 'version']);
    expect(doc.sops.encrypted_regex).toBe('^(data|stringData)$');
    expect(doc.sops.lastmodified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(doc.sops.age[0].recipient).toBe(recipient);
    expect(doc.sops.age[0].enc).toMatch(
      /^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+-----END AGE ENCRYPTED FILE-----\n$/,
    );
    const enc =
      /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/]{43}=,tag:[A-Za-z0-9+/]{22}==,type:(str|int|float|bool)\]$/;
    expect(doc.stringData.password).toMatch(enc);
    expect(doc.stringData.port).toMatch(/type:int\]$/);
    expect(doc.stringData.ratio).toMatch(/type:float\]$/);
    expect(doc.stringData.enabled).toMatch(/type:bool\]$/);
    expect(doc.stringData.hosts[0]).toMatch(enc);
    expect(doc.stringData.empty).toBe('');
    expect(doc.stringData.nothing).toBeNull();
    expect(doc.sops.mac).toMatch(enc);
    expect(encrypted).not.toContain('hunter2');

    const decrypted = await decryptSopsFile(encrypted, [identity]);
    expect(parse(decrypted!.text)).toEqual(parse(SECRET));
    // The integer-like label key stays where it was: the MAC covers the leaves in file order.
    expect(decrypted!.text.indexOf('"80"')).toBeLessThan(decrypted!.text.indexOf('tier'));
  });

  it("Debian's age opens the data key Berth wrote, and that key opens the values by the documented rules", async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const doc = parse(encrypted);
    writeFileSync(path.join(dir, 'datakey.age'), doc.sops.age[0].enc);
    const dataKey = execFileSync('age', ['-d', '-i', path.join(dir, 'key.txt'), path.join(dir, 'datakey.age')]);
    expect(dataKey).toHaveLength(32);
    // AES-256-GCM, 32-byte nonce, AAD = the key path joined with ':' and a trailing ':'.
    const [, data, iv, tag] = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:str\]$/.exec(doc.stringData.password)!;
    const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(iv!, 'base64'));
    decipher.setAAD(Buffer.from('stringData:password:'));
    decipher.setAuthTag(Buffer.from(tag!, 'base64'));
    expect(Buffer.concat([decipher.update(Buffer.from(data!, 'base64')), decipher.final()]).toString()).toBe('hunter2');

    // And the other way: a data key encrypted by Debian's age (armored) is opened by Berth.
    writeFileSync(path.join(dir, 'datakey.bin'), dataKey);
    const byAge = execFileSync('age', ['-r', recipient, '-a', path.join(dir, 'datakey.bin')], { encoding: 'utf8' });
    const document = parseAllDocuments(encrypted)[0]!;
    (document.getIn(['sops', 'age', 0]) as { set(k: string, v: string): void }).set('enc', byAge);
    const decrypted = await decryptSopsFile(document.toString(), [identity]);
    expect(parse(decrypted!.text).stringData.password).toBe('hunter2');
  });

  it.each([
    ['a plaintext field changed', (t: string) => t.replace('name: db', 'name: dc'), /MAC does not match its contents/],
    ['a plaintext label added', (t: string) => t.replace('tier: data', 'tier: data, x: y'), /MAC does not match/],
    [
      'an encrypted value changed',
      (t: string) =>
        t.replace(/(password: ENC\[AES256_GCM,data:)(.)/, (_, a: string, c: string) => a + (c === 'A' ? 'B' : 'A')),
      /stringData\.password: a value does not decrypt with the data key/,
    ],
    [
      'two encrypted values swapped',
      (t: string) => {
        const doc = parseAllDocuments(t)[0]!;
        const a = doc.getIn(['stringData', 'password']);
        doc.setIn(['stringData', 'password'], doc.getIn(['stringData', 'nested', 'deep']));
        doc.setIn(['stringData', 'nested', 'deep'], a);
        return doc.toString();
      },
      /stringData\.password: a value does not decrypt/,
    ],
    [
      'lastmodified changed',
      (t: string) => t.replace(/lastmodified: "\d{4}/, 'lastmodified: "1999'),
      /MAC does not decrypt/,
    ],
  ])('refuses a file with %s', async (_, tamper, message) => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const tampered = tamper(encrypted);
    expect(tampered).not.toBe(encrypted);
    await expect(decryptSopsFile(tampered, [identity])).rejects.toThrow(message);
  });

  it('says whose key it is encrypted for when no identity given opens it, and what it cannot decrypt', async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const other = ageIdentitiesOf(execFileSync('age-keygen', { encoding: 'utf8', stdio: 'pipe' }))[0]!;
    await expect(decryptSopsFile(encrypted, [other])).rejects.toThrow(
      `none of the age identities given decrypts its data key (it is encrypted for ${recipient})`,
    );
    const pgpOnly = encrypted.replace(/ {4}age:[\s\S]*?(?= {4}lastmodified)/, '    pgp:\n        - fp: ABCD\n');
    await expect(decryptSopsFile(pgpOnly, [identity])).rejects.toThrow(/encrypted for pgp, not for an age recipient/);
    expect(await decryptSopsFile(SECRET, [identity])).toBeUndefined();
  });

  it('multi-document YAML (one MAC over every document), JSON, and mac_only_encrypted', async () => {
    const two = `${SECRET}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n`;
    const encrypted = await encryptSopsFile(two, {
      recipients: [recipient],
      unencrypted_regex: '^(apiVersion|kind|metadata|type)$',
    });
    expect(parseAllDocuments(encrypted).map((d) => d.toJS().sops.mac)).toHaveLength(2);
    expect(encrypted).not.toContain('hunter2');
    const back = await decryptSopsFile(encrypted, [identity]);
    expect(parseAllDocuments(back!.text).map((d) => d.toJS())).toEqual(parseAllDocuments(two).map((d) => d.toJS()));
    // The MAC spans both documents: the second one changed is refused.
    await expect(decryptSopsFile(encrypted.replace('name: c', 'name: d'), [identity])).rejects.toThrow(
      /MAC does not match/,
    );

    // mac_only_encrypted: the MAC (seeded differently) covers the encrypted values only, so a
    // plaintext field may change — as sops documents it — but an encrypted one may not.
    const macOnly = await encryptSopsFile(two, { recipients: [recipient], mac_only_encrypted: true });
    expect(parseAllDocuments(macOnly)[0]!.toJS().sops.mac_only_encrypted).toBe(true);
    const renamed = await decryptSopsFile(macOnly.replace('name: c', 'name: d'), [identity]);
    expect(parseAllDocuments(renamed!.text).map((d) => d.toJS().metadata.name)).toEqual(['db', 'd']);
    const dropped = macOnly.replace(/(\n\s+deep: )ENC\[[^\]]+\]/, '$1""');
    expect(dropped).not.toBe(macOnly);
    await expect(decryptSopsFile(dropped, [identity])).rejects.toThrow(/MAC does not match/);

    const json = JSON.stringify(parse(SECRET));
    const encryptedJson = await encryptSopsFile(json, { recipients: [recipient] }, true);
    expect(JSON.parse(encryptedJson).sops.version).toMatch(/^3\.\d+\.\d+$/);
    expect(JSON.parse((await decryptSopsFile(encryptedJson, [identity], true))!.text)).toEqual(parse(SECRET));
  });

  it('leaves the rest of the file as written: a YAML 1.1 reader reads 0644 as before, and lines stay where they were', async () => {
    const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {tier: "yes"}}
spec:
  replicas: 1_0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      volumes: [{name: c, secret: {secretName: c, defaultMode: 0644}}]
      containers:
        - name: web
          image: nginx
          env:
            - {name: TOKEN, value: "s3cr3t"}
            - {name: MODE, value: "on"}
`;
    const encrypted = await encryptSopsFile(deployment, { recipients: [recipient], encrypted_regex: '^value$' });
    // Only the env values are encrypted (quoted: they sit in flow maps); the MAC is over the rest
    // as yaml.v3 reads it (0644 is 420, 1_0 is 10), and the rest is left as written.
    expect(encrypted).not.toContain('s3cr3t');
    expect(encrypted).toMatch(/\{name: TOKEN, value: "ENC\[AES256_GCM,data:[^"]+,type:str\]"\}/);
    expect(encrypted.startsWith(deployment.split('          env:')[0]!)).toBe(true);
    expect((await decryptSopsFile(encrypted, [identity]))!.text).toBe(deployment);
  });

  it('the loader refuses an encrypted document nothing decrypted; berth validate --decrypt checks its plaintext', async () => {
    const encrypted = await encryptSopsFile(VALID_SECRET, { recipients: [recipient] });
    const loaded = loadFile({ path: 'secret.yaml', bytes: Buffer.from(encrypted) });
    expect(loaded.objects).toEqual([]);
    expect(loaded.diagnostics).toMatchObject([
      {
        severity: 'error',
        reason: 'Encrypted',
        file: 'secret.yaml',
        message: expect.stringMatching(/SOPS-encrypted: set spec\.decryption/),
      },
    ]);
    writeFileSync(path.join(dir, 'secret.yaml'), encrypted);
    writeFileSync(path.join(dir, 'broken.yaml'), encrypted.replace('name: db', 'name: dc'));
    const out: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: () => undefined } as never;
    const code = await validateCommand(
      [path.join(dir, 'secret.yaml'), path.join(dir, 'broken.yaml')],
      { strict: false, output: 'text', decrypt: sopsDecryptor([identity]) },
      io,
    );
    expect(code).toBe(1);
    const text = out.join('');
    expect(text).toMatch(/broken\.yaml:1:1: error: cannot decrypt this SOPS file: its MAC does not match its contents/);
    expect(text).toMatch(/1 object in 2 files, 1 error/);
    expect(text).not.toContain('hunter2');
  });
});
