/**
 * `berth logs POD [-c C] [-f] [--previous] [--tail N] [--since 10m]`, `berth exec POD [-c C] [-i]
 * [-t] -- CMD…` and `berth port-forward POD [ADDRESS:]LOCAL:REMOTE`, through the server, which passes
 * them to the pod's agent.
 */
import { kindInfo } from '../api/kinds.js';
import { BerthError } from '../api/errors.js';
import { resourcePath, type BerthClient } from '../client/index.js';
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
}

export async function logsCommand(
  client: BerthClient,
  pod: string,
  o: LogsOptions,
  io: CommandIO,
  signal?: AbortSignal,
): Promise<number> {
  const q = new URLSearchParams();
  if (o.container) q.set('container', o.container);
  if (o.follow) q.set('follow', 'true');
  if (o.previous) q.set('previous', 'true');
  if (o.tail !== undefined) q.set('tailLines', String(o.tail));
  if (o.sinceSeconds !== undefined) q.set('sinceSeconds', String(o.sinceSeconds));
  const path = `${resourcePath(PODS, o.namespace ?? client.connection.namespace, pod, 'log')}${q.size ? `?${q}` : ''}`;
  await client.stream(path, io.stdout, signal);
  return 0;
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
