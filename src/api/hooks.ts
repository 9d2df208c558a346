/**
 * Resource hooks, as Argo CD defines them (its annotations are read, and Berth's own): an object
 * annotated `argocd.argoproj.io/hook: PreSync|Sync|PostSync|SyncFail|Skip` is not desired state
 * but something a sync runs — created at its phase (a `generateName` gives each run its own
 * name), waited for (a Job until Complete or Failed, a Pod until Succeeded or Failed, anything
 * else once created), and deleted by its `hook-delete-policy` (HookSucceeded, HookFailed,
 * BeforeHookCreation: the default). `Skip` leaves an object out of the sync altogether. Pure.
 */
import { CONDITION } from './conditions.js';
export const HOOK_ANNOTATIONS = ['berth.dev/hook', 'argocd.argoproj.io/hook'] as const;
export const HOOK_DELETE_POLICY_ANNOTATIONS = [
  'berth.dev/hook-delete-policy',
  'argocd.argoproj.io/hook-delete-policy',
] as const;
/** Which Application ran a hook object (hooks carry no instance label: they are never pruned as desired state). */
export const HOOK_OF_ANNOTATION = 'berth.dev/hook-of';

export const HOOK_PHASES = ['PreSync', 'Sync', 'PostSync', 'SyncFail', 'Skip'] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];
export const DELETE_POLICIES = ['HookSucceeded', 'HookFailed', 'BeforeHookCreation'] as const;
export type DeletePolicy = (typeof DELETE_POLICIES)[number];

type Meta = { metadata?: { annotations?: Record<string, string | undefined> | null } };

function annotation(o: Meta, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = o.metadata?.annotations?.[n];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The phases an object is a hook of; undefined when it is ordinary desired state. */
export function hookPhases(o: Meta): string[] | undefined {
  const v = annotation(o, HOOK_ANNOTATIONS);
  return v === undefined ? undefined : list(v);
}

/** What is wrong with an object's hook annotations, if anything (for the manifest's diagnostics). */
export function hookProblem(o: Meta): string | undefined {
  const phases = hookPhases(o);
  if (phases === undefined) return undefined;
  const bad = phases.filter((p) => !(HOOK_PHASES as readonly string[]).includes(p));
  if (bad.length || !phases.length)
    return `unknown hook phase ${JSON.stringify(bad[0] ?? '')}: one or more of ${HOOK_PHASES.join(', ')}`;
  const policy = annotation(o, HOOK_DELETE_POLICY_ANNOTATIONS);
  const badPolicy =
    policy === undefined ? [] : list(policy).filter((p) => !(DELETE_POLICIES as readonly string[]).includes(p));
  if (badPolicy.length)
    return `unknown hook delete policy ${JSON.stringify(badPolicy[0])}: one or more of ${DELETE_POLICIES.join(', ')}`;
  return undefined;
}

export function deletePolicies(o: Meta): DeletePolicy[] {
  const v = annotation(o, HOOK_DELETE_POLICY_ANNOTATIONS);
  return v === undefined ? ['BeforeHookCreation'] : (list(v) as DeletePolicy[]);
}

export type HookOutcome = 'Running' | 'Succeeded' | 'Failed';

/** Where a hook object is: a Job by its conditions, a Pod by its phase, anything else done once it exists. */
export function hookOutcome(o: { kind: string; status?: unknown }): { outcome: HookOutcome; message?: string } {
  const status = (o.status ?? {}) as {
    phase?: string;
    message?: string;
    conditions?: { type: string; status: string; message?: string; reason?: string }[];
  };
  if (o.kind === 'Job') {
    const done = (status.conditions ?? []).find(
      (c) => (c.type === CONDITION.Complete || c.type === CONDITION.Failed) && c.status === 'True',
    );
    if (!done) return { outcome: 'Running' };
    return done.type === CONDITION.Complete
      ? { outcome: 'Succeeded' }
      : { outcome: 'Failed', message: done.message ?? done.reason ?? 'the Job failed' };
  }
  if (o.kind === 'Pod') {
    if (status.phase === 'Succeeded') return { outcome: 'Succeeded' };
    if (status.phase === 'Failed') return { outcome: 'Failed', message: status.message ?? 'the Pod failed' };
    return { outcome: 'Running' };
  }
  return { outcome: 'Succeeded' };
}
