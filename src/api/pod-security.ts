/**
 * Pod Security Standards as Kubernetes' Pod Security Admission checks them (pod-security-admission
 * policy/*.go, "latest"): the baseline and restricted checks, in Kubernetes' order (baseline
 * checks by id, then restricted ones, a restricted check replacing its baseline twin), with
 * Kubernetes' reasons and details, so that a refusal reads as kube-apiserver's:
 *   violates PodSecurity "baseline:latest": hostPath volumes (volume "root")
 * Pure: a level and a pod's metadata and spec in, the failed checks out.
 */
import path from 'node:path';

export const POD_SECURITY_LEVELS = ['privileged', 'baseline', 'restricted'] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/** The Node annotation in which an agent announces its data directory (see protectedHostPaths). */
export const DATA_DIR_ANNOTATION = 'berth.dev/data-dir';

/** The level a namespace enforces: its label, else the server's default; an unreadable label is the strictest (as Kubernetes). */
export function enforcedLevel(
  namespaceLabels: Record<string, string | undefined> | undefined,
  fallback: PodSecurityLevel,
): PodSecurityLevel {
  const value = namespaceLabels?.[ENFORCE_LABEL];
  if (value === undefined) return fallback;
  return (POD_SECURITY_LEVELS as readonly string[]).includes(value) ? (value as PodSecurityLevel) : 'restricted';
}

/** How a server admits pods: the level for unlabelled namespaces, and the folders no pod may mount. */
export interface PodSecurityOptions {
  /** The level of namespaces without an enforce label (`berth server --default-pod-security`). */
  defaultLevel: PodSecurityLevel;
  /** Folders no pod may mount at any level: the server's data directory and the agents'. */
  protectedDirs: () => Promise<string[]>;
}

export interface CheckFailure {
  reason: string;
  detail: string;
}

type Spec = Record<string, any>;
type Meta = { annotations?: Record<string, string | undefined> };

const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat',
]);
const RESTRICTED_VOLUME_TYPES_ALLOWED = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

const plural = (one: string, many: string, n: number): string => (n === 1 ? one : many);
const quote = (xs: readonly string[]): string => (xs.length ? `"${xs.join('", "')}"` : '');
const containersOf = (spec: Spec): Spec[] => [
  ...(spec.initContainers ?? []),
  ...(spec.containers ?? []),
  ...(spec.ephemeralContainers ?? []),
];
const sorted = (s: Set<string>): string[] => [...s].sort();
const containerList = (names: string[]): string => `${plural('container', 'containers', names.length)} ${quote(names)}`;

type Check = (meta: Meta, spec: Spec) => CheckFailure | undefined;

const baseline: Record<string, Check> = {
  capabilities_baseline: (_, spec) => {
    const bad: string[] = [];
    const caps = new Set<string>();
    for (const c of containersOf(spec)) {
      const added = (c.securityContext?.capabilities?.add ?? []).filter((x: string) => !BASELINE_CAPABILITIES.has(x));
      if (added.length) bad.push(c.name);
      for (const x of added) caps.add(x);
    }
    return bad.length
      ? {
          reason: 'non-default capabilities',
          detail: `${containerList(bad)} must not include ${quote(sorted(caps))} in securityContext.capabilities.add`,
        }
      : undefined;
  },
  hostNamespaces: (_, spec) => {
    const on = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((k) => spec[k] === true).map((k) => `${k}=true`);
    return on.length ? { reason: 'host namespaces', detail: on.join(', ') } : undefined;
  },
  hostPathVolumes: (_, spec) => {
    const names = (spec.volumes ?? []).filter((v: Spec) => v.hostPath).map((v: Spec) => v.name as string);
    return names.length
      ? { reason: 'hostPath volumes', detail: `${plural('volume', 'volumes', names.length)} ${quote(names)}` }
      : undefined;
  },
  hostPorts: (_, spec) => {
    const bad: string[] = [];
    const ports = new Set<string>();
    for (const c of containersOf(spec)) {
      const used = (c.ports ?? []).filter((p: Spec) => p.hostPort).map((p: Spec) => String(p.hostPort));
      if (used.length) bad.push(c.name);
      for (const p of used) ports.add(p);
    }
    return bad.length
      ? {
          reason: 'hostPort',
          detail: `${containerList(bad)} ${plural('uses', 'use', bad.length)} ${plural('hostPort', 'hostPorts', ports.size)} ${sorted(ports).join(', ')}`,
        }
      : undefined;
  },
  privileged: (_, spec) => {
    const bad = containersOf(spec)
      .filter((c) => c.securityContext?.privileged === true)
      .map((c) => c.name as string);
    return bad.length
      ? { reason: 'privileged', detail: `${containerList(bad)} must not set securityContext.privileged=true` }
      : undefined;
  },
  procMount: (_, spec) => {
    if (spec.hostUsers === false) return undefined;
    const bad: string[] = [];
    const kinds = new Set<string>();
    for (const c of containersOf(spec)) {
      const m = c.securityContext?.procMount;
      if (m !== undefined && m !== 'Default') {
        bad.push(c.name);
        kinds.add(m);
      }
    }
    return bad.length
      ? {
          reason: 'procMount',
          detail: `${containerList(bad)} must not set securityContext.procMount to ${quote(sorted(kinds))}`,
        }
      : undefined;
  },
  seLinuxOptions: (_, spec) => {
    const values = new Set<string>();
    const wrong = (o: Spec | undefined): boolean => {
      const found = [
        ...(o?.type !== undefined && !SELINUX_TYPES.has(o.type) ? [`type ${JSON.stringify(o.type)}`] : []),
        ...(o?.user ? [`user ${JSON.stringify(o.user)}`] : []),
        ...(o?.role ? [`role ${JSON.stringify(o.role)}`] : []),
      ];
      for (const f of found) values.add(f);
      return found.length > 0;
    };
    const setters = wrong(spec.securityContext?.seLinuxOptions) ? ['pod'] : [];
    const bad = containersOf(spec)
      .filter((c) => wrong(c.securityContext?.seLinuxOptions))
      .map((c) => c.name as string);
    if (bad.length) setters.push(containerList(bad));
    return setters.length
      ? {
          reason: 'seLinuxOptions',
          detail: `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${sorted(values).join('; ')}`,
        }
      : undefined;
  },
  seccompProfile_baseline: (_, spec) => {
    const setters: string[] = [];
    const values = new Set<string>();
    if (spec.securityContext?.seccompProfile?.type === 'Unconfined') (setters.push('pod'), values.add('Unconfined'));
    const bad = containersOf(spec)
      .filter((c) => c.securityContext?.seccompProfile?.type === 'Unconfined')
      .map((c) => c.name as string);
    if (bad.length) (setters.push(containerList(bad)), values.add('Unconfined'));
    return setters.length
      ? {
          reason: 'seccompProfile',
          detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${quote(sorted(values))}`,
        }
      : undefined;
  },
  sysctls: (_, spec) => {
    const bad = (spec.securityContext?.sysctls ?? [])
      .map((s: Spec) => s.name as string)
      .filter((n: string) => !SAFE_SYSCTLS.has(n));
    return bad.length ? { reason: 'forbidden sysctls', detail: bad.join(', ') } : undefined;
  },
  windowsHostProcess: (_, spec) => {
    const setters: string[] = [];
    if (spec.securityContext?.windowsOptions?.hostProcess === true) setters.push('pod');
    const bad = containersOf(spec)
      .filter((c) => c.securityContext?.windowsOptions?.hostProcess === true)
      .map((c) => c.name as string);
    if (bad.length) setters.push(containerList(bad));
    return setters.length
      ? {
          reason: 'hostProcess',
          detail: `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true`,
        }
      : undefined;
  },
};

const restricted: Record<string, Check> = {
  allowPrivilegeEscalation: (_, spec) => {
    const bad = containersOf(spec)
      .filter((c) => c.securityContext?.allowPrivilegeEscalation !== false)
      .map((c) => c.name as string);
    return bad.length
      ? {
          reason: 'allowPrivilegeEscalation != false',
          detail: `${containerList(bad)} must set securityContext.allowPrivilegeEscalation=false`,
        }
      : undefined;
  },
  capabilities_restricted: (_, spec) => {
    const missingDrop: string[] = [];
    const adding: string[] = [];
    const caps = new Set<string>();
    for (const c of containersOf(spec)) {
      const k = c.securityContext?.capabilities;
      if (!(k?.drop ?? []).includes('ALL')) missingDrop.push(c.name);
      const added = (k?.add ?? []).filter((x: string) => x !== 'NET_BIND_SERVICE');
      if (added.length) adding.push(c.name);
      for (const x of added) caps.add(x);
    }
    const details = [
      ...(missingDrop.length
        ? [`${containerList(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`]
        : []),
      ...(adding.length
        ? [`${containerList(adding)} must not include ${quote(sorted(caps))} in securityContext.capabilities.add`]
        : []),
    ];
    return details.length ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined;
  },
  restrictedVolumes: (_, spec) => {
    const bad: string[] = [];
    const types = new Set<string>();
    for (const v of spec.volumes ?? []) {
      const type = Object.keys(v).find((k) => k !== 'name');
      if (type && !RESTRICTED_VOLUME_TYPES_ALLOWED.has(type)) (bad.push(v.name), types.add(type));
    }
    return bad.length
      ? {
          reason: 'restricted volume types',
          detail: `${plural('volume', 'volumes', bad.length)} ${quote(bad)} ${plural('uses', 'use', bad.length)} ${plural('restricted volume type', 'restricted volume types', types.size)} ${quote(sorted(types))}`,
        }
      : undefined;
  },
  runAsNonRoot: (_, spec) => {
    if (spec.hostUsers === false) return undefined;
    const setters: string[] = [];
    const podValue = spec.securityContext?.runAsNonRoot;
    if (podValue === false) setters.push('pod');
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of containersOf(spec)) {
      const v = c.securityContext?.runAsNonRoot;
      if (v === false) explicit.push(c.name);
      else if (v === undefined && podValue !== true) implicit.push(c.name);
    }
    if (explicit.length) setters.push(containerList(explicit));
    if (setters.length)
      return {
        reason: 'runAsNonRoot != true',
        detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`,
      };
    return implicit.length
      ? {
          reason: 'runAsNonRoot != true',
          detail: `pod or ${containerList(implicit)} must set securityContext.runAsNonRoot=true`,
        }
      : undefined;
  },
  runAsUser: (_, spec) => {
    if (spec.hostUsers === false) return undefined;
    const setters: string[] = [];
    if (spec.securityContext?.runAsUser === 0) setters.push('pod');
    const bad = containersOf(spec)
      .filter((c) => c.securityContext?.runAsUser === 0)
      .map((c) => c.name as string);
    if (bad.length) setters.push(containerList(bad));
    return setters.length
      ? { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` }
      : undefined;
  },
  seccompProfile_restricted: (_, spec) => {
    const valid = (t: unknown) => t === 'RuntimeDefault' || t === 'Localhost';
    const setters: string[] = [];
    const values = new Set<string>();
    const podType = spec.securityContext?.seccompProfile?.type;
    if (podType !== undefined && !valid(podType)) (setters.push('pod'), values.add(podType));
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of containersOf(spec)) {
      const t = c.securityContext?.seccompProfile?.type;
      if (t !== undefined && !valid(t)) (explicit.push(c.name), values.add(t));
      else if (t === undefined && !valid(podType)) implicit.push(c.name);
    }
    if (explicit.length) setters.push(containerList(explicit));
    if (setters.length)
      return {
        reason: 'seccompProfile',
        detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${quote(sorted(values))}`,
      };
    return implicit.length
      ? {
          reason: 'seccompProfile',
          detail: `pod or ${containerList(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
        }
      : undefined;
  },
};

/** Restricted checks that replace a baseline one (its stricter twin). */
const OVERRIDES: Record<string, string> = {
  capabilities_restricted: 'capabilities_baseline',
  seccompProfile_restricted: 'seccompProfile_baseline',
};

/** The checks a pod fails at a level, in Kubernetes' order. */
export function checkPodSecurity(level: PodSecurityLevel, meta: Meta, spec: Spec): CheckFailure[] {
  if (level === 'privileged') return [];
  const replaced = level === 'restricted' ? new Set(Object.values(OVERRIDES)) : new Set<string>();
  const checks = [
    ...Object.keys(baseline)
      .sort()
      .filter((id) => !replaced.has(id))
      .map((id) => baseline[id]!),
    ...(level === 'restricted'
      ? Object.keys(restricted)
          .sort()
          .map((id) => restricted[id]!)
      : []),
  ];
  return checks.map((c) => c(meta, spec)).filter((f): f is CheckFailure => f !== undefined);
}

/** Kubernetes' wording: `violates PodSecurity "baseline:latest": hostPath volumes (volume "root"), …`. */
export function podSecurityMessage(level: PodSecurityLevel, failures: CheckFailure[]): string {
  return `violates PodSecurity "${level}:latest": ${failures.map((f) => (f.detail ? `${f.reason} (${f.detail})` : f.reason)).join(', ')}`;
}

/** The pod template of a workload (or a Pod's own metadata and spec); undefined for other kinds. */
export function podTemplateOf(o: {
  kind: string;
  metadata?: unknown;
  spec?: unknown;
}): { meta: Meta; spec: Spec; path: string } | undefined {
  const spec = o.spec as Spec | undefined;
  switch (o.kind) {
    case 'Pod':
      return { meta: (o.metadata ?? {}) as Meta, spec: spec ?? {}, path: 'spec' };
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
    case 'ReplicationController':
      return spec?.template
        ? { meta: spec.template.metadata ?? {}, spec: spec.template.spec ?? {}, path: 'spec.template.spec' }
        : undefined;
    case 'CronJob':
      return spec?.jobTemplate?.spec?.template
        ? {
            meta: spec.jobTemplate.spec.template.metadata ?? {},
            spec: spec.jobTemplate.spec.template.spec ?? {},
            path: 'spec.jobTemplate.spec.template.spec',
          }
        : undefined;
    default:
      return undefined;
  }
}

export interface ProtectedPath {
  volume: string;
  path: string;
  dir: string;
}

/** One hostPath a pod may not have, as the API and syncs say it. */
export const describeProtectedPath = (r: ProtectedPath): string =>
  `hostPath volume "${r.volume}" (${r.path}) reaches Berth's data directory ${r.dir}`;

/**
 * hostPath volumes that reach a protected folder (a server's or an agent's data directory) at any
 * level: the folder itself, anything inside it, or any folder above it (`/` holds them all).
 * Refused at every level, privileged too.
 */
export function protectedHostPaths(spec: Spec, protectedDirs: readonly string[]): ProtectedPath[] {
  const out: ProtectedPath[] = [];
  for (const v of spec.volumes ?? []) {
    const p = typeof v.hostPath?.path === 'string' ? normalizeDir(v.hostPath.path) : undefined;
    if (!p) continue;
    for (const d of protectedDirs.map(normalizeDir))
      if (pathsOverlap(p, d)) out.push({ volume: v.name, path: v.hostPath.path, dir: d });
  }
  return out;
}

/** A folder path normalized (`..` and doubled slashes resolved), without a trailing slash but `/`. */
const normalizeDir = (p: string): string => {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
};

/** Whether `inner` is the folder `outer` or inside it. */
export function pathWithin(inner: string, outer: string): boolean {
  const [i, o] = [normalizeDir(inner), normalizeDir(outer)];
  return o === '/' || i === o || i.startsWith(`${o}/`);
}

/** Whether one of two folders holds the other (or they are the same). */
export const pathsOverlap = (a: string, b: string): boolean => pathWithin(a, b) || pathWithin(b, a);
