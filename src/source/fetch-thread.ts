/**
 * The fetch thread: one worker per process that runs the Git fetches (git.ts `fetchRemote`), so
 * that a fetch's many small awaits (HTTP, pack parsing, file writes) do not each wait behind the
 * controllers on the server's event loop. Started on the first fetch, it keeps the process alive
 * only while a fetch is under way. A fetch that fails comes back as the SourceError it was; a
 * thread that dies fails what it had and the next fetch starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { BerthError } from '../api/errors.js';
import { SourceError } from './errors.js';
import type { FetchRequest } from './git.js';
import type { SourceCondition } from './types.js';

export type FetchReply =
  | { id: number; result: { defaultBranch?: string } }
  | { id: number; failure: { message: string; condition?: SourceCondition } };

/** BERTH_FETCH_THREAD=0 fetches on the calling thread (a debugging aid). */
export const fetchThreadEnabled = (): boolean => process.env.BERTH_FETCH_THREAD !== '0';

type Pending = { resolve: (r: { defaultBranch?: string }) => void; reject: (e: unknown) => void };

class FetchThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  fetch(request: FetchRequest): Promise<{ defaultBranch?: string }> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    if (this.pending.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...request });
    });
  }

  private start(): Worker {
    const worker = startWorker();
    worker.on('message', (reply: FetchReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if ('result' in reply) p.resolve(reply.result);
      else p.reject(failureOf(reply.failure));
    });
    const died = (e: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      const error = new BerthError('Unavailable', `the Git fetch thread stopped: ${(e as Error)?.message ?? e}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`exit code ${code}`)));
    worker.unref();
    return worker;
  }
}

/** The SourceError the thread saw, rebuilt here (a condition is what the sync reports). */
function failureOf(f: { message: string; condition?: SourceCondition }): Error {
  return f.condition ? new SourceError(f.condition) : new Error(f.message);
}

let shared: FetchThread | undefined;
export const fetchThread = (): FetchThread => (shared ??= new FetchThread());

/** As the loader pool: the built package runs fetch-worker.js; under tsx a bootstrap registers tsx first. */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./fetch-worker.js', import.meta.url));
  const script = new URL('./fetch-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(bootstrap, { eval: true });
}
