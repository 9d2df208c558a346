/**
 * ControllerRevisions, as Kubernetes' StatefulSet and DaemonSet controllers keep them
 * (pkg/controller/history): one per pod template the workload has had, named
 * `<workload>-<template hash>`, numbered in order of use, labelled like the template (so the
 * workload's selector finds them, as kubectl's rollout history does) and owned by the workload.
 * A template used again (a rollback) gets its old revision renumbered as the newest. Data is
 * the strategic merge patch that restores the template, as `kubectl rollout undo` applies it.
 * Old revisions beyond revisionHistoryLimit (default 10) go, except the ones pods still run.
 */
import type { PodTemplateSpec } from '../api/types.gen.js';
import { isBerthError } from '../api/errors.js';
import type { KubeObject } from '../runtime/index.js';
import type { ControllerContext } from './context.js';
import { controllerRef, type Owner } from './objects.js';

export const CONTROLLER_REVISION = { group: 'apps', kind: 'ControllerRevision' };
export const REVISION_HASH_LABEL = 'controller-revision-hash';
const CHANGE_CAUSE = 'kubernetes.io/change-cause';
const DEFAULT_HISTORY_LIMIT = 10;

export type RevisionObject = KubeObject & { revision: number; data?: unknown };

export interface RevisionPlan {
  create?: { name: string; revision: number };
  /** An existing revision of the same template, renumbered as the newest. */
  renumber?: { revision: RevisionObject; to: number };
  delete: RevisionObject[];
}

/** Pure: what to write so that `name` is the newest revision, keeping `limit` old ones and every one in use. */
export function planRevisions(
  existing: RevisionObject[],
  name: string,
  limit: number,
  inUse: ReadonlySet<string>,
): RevisionPlan {
  const newest = Math.max(0, ...existing.map((r) => r.revision));
  const same = existing.find((r) => r.metadata.name === name);
  const plan: RevisionPlan = { delete: [] };
  if (!same) plan.create = { name, revision: newest + 1 };
  else if (same.revision !== newest) plan.renumber = { revision: same, to: newest + 1 };
  const old = existing
    .filter((r) => r.metadata.name !== name && !inUse.has(r.metadata.name))
    .sort((a, b) => b.revision - a.revision);
  plan.delete = old.slice(Math.max(0, limit));
  return plan;
}

/** The patch data of a revision: the template, replaced whole. */
export function revisionData(template: PodTemplateSpec): unknown {
  return { spec: { template: { ...template, $patch: 'replace' } } };
}

/**
 * Writes the workload's revisions for its current template. `name` is the revision's name (the
 * hash pods are labelled with is the part after the workload's name), `inUse` the names pods
 * still run.
 */
export async function syncRevisions(
  ctx: ControllerContext,
  owner: Owner & { spec: { template: PodTemplateSpec; revisionHistoryLimit?: number } },
  name: string,
  inUse: ReadonlySet<string>,
): Promise<void> {
  const namespace = owner.metadata.namespace ?? 'default';
  const existing = ctx.informers
    .for<RevisionObject>(CONTROLLER_REVISION)
    .list(namespace)
    .filter((r) => r.metadata.ownerReferences?.some((o) => o.controller && o.uid === owner.metadata.uid));
  const plan = planRevisions(existing, name, owner.spec.revisionHistoryLimit ?? DEFAULT_HISTORY_LIMIT, inUse);
  const cause = owner.metadata.annotations?.[CHANGE_CAUSE];
  try {
    if (plan.create) {
      await ctx.writer.create({
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: {
          name,
          namespace,
          labels: {
            ...(owner.spec.template.metadata?.labels ?? {}),
            [REVISION_HASH_LABEL]: name.slice(owner.metadata.name.length + 1),
          },
          ...(cause ? { annotations: { [CHANGE_CAUSE]: cause } } : {}),
          ownerReferences: [controllerRef(owner)],
        },
        data: revisionData(owner.spec.template),
        revision: plan.create.revision,
      } as RevisionObject);
    }
    if (plan.renumber) {
      const r = plan.renumber.revision;
      const annotations = cause ? { ...(r.metadata.annotations ?? {}), [CHANGE_CAUSE]: cause } : r.metadata.annotations;
      await ctx.writer.update(r, {
        ...r,
        metadata: { ...r.metadata, ...(annotations ? { annotations } : {}) },
        revision: plan.renumber.to,
      });
    }
    for (const r of plan.delete) await ctx.writer.delete(r);
  } catch (e) {
    // The cache was behind: the revision's own watch event brings the workload back.
    if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'AlreadyExists') && !isBerthError(e, 'NotFound')) throw e;
  }
}
