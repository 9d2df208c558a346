/**
 * Kubernetes' WebSocket channel protocols for exec, attach and port-forward, as kubelet and
 * kube-apiserver speak them (k8s.io/apimachinery/pkg/util/httpstream/wsstream):
 * every binary message starts with a channel byte. exec/attach: 0 stdin, 1 stdout, 2 stderr,
 * 3 error (a Status carrying the exit code), 4 resize ({"Width","Height"}); v5 adds 255, "close
 * this channel" (stdin's end: what `kubectl cp` needs). port-forward: for the i-th requested
 * port, channel 2i carries data and 2i+1 errors, and the first message the server sends on each
 * names the port (two bytes, little-endian).
 */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** exec and attach, newest first: the server picks the first the client offers. */
export const STREAM_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
/** kubectl port-forward (1.30+) tunnels SPDY through a WebSocket with this subprotocol. */
export const SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/** port-forward as plain channels (kubelet's WebSocket port-forward; what `berth port-forward` uses). */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'portforward.k8s.io'] as const;

export function frame(channel: number, data: Uint8Array | string = new Uint8Array()): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = channel;
  out.set(body, 1);
  return out;
}

/** The Status the error channel carries when the command ends (v4 and later). */
export function exitStatus(exitCode: number, command: string[]): Record<string, unknown> {
  if (exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** A Status for a failure before or instead of the command's end (no such container, …). */
export function failureStatus(message: string): Record<string, unknown> {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 };
}

/** The exit code a Status from the error channel stands for; undefined for other failures. */
export function exitCodeOf(status: {
  status?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const code = Number(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message);
  return Number.isInteger(code) ? code : undefined;
}

/** A resize message: kubectl sends {"Width":cols,"Height":rows}. Undefined when it is not one. */
export function parseResize(data: Uint8Array): { cols: number; rows: number } | undefined {
  try {
    const size = JSON.parse(Buffer.from(data).toString('utf8')) as { Width?: unknown; Height?: unknown };
    const cols = Number(size.Width);
    const rows = Number(size.Height);
    return Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 && cols < 10_000 && rows < 10_000
      ? { cols, rows }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The query an exec or attach request carries: command (repeated), container, and which streams. */
export interface StreamRequest {
  command: string[];
  container?: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export function parseStreamRequest(query: URLSearchParams): StreamRequest {
  const flag = (name: string, otherwise: boolean) =>
    query.has(name) ? ['1', 'true'].includes(query.get(name)!) : otherwise;
  const container = query.get('container');
  return {
    command: query.getAll('command'),
    ...(container ? { container } : {}),
    stdin: flag('stdin', false),
    stdout: flag('stdout', true),
    stderr: flag('stderr', true),
    tty: flag('tty', false),
  };
}

export function streamQuery(r: StreamRequest): URLSearchParams {
  const q = new URLSearchParams();
  for (const c of r.command) q.append('command', c);
  if (r.container) q.set('container', r.container);
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) q.set(k, String(r[k]));
  return q;
}

/** The ports a port-forward request names (?ports=8080,9090 or repeated), each 1-65535. */
export function parsePorts(query: URLSearchParams): number[] | string {
  const raw = query
    .getAll('ports')
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter(Boolean);
  if (raw.length === 0) return 'a port-forward needs at least one port (?ports=8080)';
  const ports = raw.map(Number);
  const bad = raw.find((_, i) => !Number.isInteger(ports[i]) || ports[i]! < 1 || ports[i]! > 65535);
  return bad !== undefined ? `port ${JSON.stringify(bad)} is not a number between 1 and 65535` : ports;
}

/** The first message on a port-forward channel: the port, two bytes little-endian. */
export function portPrefix(channel: number, port: number): Buffer {
  return Buffer.from([channel, port & 0xff, port >> 8]);
}
