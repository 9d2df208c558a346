/**
 * `berth logs POD [-c C] [-f] [--previous] [--tail N] [--since 10m]`, `berth exec POD [-c C] [-i]
 * [-t] -- CMD…` and `berth port-forward POD [ADDRESS:]LOCAL:REMOTE`, through the server, which passes
 * them to the pod's agent.
 */
import { kindInfo, resolveKind } from '../api/kinds.js';
import { BerthError } from '../api/errors.js';
import { resourcePath, type BerthClient, type KubeObject } from '../client/index.js';
import { execStream, portForward, type Terminal } from '../client/streams.js';
import type { CommandIO } from './output.js';

const PODS = kindInfo('Pod')!;

export interface LogsOptions {
  namespace?: string;
  container?: string;
  follow: boolean;
  previous: boolean;
  tail?: number;
  sinceSeconds?: number;
  /** --timestamps: each line starts with its RFC 3339 time (the Docker runtime keeps them). */
  timestamps?: boolean;
  /** -l: every pod the selector matches, one after the other (following all at once with -f). */
  selector?: string;
  /** --prefix: each line starts with [pod/NAME/CONTAINER], as kubectl's. */
  prefix?: boolean;
}

/** The workload kinds `logs TYPE/NAME` takes (any of their names and short names), as kubectl: one of their pods is shown. */
const WORKLOADS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job']);

interface PodLike {
  metadata: { name: string; creationTimestamp?: string };
  spec?: { containers?: { name: string }[] };
  status?: { phase?: string };
}

/**
 * The pods `logs` reads: the one named, one pod of a workload (`deploy/web`: "Found 3 pods, using
 * pod/web-…", a running one first, as kubectl), or every pod a selector matches.
 */
async function logTargets(
  client: BerthClient,
  target: string | undefined,
  o: LogsOptions,
  io: CommandIO,
): Promise<PodLike[]> {
  const namespace = o.namespace ?? client.connection.namespace;
  if (o.selector) {
    if (target) throw new BerthError('Usage', 'give a pod or a selector (-l), not both');
    const pods = (await client.list<PodLike & KubeObject>(PODS, { namespace, labelSelector: o.selector })).items;
    if (!pods.length) io.stderr(`No resources found in ${namespace} namespace.\n`);
    return pods;
  }
  if (!target) throw new BerthError('Usage', 'give a pod (NAME, pod/NAME, deploy/NAME, …) or a selector (-l app=web)');
  const slash = target.indexOf('/');
  const info = slash > 0 ? resolveKind(target.slice(0, slash)) : undefined;
  if (!info || !WORKLOADS.has(info.kind)) return [{ metadata: { name: podName(target) } }];
  const workload = await client.get<KubeObject & { spec?: { selector?: { matchLabels?: Record<string, string> } } }>(
    info,
    namespace,
    target.slice(slash + 1),
  );
  const labels = Object.entries(workload.spec?.selector?.matchLabels ?? {});
  if (!labels.length) throw new BerthError('Invalid', `${target} selects its pods by expressions only: use -l`);
  const pods = (
    await client.list<PodLike & KubeObject>(PODS, {
      namespace,
      labelSelector: labels.map(([k, v]) => `${k}=${v}`).join(','),
    })
  ).items;
  if (!pods.length) throw new BerthError('NotFound', `${target} has no pods`);
  // Running first, then the newest, as kubectl's "using pod/…".
  const ranked = [...pods].sort(
    (a, b) =>
      Number(b.status?.phase === 'Running') - Number(a.status?.phase === 'Running') ||
      Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? ''),
  );
  if (pods.length > 1) io.stderr(`Found ${pods.length} pods, using pod/${ranked[0]!.metadata.name}\n`);
  return [ranked[0]!];
}

export async function logsCommand(
  client: BerthClient,
  target: string | undefined,
  o: LogsOptions,
  io: CommandIO,
  signal?: AbortSignal,
): Promise<number> {
  const pods = await logTargets(client, target, o, io);
  const namespace = o.namespace ?? client.connection.namespace;
  const pathOf = (pod: string, container?: string) => {
    const q = new URLSearchParams();
    if (container) q.set('container', container);
    if (o.follow) q.set('follow', 'true');
    if (o.previous) q.set('previous', 'true');
    if (o.timestamps) q.set('timestamps', 'true');
    if (o.tail !== undefined) q.set('tailLines', String(o.tail));
    if (o.sinceSeconds !== undefined) q.set('sinceSeconds', String(o.sinceSeconds));
    return `${resourcePath(PODS, namespace, pod, 'log')}${q.size ? `?${q}` : ''}`;
  };
  // A prefix needs the container's name: the one asked for, or the pod's first.
  const streams = pods.map((pod) => {
    const container = o.container ?? (o.prefix ? pod.spec?.containers?.[0]?.name : undefined);
    const write = o.prefix ? prefixed(`[pod/${pod.metadata.name}/${container ?? ''}] `, io.stdout) : io.stdout;
    return () => client.stream(pathOf(pod.metadata.name, container), write, signal);
  });
  // Following several: all at once (until Ctrl-C); otherwise one after the other, in order.
  if (o.follow && streams.length > 1) await Promise.all(streams.map((s) => s()));
  else for (const s of streams) await s();
  return 0;
}

/** Writes each whole line with the prefix (chunks may split lines). */
function prefixed(prefix: string, write: (text: string) => void): (text: string) => void {
  let partial = '';
  return (text) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    if (lines.length) write(lines.map((l) => prefix + l + '\n').join(''));
  };
}

/** Exit: the command's own exit code; 2 when it could not be run. */
export async function execCommand(
  client: BerthClient,
  pod: string,
  command: string[],
  o: { namespace?: string; container?: string; stdin?: boolean; tty?: boolean },
  term: Terminal,
): Promise<number> {
  const podPath = resourcePath(PODS, o.namespace ?? client.connection.namespace, podName(pod));
  return execStream(
    client.connection,
    podPath,
    {
      command,
      ...(o.container ? { container: o.container } : {}),
      stdin: o.stdin ?? false,
      stdout: true,
      stderr: !o.tty,
      tty: o.tty ?? false,
    },
    term,
  );
}

/** `pod/NAME` or `NAME`. */
function podName(target: string): string {
  const m = /^(?:(?:pods?|po)\/)?([^/]+)$/.exec(target);
  if (!m) throw new BerthError('Usage', `expected a pod (NAME or pod/NAME), not ${JSON.stringify(target)}`);
  return m[1]!;
}

/** `[ADDRESS:]LOCAL:REMOTE` or `PORT` (the same port on both sides). */
export function parsePortSpec(spec: string): { address: string; local: number; remote: number } {
  const parts = spec.split(':');
  const port = (s: string | undefined) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 65535 || s === '')
      throw new BerthError('Usage', `port-forward wants [ADDRESS:]LOCAL:REMOTE or PORT, not ${JSON.stringify(spec)}`);
    return n;
  };
  if (parts.length === 1) return { address: '127.0.0.1', local: port(parts[0]), remote: port(parts[0]) };
  if (parts.length === 2) return { address: '127.0.0.1', local: port(parts[0]), remote: port(parts[1]) };
  if (parts.length === 3) return { address: parts[0]!, local: port(parts[1]), remote: port(parts[2]) };
  throw new BerthError('Usage', `port-forward wants [ADDRESS:]LOCAL:REMOTE or PORT, not ${JSON.stringify(spec)}`);
}

/** Forwards until the signal aborts; prints where it listens, as kubectl does. */
export async function portForwardCommand(
  client: BerthClient,
  pod: string,
  spec: string,
  o: { namespace?: string },
  io: CommandIO,
  signal: AbortSignal,
): Promise<number> {
  const { address, local, remote } = parsePortSpec(spec);
  const podPath = resourcePath(PODS, o.namespace ?? client.connection.namespace, podName(pod));
  // The pod must exist before anything listens: a typo fails at once.
  await client.request('GET', podPath);
  const server = await portForward(client.connection, podPath, address, local, remote, (message) =>
    io.stderr(`error: ${message.trim()}\n`),
  );
  const bound = (server.address() as { port: number }).port;
  io.stdout(`Forwarding from ${address}:${bound} -> ${remote}\n`);
  if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
  await new Promise((r) => server.close(r));
  return 0;
}
