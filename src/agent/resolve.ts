/**
 * A pod's containers as the runtime needs them: environment (values with `$(VAR)` references,
 * envFrom and valueFrom: ConfigMap and Secret keys, fieldRef, resourceFieldRef), and volumes as
 * directories on the node (emptyDir, hostPath, configMap and secret files with items and
 * defaultMode, a directory per PersistentVolumeClaim kept across pods). What cannot be resolved
 * (a missing ConfigMap that is not optional, an unsupported volume) is an error naming it.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { parseQuantity } from '../api/quantity.js';
import { pathWithin, pathsOverlap, protectedHostPaths } from '../api/pod-security.js';
import { LOCAL_PATH_CLASS, claimDirectory, claimsFolder } from '../api/storage.js';
import type { Container, EnvVar, Volume } from '../api/types.gen.js';
import type { PodObject } from '../api/objects.js';
import type { ContainerSpec, PortBinding } from './runtime.js';
import { hostAliasesOf, podDns, podHosts, type NodeDns } from './dns-config.js';
import type { NfsShare } from './nfs.js';

export type { PodObject } from '../api/objects.js';
export type DataObject = { data?: Record<string, string>; binaryData?: Record<string, string> };
/** Reads a ConfigMap or Secret of the pod's namespace; undefined when it does not exist. */
export type Lookup = (kind: 'ConfigMap' | 'Secret', name: string) => Promise<DataObject | undefined>;

export class ResolveError extends Error {}

const decode = (kind: 'ConfigMap' | 'Secret', o: DataObject): Record<string, Buffer> => {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(o.data ?? {}))
    out[k] = kind === 'Secret' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries(o.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
};

async function dataOf(
  lookup: Lookup,
  kind: 'ConfigMap' | 'Secret',
  name: string | undefined,
  optional: boolean | undefined,
  what: string,
): Promise<Record<string, Buffer> | undefined> {
  const o = name ? await lookup(kind, name) : undefined;
  if (!o) {
    if (optional) return undefined;
    throw new ResolveError(`${kind.toLowerCase()} "${name ?? ''}" not found (${what})`);
  }
  return decode(kind, o);
}

/** `$(VAR)` expands to an earlier variable; `$$(VAR)` is a literal `$(VAR)`, as Kubernetes does. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m,
  );
}

function fieldValue(pod: PodObject, node: string, address: string, fieldPath: string): string {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (label) return (label[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[label[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return node;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.hostIP':
      return address;
    default:
      throw new ResolveError(`unsupported fieldRef ${JSON.stringify(fieldPath)}`);
  }
}

function resourceValue(c: Container, resource: string, divisor: string | number | undefined): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const q = c.resources?.[kind]?.[name];
  if (q === undefined) return name === 'cpu' ? '1' : '0';
  const d = divisor !== undefined ? parseQuantity(divisor).nanos : 10n ** 9n;
  const v = parseQuantity(q).nanos;
  return String((v + d - 1n) / d);
}

/** A container's environment: `services` (the Service variables) first, as the kubelet orders it. */
export async function resolveEnv(
  pod: PodObject,
  c: Container,
  lookup: Lookup,
  node: string,
  address: string,
  services: Record<string, string> = {},
): Promise<Record<string, string>> {
  const env: Record<string, string> = { ...services };
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const data = await dataOf(lookup, kind, ref?.name, ref?.optional, `envFrom of container ${c.name}`);
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${k}`] = v.toString('utf8');
  }
  for (const e of c.env ?? ([] as EnvVar[])) {
    const src = e.valueFrom;
    if (!src) env[e.name] = expand(e.value ?? '', env);
    else if (src.configMapKeyRef || src.secretKeyRef) {
      const ref = (src.configMapKeyRef ?? src.secretKeyRef)!;
      const kind = src.configMapKeyRef ? 'ConfigMap' : 'Secret';
      const data = await dataOf(lookup, kind, ref.name, ref.optional, `env ${e.name} of container ${c.name}`);
      const v = data?.[ref.key];
      if (v === undefined && !ref.optional && data)
        throw new ResolveError(
          `${kind.toLowerCase()} "${ref.name}" has no key "${ref.key}" (env ${e.name} of container ${c.name})`,
        );
      if (v !== undefined) env[e.name] = v.toString('utf8');
    } else if (src.fieldRef) env[e.name] = fieldValue(pod, node, address, src.fieldRef.fieldPath);
    else if (src.resourceFieldRef) {
      const target = pod.spec?.containers.find((x) => x.name === (src.resourceFieldRef!.containerName || c.name)) ?? c;
      env[e.name] = resourceValue(target, src.resourceFieldRef.resource, src.resourceFieldRef.divisor);
    }
  }
  return env;
}

/**
 * Writes a ConfigMap's or Secret's keys as files (items pick and rename), replacing what was there.
 * Called at every sync of the pod, while its containers read the files: a file whose content is
 * unchanged is left alone, a changed one is replaced whole (renamed into place), and only what is
 * no longer wanted is removed — the directories leading to an item's path (`renamed/b`) stay.
 */
export function writeDataDir(
  dir: string,
  data: Record<string, Buffer>,
  items: { key: string; path: string; mode?: number }[] | undefined,
  mode: number,
): void {
  const wanted = new Map<string, { content: Buffer; mode: number }>();
  if (items?.length)
    for (const i of items) {
      // Validation refuses such paths; a pod stored before it did is refused here (the agent runs as root).
      if (!staysInside(dir, i.path))
        throw new ResolveError(`item path ${JSON.stringify(i.path)} of key ${i.key} is outside its volume`);
      if (data[i.key]) wanted.set(path.normalize(i.path), { content: data[i.key]!, mode: i.mode ?? mode });
    }
  else for (const [k, v] of Object.entries(data)) wanted.set(k, { content: v, mode });
  mkdirSync(dir, { recursive: true });
  removeUnwanted(dir, '', wanted, parentsOf(wanted.keys()));
  for (const [rel, { content, mode: m }] of wanted) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    const current = existsSync(file) ? readFileSync(file) : undefined;
    if (!current || !current.equals(content)) {
      const next = `${file}.berth-new`;
      writeFileSync(next, content);
      renameSync(next, file);
    }
    chmodSync(file, m);
  }
}

/** Whether a relative path (an item's, a subPath) names something inside `dir`, by its text. */
const staysInside = (dir: string, rel: string): boolean =>
  !path.isAbsolute(rel) && pathWithin(path.join(dir, rel), dir);

/** Every directory on the way to the given relative paths (`a/b/c` → `a`, `a/b`). */
function parentsOf(paths: Iterable<string>): Set<string> {
  const parents = new Set<string>();
  for (const p of paths) for (let d = path.dirname(p); d !== '.' && d !== '/'; d = path.dirname(d)) parents.add(d);
  return parents;
}

function removeUnwanted(root: string, rel: string, wanted: Map<string, unknown>, parents: Set<string>): void {
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? path.join(rel, entry.name) : entry.name;
    if (wanted.has(p) && !entry.isDirectory()) continue;
    if (parents.has(p) && entry.isDirectory()) removeUnwanted(root, p, wanted, parents);
    else rmSync(path.join(root, p), { recursive: true, force: true });
  }
}

/**
 * A mount's subPath on the node: inside its volume, also once symlinks are followed (a container
 * may have made `data -> /` in an emptyDir another container mounts `data` of: the subPath attack
 * Kubernetes fixed in CVE-2017-1002101). What exists of the path is resolved; an NFS volume's
 * directory is the share's, checked by the path alone.
 */
export function subPathSource(volume: VolumeSource, subPath: string, container: string): string {
  const refuse = () =>
    new ResolveError(`container ${container}: subPath ${JSON.stringify(subPath)} is outside its volume`);
  if (!staysInside(volume.path, subPath)) throw refuse();
  const source = path.join(volume.path, subPath);
  if (volume.nfs || !existsSync(volume.path)) return source;
  let existing = source;
  while (!lstatSync(existing, { throwIfNoEntry: false })) existing = path.dirname(existing);
  let real: string | undefined;
  try {
    real = realpathSync(existing);
  } catch {
    // a symlink that leads nowhere: refused below
  }
  if (!real || !pathWithin(real, realpathSync(volume.path))) throw refuse();
  return source;
}

/**
 * What the agent needs of a claim: whether it is bound, and where its volume's data is — a
 * directory on this node, or (`nfs`) the share of its NFS volume.
 */
export type ClaimLookup = (name: string) => Promise<
  | {
      spec?: { storageClassName?: string };
      status?: { phase?: string; path?: string };
      nfs?: NfsShare & { readOnly?: boolean };
    }
  | undefined
>;

/** Where a volume's data is for the pod's containers: a directory on the node, with an NFS share mounted there. */
export interface VolumeSource {
  path: string;
  nfs?: NfsShare;
  readOnly?: boolean;
}

/** Makes (or refreshes) every volume's directory; returns them by volume name. */
export async function prepareVolumes(
  pod: PodObject,
  dataDir: string,
  lookup: Lookup,
  claims?: ClaimLookup,
): Promise<Map<string, VolumeSource>> {
  const out = new Map<string, VolumeSource>();
  const podDir = path.join(dataDir, 'pods', pod.metadata.uid ?? pod.metadata.name, 'volumes');
  // The server refuses such pods; the agent, which knows its own folder for sure, refuses them too.
  const reaching = protectedHostPaths(pod.spec ?? {}, [path.resolve(dataDir)]);
  if (reaching.length)
    throw new ResolveError(
      `hostPath ${reaching[0]!.path} (volume ${reaching[0]!.volume}) reaches the agent's data directory ${reaching[0]!.dir}: no pod may mount it`,
    );
  for (const v of (pod.spec?.volumes ?? []) as Volume[]) {
    const dir = path.join(podDir, v.name);
    if (v.emptyDir) mkdirSync(dir, { recursive: true });
    else if (v.hostPath) {
      if (v.hostPath.type === 'DirectoryOrCreate') mkdirSync(v.hostPath.path, { recursive: true });
      else if (!existsSync(v.hostPath.path) && v.hostPath.type)
        throw new ResolveError(`hostPath ${v.hostPath.path} does not exist (volume ${v.name})`);
      out.set(v.name, { path: v.hostPath.path });
      continue;
    } else if (v.nfs) {
      // Mounted at the volume's directory when a container starts (see agent/nfs.ts).
      mkdirSync(dir, { recursive: true });
      out.set(v.name, {
        path: dir,
        nfs: { server: v.nfs.server, path: v.nfs.path },
        ...(v.nfs.readOnly ? { readOnly: true } : {}),
      });
      continue;
    } else if (v.configMap) {
      const data = await dataOf(lookup, 'ConfigMap', v.configMap.name, v.configMap.optional, `volume ${v.name}`);
      writeDataDir(dir, data ?? {}, v.configMap.items, v.configMap.defaultMode ?? 0o644);
    } else if (v.secret) {
      const data = await dataOf(lookup, 'Secret', v.secret.secretName, v.secret.optional, `volume ${v.name}`);
      writeDataDir(dir, data ?? {}, v.secret.items, v.secret.defaultMode ?? 0o644);
    } else if (v.persistentVolumeClaim) {
      const name = v.persistentVolumeClaim.claimName;
      const claim = claims ? await claims(name) : undefined;
      const bound = claim?.status?.phase === 'Bound' ? claim.status.path : undefined;
      const cls = claim?.spec?.storageClassName;
      if (claims && !claim) throw new ResolveError(`persistentvolumeclaim "${name}" not found`);
      if (claim?.status?.phase === 'Bound' && claim.nfs) {
        const { readOnly, ...share } = claim.nfs;
        const mountPoint = path.join(podDir, v.name);
        mkdirSync(mountPoint, { recursive: true });
        out.set(v.name, {
          path: mountPoint,
          nfs: share,
          ...(readOnly || v.persistentVolumeClaim.readOnly ? { readOnly: true } : {}),
        });
        continue;
      }
      if (claim?.status?.phase === 'Bound' && !bound)
        throw new ResolveError(
          `persistentvolumeclaim "${name}" is bound to a volume with no directory on this node and no NFS share`,
        );
      // A claim of another class waits for its volume, as the kubelet waits to mount it.
      if (!bound && cls !== undefined && cls !== LOCAL_PATH_CLASS)
        throw new ResolveError(`persistentvolumeclaim "${name}" is not bound to a volume yet`);
      // Bound: its volume's directory. Local-path, bound or about to be: one directory per claim on
      // the node (the path its volume gets), outliving the pod as the claim does.
      const data = path.resolve(dataDir);
      const dir = bound ? path.resolve(bound) : claimDirectory(data, pod.metadata.namespace ?? 'default', name);
      // A volume may not reach the agent's own data (its tokens, other pods' files) but through its claims' folder.
      if (bound && pathsOverlap(dir, data) && !pathWithin(dir, claimsFolder(data)))
        throw new ResolveError(
          `persistentvolumeclaim "${name}": its volume's path ${bound} reaches the agent's data directory ${dataDir}: no pod may mount it`,
        );
      mkdirSync(dir, { recursive: true });
      out.set(v.name, { path: dir, ...(v.persistentVolumeClaim.readOnly ? { readOnly: true } : {}) });
      continue;
    } else
      throw new ResolveError(
        `volume ${v.name}: only emptyDir, hostPath, configMap, secret, nfs and persistentVolumeClaim volumes are supported`,
      );
    out.set(v.name, { path: dir });
  }
  return out;
}

export interface ResolvedContainer {
  spec: ContainerSpec;
  container: Container;
}

/**
 * Host ports for every port of the pod (its containers share one network): a fixed hostPort (or
 * the containerPort under hostNetwork) as asked, else the one it had (`known`), else a new one —
 * for a pod addressed by name (a subdomain: StatefulSet pods behind a headless Service,
 * `db-0.db:5432`) the container's own port when free, so its name and port reach it as on
 * Kubernetes; for others any free one (a well-known port such as 8080 is not taken from the
 * machine for a pod only Services and Ingresses reach).
 */
export async function podPorts(
  pod: PodObject,
  known: PortBinding[],
  allocate: (preferred?: number) => Promise<number>,
): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      const had = known.find((k) => k.container === c.name && k.containerPort === p.containerPort);
      const hostPort =
        p.hostPort ||
        (pod.spec?.hostNetwork
          ? p.containerPort
          : (had?.hostPort ?? (await allocate(pod.spec?.subdomain ? p.containerPort : undefined))));
      out.push({
        container: c.name,
        ...(p.name ? { name: p.name } : {}),
        containerPort: p.containerPort,
        hostPort,
        protocol: (p.protocol ?? 'TCP') as PortBinding['protocol'],
      });
    }
  }
  return out;
}

const cpuMillis = (q: string | number | undefined) =>
  q === undefined ? undefined : Number(parseQuantity(q).milliValue());
const bytes = (q: string | number | undefined) => (q === undefined ? undefined : Number(parseQuantity(q).intValue()));

/** One container's runtime spec. */
export async function containerSpec(
  pod: PodObject,
  c: Container,
  restartCount: number,
  o: {
    lookup: Lookup;
    node: string;
    address: string;
    volumes: Map<string, VolumeSource>;
    podPorts: PortBinding[];
    serviceEnv?: Record<string, string>;
    nodeDns?: NodeDns;
  },
): Promise<ContainerSpec> {
  const dns = o.nodeDns ? podDns(pod, o.nodeDns) : undefined;
  const aliases = hostAliasesOf(pod);
  const ports = o.podPorts.filter((p) => p.container === c.name);
  const limits = {
    ...(c.resources?.limits?.cpu !== undefined ? { cpuMillis: cpuMillis(c.resources.limits.cpu)! } : {}),
    ...(c.resources?.limits?.memory !== undefined ? { memoryBytes: bytes(c.resources.limits.memory)! } : {}),
  };
  const mounts = (c.volumeMounts ?? []).map((m) => {
    const volume = o.volumes.get(m.name);
    if (!volume) throw new ResolveError(`container ${c.name} mounts volume ${m.name}, which the pod does not declare`);
    return {
      volume: m.name,
      source: m.subPath ? subPathSource(volume, m.subPath, c.name) : volume.path,
      mountPath: m.mountPath,
      readOnly: Boolean(m.readOnly || volume.readOnly),
      ...(volume.nfs
        ? { nfs: { ...volume.nfs, mountPoint: volume.path, ...(m.subPath ? { subPath: m.subPath } : {}) } }
        : {}),
    };
  });
  const sc = c.securityContext;
  return {
    podUid: pod.metadata.uid ?? '',
    podName: pod.metadata.name,
    namespace: pod.metadata.namespace ?? 'default',
    name: c.name,
    restartCount,
    image: c.image,
    command: c.command ?? [],
    args: c.args ?? [],
    env: await resolveEnv(
      pod,
      c,
      o.lookup,
      o.node,
      o.address,
      pod.spec?.enableServiceLinks === false ? {} : o.serviceEnv,
    ),
    ...(c.workingDir ? { workingDir: c.workingDir } : {}),
    ports,
    mounts,
    address: o.address,
    podPorts: o.podPorts,
    sharedNetwork: (pod.spec?.containers.length ?? 0) + (pod.spec?.initContainers?.length ?? 0) > 1,
    ...(pod.spec?.hostNetwork ? { hostNetwork: true } : {}),
    ...(c.imagePullPolicy ? { imagePullPolicy: c.imagePullPolicy } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(c.resources?.requests?.cpu !== undefined ? { cpuRequestMillis: cpuMillis(c.resources.requests.cpu)! } : {}),
    ...(sc?.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    ...(sc?.privileged ? { privileged: true } : {}),
    ...(sc?.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
    ...(sc?.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
    ...(dns ? { dns } : {}),
    ...(o.nodeDns ? { hosts: podHosts(pod, o.address, o.nodeDns.domain) } : {}),
    ...(aliases.length ? { hostAliases: aliases } : {}),
  };
}
