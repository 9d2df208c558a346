/**
 * `berth secrets encrypt FILE --age RECIPIENT`: a SOPS file for Git, as `sops --encrypt --age`
 * writes it. `berth secrets reencrypt`: every Secret written again, so the server stores it with
 * the first key of its encryption configuration (Kubernetes' rotation step 3, `kubectl get secrets
 * -A -o json | kubectl replace -f -`). Age keys for `validate --decrypt` are read here too.
 *
 * Exit codes: 0 done, 1 some object could not be rewritten, 2 usage or I/O error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BerthError, isBerthError } from '../api/errors.js';
import { resolveKind } from '../api/kinds.js';
import type { BerthClient } from '../client/index.js';
import { ageIdentitiesOf, encryptSopsFile, SopsError, sopsDecryptor } from '../sops/file.js';
import { renderStructured, type CommandIO } from './output.js';

export interface EncryptOptions {
  age: string[];
  encryptedRegex?: string;
  unencryptedRegex?: string;
  encryptedSuffix?: string;
  unencryptedSuffix?: string;
  inPlace?: boolean;
}

export async function encryptCommand(file: string, o: EncryptOptions, io: CommandIO): Promise<number> {
  const recipients = o.age
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);
  if (!recipients.length) throw new BerthError('Usage', '--age RECIPIENT is required (age1…, as age-keygen -y prints)');
  const text = readText(file);
  let out: string;
  try {
    out = await encryptSopsFile(
      text,
      {
        recipients,
        ...(o.encryptedRegex ? { encrypted_regex: o.encryptedRegex } : {}),
        ...(o.unencryptedRegex ? { unencrypted_regex: o.unencryptedRegex } : {}),
        ...(o.encryptedSuffix ? { encrypted_suffix: o.encryptedSuffix } : {}),
        ...(o.unencryptedSuffix ? { unencrypted_suffix: o.unencryptedSuffix } : {}),
      },
      file.endsWith('.json'),
    );
  } catch (e) {
    if (e instanceof SopsError) throw new BerthError('Invalid', `${file}: ${e.message}`);
    throw e;
  }
  if (o.inPlace) writeFileSync(file, out);
  else io.stdout(out);
  return 0;
}

/** The age identities of key files (`--age-key`, else $SOPS_AGE_KEY_FILE, as sops reads them). */
export function readAgeIdentities(files: string[]): string[] {
  const paths = files.length ? files : process.env.SOPS_AGE_KEY_FILE ? [process.env.SOPS_AGE_KEY_FILE] : [];
  if (!paths.length) throw new BerthError('Usage', '--decrypt needs --age-key FILE (or $SOPS_AGE_KEY_FILE)');
  const identities = paths.flatMap((f) => ageIdentitiesOf(readText(f)));
  if (!identities.length) throw new BerthError('Usage', `no AGE-SECRET-KEY-1… line in ${paths.join(', ')}`);
  return identities;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new BerthError('Usage', `cannot read ${file}: ${(e as Error).message}`);
  }
}

export interface ReencryptOptions {
  output?: 'json' | 'yaml';
}

/** Writes back every object of the resources named (default: secrets), each at the revision it was read. */
export async function reencryptCommand(
  client: BerthClient,
  resources: string[],
  o: ReencryptOptions,
  io: CommandIO,
): Promise<number> {
  const report: { resource: string; rewritten: number; changedMeanwhile: number; failed: string[] }[] = [];
  for (const name of resources.length ? resources : ['secrets']) {
    const info = resolveKind(name);
    if (!info) throw new BerthError('Usage', `unknown resource ${JSON.stringify(name)}`);
    const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    const row = { resource: info.plural, rewritten: 0, changedMeanwhile: 0, failed: [] as string[] };
    let next: string | undefined;
    do {
      const page: { items: { metadata: { name: string; namespace?: string } }[]; metadata?: { continue?: string } } =
        await client.request(
          'GET',
          `${base}/${info.plural}?limit=500${next ? `&continue=${encodeURIComponent(next)}` : ''}`,
        );
      for (const item of page.items) {
        const { name: itemName, namespace } = item.metadata;
        const path = `${base}/${namespace ? `namespaces/${namespace}/` : ''}${info.plural}/${itemName}`;
        try {
          await client.request('PUT', path, {
            body: { apiVersion: info.group ? `${info.group}/${info.version}` : info.version, kind: info.kind, ...item },
          });
          row.rewritten++;
        } catch (e) {
          // Written by someone since it was listed: that write used the current key already.
          if (isBerthError(e, 'Conflict') || isBerthError(e, 'NotFound')) row.changedMeanwhile++;
          else row.failed.push(`${namespace ? `${namespace}/` : ''}${itemName}: ${(e as Error).message}`);
        }
      }
      next = page.metadata?.continue;
    } while (next);
    report.push(row);
  }
  if (o.output) io.stdout(renderStructured(o.output, { items: report }));
  else
    for (const r of report)
      io.stdout(
        `${r.resource}: ${r.rewritten} rewritten with the server's current key${r.changedMeanwhile ? `, ${r.changedMeanwhile} written by others meanwhile (with it too)` : ''}${r.failed.length ? `, ${r.failed.length} failed:\n  ${r.failed.join('\n  ')}` : ''}\n`,
      );
  return report.some((r) => r.failed.length) ? 1 : 0;
}
