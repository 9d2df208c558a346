/**
 * `berth logs POD [-c C] [-f] [--previous] [--tail N] [--since 10m]` and `berth exec POD [-c C] --
 * CMD…`, through the server, which passes them to the pod's agent.
 */
import { kindInfo } from '../api/kinds.js';
import { resourcePath, type BerthClient } from '../client/index.js';
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

export async function logsCommand(client: BerthClient, pod: string, o: LogsOptions, io: CommandIO, signal?: AbortSignal): Promise<number> {
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
export async function execCommand(client: BerthClient, pod: string, command: string[], o: { namespace?: string; container?: string }, io: CommandIO): Promise<number> {
  const result = await client.request<{ stdout: string; stderr: string; exitCode: number }>('POST', resourcePath(PODS, o.namespace ?? client.connection.namespace, pod, 'exec'), {
    body: { command, ...(o.container ? { container: o.container } : {}) },
  });
  if (result.stdout) io.stdout(result.stdout);
  if (result.stderr) io.stderr(result.stderr);
  return result.exitCode;
}
