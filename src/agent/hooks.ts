/**
 * Container lifecycle hooks, as Kubernetes runs them: postStart right after the container starts
 * (a failure kills the container, which is then restarted by its policy), preStop before it is
 * stopped, within the grace period. exec runs in the container; httpGet calls its published
 * port on the node's address; sleep waits.
 */
import type { LifecycleHandler } from '../api/types.gen.js';
import type { ContainerRuntime, RuntimeContainer } from './runtime.js';

/** Runs one hook; resolves to an error message, or undefined on success. */
export async function runHook(
  handler: LifecycleHandler,
  instance: RuntimeContainer,
  runtime: ContainerRuntime,
  address: string,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    if (handler.exec?.command?.length) {
      const r = await runtime.exec(instance.id, handler.exec.command, { timeoutMs });
      return r.exitCode === 0
        ? undefined
        : `exec ${JSON.stringify(handler.exec.command)} exited with ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`;
    }
    if (handler.httpGet) {
      const p = handler.httpGet.port;
      const port =
        instance.ports.find((b) => (typeof p === 'number' ? b.containerPort === p : b.name === p))?.hostPort ??
        (typeof p === 'number' ? p : undefined);
      if (port === undefined) return `httpGet: no port ${JSON.stringify(p)}`;
      const res = await fetch(`http://${handler.httpGet.host || address}:${port}${handler.httpGet.path ?? '/'}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => {});
      return res.status < 400 ? undefined : `httpGet answered ${res.status}`;
    }
    if (handler.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(timeoutMs, handler.sleep!.seconds * 1000)));
      return undefined;
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
