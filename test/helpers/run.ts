/** Commands run by tests with their output collected: one-shot with scripted input, or in the background. */
import { spawn } from 'node:child_process';

export interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command; `input` is written in steps (text, or a pause in ms) to its stdin. */
export function run(
  command: string,
  args: string[],
  o: { env?: Record<string, string>; input?: (string | number)[]; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...o.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.stdin.on('error', () => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    void (async () => {
      for (const step of o.input ?? []) {
        if (typeof step === 'number') await new Promise((r) => setTimeout(r, step));
        else child.stdin.write(step);
      }
      child.stdin.end();
    })();
  });
}

/** A long-running command (port-forward), stopped by the test. */
export function background(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return {
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

/**
 * Stops a child we started: SIGTERM, then SIGKILL if it has not exited within `graceMs` (a
 * shutdown that hangs must not hang the test, nor leave the process behind). Resolves once it is gone.
 */
export async function terminate(child: import('node:child_process').ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
