/**
 * `berth apply -f FILE|DIR`: for bootstrapping (in normal use Git is the source). Loads exactly as
 * `berth validate` and the sync engine do; refuses everything if anything is invalid; then creates
 * what is missing and replaces what differs, keeping the server's status and identity fields.
 */
import { BerthError, isBerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import type { CommandIO } from './output.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { canonicalJson, normalizeForDiff, withServerAssigned } from '../diff/index.js';
import { formatDiagnostic, loadPaths } from '../manifest/index.js';
import { qualifiedName } from './resources.js';

export const DRY_RUN_MODES = ['none', 'server'] as const;

/** `dryRun: 'server'` (as kubectl's --dry-run=server): every write is sent as a dry run, checked and answered by the server, stored nowhere. */
export async function applyCommand(
  client: BerthClient,
  paths: string[],
  namespace: string | undefined,
  io: CommandIO,
  options: { dryRun?: (typeof DRY_RUN_MODES)[number] } = {},
): Promise<number> {
  const dryRun = options.dryRun === 'server';
  const suffix = dryRun ? ' (server dry run)' : '';
  const result = await loadPaths(paths, { defaultNamespace: namespace ?? client.connection.namespace });
  for (const w of result.warnings) io.stderr(formatDiagnostic(w) + '\n');
  if (result.errors.length) {
    for (const e of result.errors) io.stderr(formatDiagnostic(e) + '\n');
    io.stderr(`nothing applied: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  // Namespaces first, then the rest in file order, as a sync applies a commit.
  const objects = [...result.objects].sort(
    (a, b) => Number(b.object.kind === 'Namespace') - Number(a.object.kind === 'Namespace'),
  );
  for (const { object } of objects) {
    const info = kindInfo(object.kind)!;
    const desired = object as unknown as KubeObject;
    const ns = info.namespaced ? desired.metadata.namespace : undefined;
    let live: KubeObject | undefined;
    try {
      live = await client.get(info, ns, desired.metadata.name);
    } catch (e) {
      if (!isBerthError(e, 'NotFound')) throw e;
    }
    const label = qualifiedName(info, desired.metadata.name);
    if (!live) {
      await client.create(info, desired, { dryRun });
      io.stdout(`${label} created${suffix}\n`);
      continue;
    }
    const merged: KubeObject = {
      ...desired,
      metadata: { ...desired.metadata, resourceVersion: live.metadata.resourceVersion },
    };
    // The server defaults what the manifest leaves out (and chooses NodePorts), so compare as a sync does.
    const same =
      canonicalJson(normalizeForDiff(live)) === canonicalJson(normalizeForDiff(withServerAssigned(desired, live)));
    if (same) {
      io.stdout(`${label} unchanged${suffix}\n`);
      continue;
    }
    try {
      await client.update(info, merged, undefined, { dryRun });
    } catch (e) {
      if (isBerthError(e, 'Conflict'))
        throw new BerthError('Conflict', `${label} changed while applying; run apply again`);
      throw e;
    }
    io.stdout(`${label} configured${suffix}\n`);
  }
  return 0;
}
