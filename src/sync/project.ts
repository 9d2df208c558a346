/**
 * Projects (Argo CD's AppProject): what the commits of an Application may write. Pure: the rules
 * of a project, an Application and the objects of a commit in, the violations out, each naming
 * the file and line of the object that broke a rule. A commit with any violation is refused whole.
 *
 * Rules every project has, whatever its spec: `berth-system` is Berth's alone (nothing is written
 * into it, and no Namespace of that name), no Secret of a `berth.dev/` type (API tokens, agent
 * endpoints) is written, and an AppProject is written only where a project names that kind
 * explicitly (a `*` does not grant it). An Application a commit writes (app of apps) must belong
 * to the writing Application's own project.
 */
import { groupOf } from '../api/kinds.js';
import { SYSTEM_NAMESPACE } from '../api/namespaces.js';

export interface GroupKind {
  group: string;
  kind: string;
}

export interface ProjectSpec {
  sourceRepos?: string[];
  destinations?: { namespace: string }[];
  clusterResourceWhitelist?: GroupKind[];
  namespaceResourceBlacklist?: GroupKind[];
}

export const DEFAULT_PROJECT_NAME = 'default';

/** The built-in `default` project (used while no AppProject of that name exists): anything but the rules above. */
export const DEFAULT_PROJECT: ProjectSpec = {
  sourceRepos: ['*'],
  destinations: [{ namespace: '*' }],
  clusterResourceWhitelist: [{ group: '*', kind: '*' }],
  namespaceResourceBlacklist: [],
};

export interface ProjectObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  type?: unknown;
  spec?: unknown;
}

export interface Located<T> {
  object: T;
  source: { file: string; line: number };
}

export interface Violation {
  file?: string;
  line?: number;
  message: string;
}

/** A glob as Argo CD's: a lone `*` is anything; else `*` within a path segment, `**` across segments, `?` one character. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*/g, '\u0000')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '.')
    .replace(/\u0000/g, '.*');
  return new RegExp(`^${re}$`).test(value);
}

const matchesGroupKind = (rule: GroupKind, group: string, kind: string): boolean =>
  globMatch(rule.group, group) && globMatch(rule.kind, kind);

/** The project's answer for the Application itself: may it take manifests from this repository? */
export function checkSource(projectName: string, project: ProjectSpec, repoURL: string): Violation[] {
  if ((project.sourceRepos ?? []).some((r) => globMatch(r, repoURL))) return [];
  return [
    {
      message: `repository ${repoURL} is not permitted in project ${projectName} (its sourceRepos: ${(project.sourceRepos ?? []).join(', ') || 'none'})`,
    },
  ];
}

/**
 * The objects of a commit against the project. `namespaced` tells a kind's scope (from the
 * kinds Berth serves).
 */
export function checkObjects(
  projectName: string,
  project: ProjectSpec,
  objects: Located<ProjectObject>[],
  namespaced: (apiVersion: string, kind: string) => boolean,
): Violation[] {
  const out: Violation[] = [];
  for (const { object: o, source } of objects) {
    const group = groupOf(o.apiVersion);
    const ns = o.metadata.namespace;
    const refuse = (rule: string) =>
      out.push({
        file: source.file,
        line: source.line,
        message: `${o.kind} ${ns ? `${ns}/` : ''}${o.metadata.name}: ${rule}`,
      });
    if (ns === SYSTEM_NAMESPACE || (o.kind === 'Namespace' && o.metadata.name === SYSTEM_NAMESPACE)) {
      refuse(`namespace ${SYSTEM_NAMESPACE} belongs to Berth alone: no commit writes to it`);
      continue;
    }
    if (o.kind === 'Secret' && typeof o.type === 'string' && o.type.startsWith('berth.dev/')) {
      refuse(`Secrets of type ${o.type} are Berth's own (tokens, agent endpoints): no commit writes them`);
      continue;
    }
    if (namespaced(o.apiVersion, o.kind)) {
      if (!(project.destinations ?? []).some((d) => globMatch(d.namespace, ns ?? '')))
        refuse(`namespace ${ns} is not a destination of project ${projectName}`);
      else if ((project.namespaceResourceBlacklist ?? []).some((r) => matchesGroupKind(r, group, o.kind)))
        refuse(`kind ${group || 'core'}/${o.kind} is blacklisted in project ${projectName}`);
    } else {
      const allowed =
        o.kind === 'AppProject' && group === 'berth.dev'
          ? (project.clusterResourceWhitelist ?? []).some((r) => r.group === group && r.kind === o.kind)
          : (project.clusterResourceWhitelist ?? []).some((r) => matchesGroupKind(r, group, o.kind));
      if (!allowed)
        refuse(
          `cluster-scoped kind ${group || 'core'}/${o.kind} is not in the clusterResourceWhitelist of project ${projectName}${o.kind === 'AppProject' ? ' (AppProject must be named there explicitly)' : ''}`,
        );
    }
    if (o.kind === 'Application' && group === 'berth.dev') {
      const child = (o.spec as { project?: string } | undefined)?.project ?? DEFAULT_PROJECT_NAME;
      if (child !== projectName)
        refuse(`an Application written by a commit belongs to its parent's project ${projectName}, not ${child}`);
    }
  }
  return out;
}

export function formatViolation(v: Violation): string {
  return v.file ? `${v.file}:${v.line}: ${v.message}` : v.message;
}
