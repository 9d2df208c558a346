/**
 * `berth token create|list|revoke`: API tokens are Secrets of type berth.dev/token in the
 * berth-system namespace, holding only the token's hash; creating one needs an admin token.
 */
import { createHash } from 'node:crypto';
import { BerthError } from '../api/errors.js';
import { resolveKind } from '../api/kinds.js';
import {
  ROLES,
  TOKEN_SECRET_TYPE,
  joinToken,
  newTokenParts,
  tokenFromSecret,
  tokenSecret,
  type Role,
  type TokenRecord,
} from '../auth/tokens.js';
import { SYSTEM_NAMESPACE } from '../api/namespaces.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { parseDuration } from '../api/duration.js';
import { renderStructured, type OutputFormat, type CommandIO } from './output.js';
import { formatTable } from './resources.js';

const SECRETS = resolveKind('secrets')!;

/** A duration flag ("24h", "30m", "7d", "90s", "1m30s") in milliseconds; a usage error naming the flag. */
export function parseDurationFlag(value: string, flag: string): number {
  try {
    return parseDuration(value);
  } catch (e) {
    throw new BerthError('Usage', `${flag}: ${(e as Error).message}`);
  }
}

function caSha256(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex');
}

export async function tokenCreate(
  client: BerthClient,
  o: { role: string; ttl?: string; description?: string; node?: string },
  io: CommandIO,
): Promise<number> {
  if (!(ROLES as readonly string[]).includes(o.role))
    throw new BerthError('Usage', `--role must be one of ${ROLES.join(', ')}`);
  if (o.node && o.role !== 'node') throw new BerthError('Usage', '--node goes with --role node');
  const { id, secret } = newTokenParts();
  const record: TokenRecord = {
    id,
    role: o.role as Role,
    description: o.description ?? '',
    created: Date.now(),
    ...(o.ttl ? { expires: Date.now() + parseDurationFlag(o.ttl, '--ttl') } : {}),
    ...(o.node ? { node: o.node } : {}),
  };
  await client.create(SECRETS, tokenSecret(record, secret) as KubeObject);
  const token = `${id}.${secret}`;
  // A node join token carries the CA's hash, so a new machine can trust the server on first contact.
  io.stdout(
    (o.role === 'node' && client.connection.ca ? joinToken(token, caSha256(client.connection.ca)) : token) + '\n',
  );
  return 0;
}

export async function tokenList(client: BerthClient, output: OutputFormat, io: CommandIO): Promise<number> {
  const { items } = await client.list(SECRETS, { namespace: SYSTEM_NAMESPACE });
  const records = items.filter((s) => s.type === TOKEN_SECRET_TYPE).map((s) => tokenFromSecret(s).record);
  if (output !== 'text') {
    io.stdout(renderStructured(output, records));
    return 0;
  }
  const when = (ms?: number) => (ms === undefined ? '<never>' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
  io.stdout(
    formatTable(
      ['ID', 'ROLE', 'NODE', 'EXPIRES', 'DESCRIPTION'],
      records.map((r) => [r.id, r.role, r.node ?? '', when(r.expires), r.description]),
    ),
  );
  return 0;
}

export async function tokenRevoke(client: BerthClient, ids: string[], io: CommandIO): Promise<number> {
  for (const id of ids) {
    await client.delete(SECRETS, SYSTEM_NAMESPACE, `token-${id}`);
    io.stdout(`token ${id} revoked\n`);
  }
  return 0;
}
