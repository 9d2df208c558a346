/**
 * A persistent pool of loader threads. YAML parsing is the cost of loading manifests and it
 * parallelises per file; keeping the threads (and their JIT-compiled parser and schema
 * validators) alive between loads means a server that re-reads a repository on every commit pays
 * the start-up once. Idle threads are unref'd, so a CLI process still exits when its work is done.
 */
import { Worker } from 'node:worker_threads';
import { BerthError } from '../api/errors.js';
import type { FileResult, LoadOptions, SourceFile } from './load.js';
import type { ManifestFileRef } from './tree.js';

/** A file on disk (the thread reads it), or one whose bytes are already here (a Git blob). */
export type LoaderInput = ManifestFileRef | SourceFile;

const BATCH_FILES = 16;
/** A larger young generation means fewer scavenges: the YAML parser allocates heavily. */
const WORKER_YOUNG_GENERATION_MB = 128;

/** What a thread started by warm() posts once it has warmed up. */
export const READY = 'ready';

export interface WorkerRequest {
  id: number;
  files: LoaderInput[];
  options: LoadOptions;
}
export interface WorkerReply {
  id: number;
  results: FileResult[];
  /** Set when a file could not be read at all. */
  ioError?: { file: string; message: string };
}

interface Job {
  batches: LoaderInput[][];
  options: LoadOptions;
  next: number;
  done: number;
  results: FileResult[][];
  resolve(results: FileResult[]): void;
  reject(e: Error): void;
}

export class LoaderPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly inFlight = new Map<Worker, { job: Job; batch: number }>();
  private nextId = 0;

  constructor(private readonly size: number) {}

  load(files: LoaderInput[], options: LoadOptions): Promise<FileResult[]> {
    if (files.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const batches: LoaderInput[][] = [];
      for (let i = 0; i < files.length; i += BATCH_FILES) batches.push(files.slice(i, i + BATCH_FILES));
      this.queue.push({ batches, options, next: 0, done: 0, results: new Array(batches.length), resolve, reject });
      const waiting = this.queue.reduce((n, j) => n + j.batches.length - j.next, 0);
      while (this.workers.length < this.size && this.workers.length < waiting) this.spawn();
      this.dispatch();
    });
  }

  /**
   * Starts every thread now, each warming up (see warmup.ts), so the first large load does not
   * wait for them: a server calls this as it starts.
   */
  warm(): Promise<void> {
    const ready: Promise<void>[] = [];
    while (this.workers.length < this.size) ready.push(this.spawn(true));
    // Held (ref'd) while they warm up, as while they load: then idle, and unref'd again.
    return Promise.all(ready).then(() => {
      for (const w of this.idle) w.unref();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
    this.idle.length = 0;
  }

  /** Resolves when the thread has warmed up (asked to) or failed: it is usable either way. */
  private spawn(warm = false): Promise<void> {
    const worker = startWorker(warm);
    const ready = new Promise<void>((resolve) => {
      worker.once('error', () => resolve());
      worker.on('message', (reply: WorkerReply | typeof READY) => {
        if (reply === READY) resolve();
        else this.onReply(worker, reply);
      });
    });
    worker.on('error', (e) => this.onCrash(worker, e));
    this.workers.push(worker);
    this.idle.push(worker);
    return ready;
  }

  private dispatch(): void {
    while (this.idle.length > 0) {
      const job = this.queue.find((j) => j.next < j.batches.length);
      if (!job) break;
      const worker = this.idle.pop()!;
      const batch = job.next++;
      this.inFlight.set(worker, { job, batch });
      worker.ref();
      const request: WorkerRequest = { id: this.nextId++, files: job.batches[batch]!, options: job.options };
      worker.postMessage(request);
    }
    for (const w of this.idle) w.unref();
  }

  private onReply(worker: Worker, reply: WorkerReply): void {
    const flight = this.inFlight.get(worker);
    this.inFlight.delete(worker);
    this.idle.push(worker);
    if (flight) {
      const { job, batch } = flight;
      if (reply.ioError) this.fail(job, new BerthError('Usage', `cannot read ${reply.ioError.file}: ${reply.ioError.message}`));
      else {
        job.results[batch] = reply.results;
        if (++job.done === job.batches.length) this.finish(job);
      }
    }
    this.dispatch();
  }

  private onCrash(worker: Worker, e: Error): void {
    const flight = this.inFlight.get(worker);
    this.inFlight.delete(worker);
    this.workers.splice(this.workers.indexOf(worker), 1);
    if (flight) this.fail(flight.job, new BerthError('Internal', `manifest loader thread failed: ${e.message}`, { cause: e }));
    this.dispatch();
  }

  private finish(job: Job): void {
    this.queue.splice(this.queue.indexOf(job), 1);
    job.resolve(job.results.flat());
  }

  private fail(job: Job, e: Error): void {
    const at = this.queue.indexOf(job);
    if (at === -1) return;
    this.queue.splice(at, 1);
    job.next = job.batches.length; // stop handing out its batches
    job.reject(e);
  }
}

/**
 * The built package runs worker.js directly. Under vitest or tsx the sources are .ts, and a worker
 * does not inherit the TypeScript loader: a small bootstrap registers tsx in the worker first.
 */
function startWorker(warm: boolean): Worker {
  const settings = { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB }, workerData: { warm } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), settings);
  const script = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(bootstrap, { ...settings, eval: true });
}
