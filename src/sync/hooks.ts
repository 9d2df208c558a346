/**
 * Runs an Application's resource hooks for one sync phase (api/hooks for what they are): creates
 * the phase's hooks once per sync operation (a generateName gets its suffix; a fixed name with
 * BeforeHookCreation replaces the previous run's object), then follows each until it succeeds or
 * fails, deleting it as its delete policy says. What was started is kept in the operation's
 * state (`status.operationState.hooks`), so a sync that waits across reconciles carries on.
 */
import { randomUUID } from 'node:crypto';
import { BerthError, isBerthError } from '../api/errors.js';
import { HOOK_OF_ANNOTATION, deletePolicies, hookOutcome, hookPhases } from '../api/hooks.js';
import { groupOf } from '../api/kinds.js';
import { prepareCreate } from '../api/lifecycle.js';
import { randomSuffix } from '../api/names.js';
import { getIfExists } from '../store/lookup.js';
import type { KubeObject, Store } from '../store/types.js';
import type { HookRun } from '../api/types.gen.js';
import { chargeCreates } from './quota.js';
import { formatViolation } from './project.js';

/** A hook this operation started, and where it is (status.operationState.hooks, schemas/). */
export type { HookRun };

export type PhaseState = { state: 'done' | 'running' } | { state: 'failed'; message: string };

/** A hook that failed: the sync operation fails (after its SyncFail hooks are started). */
export class HookFailure extends BerthError {
  constructor(message: string) {
    super('Conflict', message);
  }
}

const refOf = (r: { apiVersion: string; kind: string; namespace?: string; name: string }) => ({
  group: groupOf(r.apiVersion),
  kind: r.kind,
  namespace: r.namespace ?? '',
  name: r.name,
});
const describe = (r: HookRun) => `${r.kind}/${r.name}`;

/** Starts the phase's hooks if this operation has not yet, then reads where they are; `runs` is updated in place. */
export async function runHookPhase(
  store: Store,
  app: { namespace: string; name: string },
  phase: string,
  hooks: KubeObject[],
  runs: HookRun[],
  now: Date,
): Promise<PhaseState> {
  const ofPhase = hooks.filter((h) => hookPhases(h)?.includes(phase));
  if (ofPhase.length && !runs.some((r) => r.phase === phase)) {
    for (const hook of ofPhase) runs.push(await startHook(store, app, phase, hook, now));
  }
  const mine = runs.filter((r) => r.phase === phase);
  for (const run of mine) {
    if (run.state !== 'Running') continue;
    const live = await getIfExists(store, refOf(run));
    const { outcome, message } = live
      ? hookOutcome(live)
      : { outcome: 'Failed' as const, message: 'deleted before it finished' };
    run.state = outcome;
    if (message) run.message = message;
    const policy = outcome === 'Succeeded' ? 'HookSucceeded' : outcome === 'Failed' ? 'HookFailed' : undefined;
    if (live && policy && run.deletePolicies.includes(policy)) {
      await store.delete(refOf(run)).catch((e) => {
        if (!isBerthError(e, 'NotFound')) throw e;
      });
      run.deleted = true;
    }
  }
  const failed = mine.find((r) => r.state === 'Failed');
  if (failed)
    return { state: 'failed', message: `${phase} hook ${describe(failed)} failed: ${failed.message ?? 'failed'}` };
  return { state: mine.some((r) => r.state === 'Running') ? 'running' : 'done' };
}

/** Which hooks of a phase are still running, for the operation's message. */
export function runningHooks(runs: HookRun[], phase: string): string {
  return runs
    .filter((r) => r.phase === phase && r.state === 'Running')
    .map(describe)
    .join(', ');
}

async function startHook(
  store: Store,
  app: { namespace: string; name: string },
  phase: string,
  hook: KubeObject,
  now: Date,
): Promise<HookRun> {
  const object = structuredClone(hook) as KubeObject & { metadata: { generateName?: string } };
  object.metadata.annotations = {
    ...(object.metadata.annotations ?? {}),
    [HOOK_OF_ANNOTATION]: `${app.namespace}/${app.name}`,
  };
  const policies = deletePolicies(hook);
  if (!object.metadata.name) {
    object.metadata.name = `${object.metadata.generateName}${randomSuffix()}`;
  } else if (policies.includes('BeforeHookCreation')) {
    // The previous run's object goes first; an object that is not a hook of this app is never touched.
    const ref = refOf({
      apiVersion: object.apiVersion,
      kind: object.kind,
      ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
      name: object.metadata.name,
    });
    const previous = await getIfExists(store, ref);
    if (previous) {
      if (previous.metadata.annotations?.[HOOK_OF_ANNOTATION] !== `${app.namespace}/${app.name}`) {
        throw new HookFailure(
          `${phase} hook ${object.kind}/${object.metadata.name} exists and is not a hook of this Application: left alone`,
        );
      }
      await store.delete(ref).catch((e) => {
        if (!isBerthError(e, 'NotFound')) throw e;
      });
    }
  }
  delete object.metadata.generateName;
  // Charged to its namespace's quota as any create (the API's admission does the same).
  const { charges, violations } = await chargeCreates(store, [object], () => undefined);
  if (violations.length)
    throw new HookFailure(
      `${phase} hook ${object.kind}/${object.metadata.name} is over quota: ${formatViolation(violations[0]!)}`,
    );
  await store.txn([...charges, { op: 'create', object: prepareCreate(object, now, randomUUID()) }]);
  return {
    phase,
    apiVersion: object.apiVersion,
    kind: object.kind,
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
    name: object.metadata.name,
    state: 'Running',
    deletePolicies: policies,
  };
}
