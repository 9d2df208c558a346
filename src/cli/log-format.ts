/**
 * Where the server's, agent's and `berth up`'s logs go: JSON lines (pino's own) when stderr is a
 * file or a pipe, for machines to read; on a terminal, one readable line per entry —
 * `14:01:02 INFO  server/sync: reconciled app=shop result=synced` — for the person watching.
 */
import pino from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One pino JSON line as a person reads it (anything that is not JSON passes as it is). */
export function humanLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json + '\n';
  }
  const { level, time, msg, component, subsystem, err, ...fields } = entry;
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
  const who = [component, subsystem].filter((x) => typeof x === 'string').join('/');
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const error = err as { message?: string; stack?: string } | undefined;
  return (
    [at, (LEVELS[level as number] ?? String(level)).padEnd(5), `${who ? `${who}: ` : ''}${String(msg ?? '')}`, rest]
      .filter(Boolean)
      .join(' ') +
    (error ? `\n  ${(error.stack ?? error.message ?? '').split('\n').join('\n  ')}` : '') +
    '\n'
  );
}

/** pino's destination: JSON to stderr, or readable lines when stderr is a terminal. */
export function logDestination(): pino.DestinationStream {
  if (!process.stderr.isTTY) return pino.destination(2);
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) process.stderr.write(humanLine(line));
    },
  };
}
