/**
 * What a sync of a revision would do, without doing it: the PR preview behind `berth app diff`.
 * The revision is fetched and validated exactly as a sync would; the plan is made against the live
 * objects with pruning shown.
 */
import { autoscaledWorkloads, diffReport, maskSecret, plan, withTracking, type DiffReport } from '../diff/index.js';
import { formatDiagnostic } from '../manifest/index.js';
import { decryptorFor } from './decryption.js';
import type { LoadedObject } from '../manifest/index.js';
import type { KubeObject } from '../store/types.js';
import { LiveView } from './live.js';
import { planChecks } from './preview.js';
import { sourceSpec, syncOption, type ApplicationObject, type SyncDeps } from './sync.js';

export type DiffOutcome =
  { ok: true; report: DiffReport } | { ok: false; reason: 'InvalidManifests' | 'SourceError'; errors: string[] };

/** A revision of the app's source, fetched, loaded and validated as a sync would. */
async function loadRevision(
  deps: SyncDeps,
  app: ApplicationObject,
  revision: string | undefined,
): Promise<
  | { ok: true; commit: string; desired: KubeObject[]; objects: LoadedObject[] }
  | { ok: false; reason: 'InvalidManifests' | 'SourceError'; errors: string[] }
> {
  const { problem, ...base } = await sourceSpec(deps.store, app);
  if (problem) return { ok: false, reason: 'SourceError', errors: [problem] };
  const spec = { ...base, ...(revision ? { targetRevision: revision } : {}) };
  const resolved = await deps.source.refresh(spec, { force: true });
  if (!resolved.ok) return { ok: false, reason: 'SourceError', errors: [resolved.condition.message] };
  const decryption = await decryptorFor(deps.store, app);
  if (!decryption.ok) return { ok: false, reason: 'SourceError', errors: [decryption.message] };
  const artifact = await deps.source.artifact(
    spec,
    resolved.value.commit,
    { strict: false, defaultNamespace: app.spec.destination?.namespace ?? 'default' },
    decryption.decryptor,
  );
  if (!artifact.ok) return { ok: false, reason: 'SourceError', errors: [artifact.condition.message] };
  if (artifact.value.result.errors.length)
    return { ok: false, reason: 'InvalidManifests', errors: artifact.value.result.errors.map(formatDiagnostic) };
  const { objects } = artifact.value.result;
  return {
    ok: true,
    commit: resolved.value.commit,
    desired: objects.map((o) => o.object as unknown as KubeObject),
    objects,
  };
}

export async function diffApplication(deps: SyncDeps, app: ApplicationObject, revision?: string): Promise<DiffOutcome> {
  const loaded = await loadRevision(deps, app, revision);
  if (!loaded.ok) return loaded;
  const ref = { namespace: app.metadata.namespace ?? 'default', name: app.metadata.name };
  const live = await new LiveView(ref.name).read(deps.store, loaded.desired);
  const p = plan(ref, loaded.desired, live, {
    prune: true,
    ignoreDifferences: [...(app.spec.ignoreDifferences ?? []), ...autoscaledWorkloads(loaded.desired).ignores],
    adopt: syncOption(app, 'AdoptExisting'),
  });
  return {
    ok: true,
    report: { ...diffReport(p, loaded.commit), checks: await planChecks(deps, app, loaded.objects, p) },
  };
}

export type ManifestsOutcome =
  | { ok: true; revision: string; objects: KubeObject[] }
  | { ok: false; reason: 'InvalidManifests' | 'SourceError'; errors: string[] };

/**
 * The objects a sync of the revision would apply, as it would write them (defaults filled in,
 * the tracking label and annotation on), Secret values masked: `berth app manifests`.
 */
export async function applicationManifests(
  deps: SyncDeps,
  app: ApplicationObject,
  revision?: string,
): Promise<ManifestsOutcome> {
  const loaded = await loadRevision(deps, app, revision);
  if (!loaded.ok) return loaded;
  const ref = { namespace: app.metadata.namespace ?? 'default', name: app.metadata.name };
  return {
    ok: true,
    revision: loaded.commit,
    objects: loaded.desired.map((o) => maskSecret(withTracking(ref, o)) as KubeObject),
  };
}
