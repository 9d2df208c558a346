/**
 * A persistent pool of loader threads. YAML parsing is the cost of loading manifests and it
 * parallelises per file; keeping the threads (and their JIT-compiled parser and schema
 * validators) alive between loads means a server that re-reads a repository on every commit pays
 * the start-up once. The thread that asked for a load takes batches too once it has nothing else
 * to do (help()), so the pool needs one thread fewer than there are cores: each thread is tens of
 * megabytes. Idle threads are unref'd, so a CLI process still exits when its work is done.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { BerthError } from '../api/errors.js';
import { loadFile, type FileResult, type LoadOptions, type SourceFile } from './load.js';
import { readSourceFile, type ManifestFileRef } from './tree.js';

/** A file on disk (the thread reads it), or one whose bytes are already here (a Git blob). */
export type LoaderInput = ManifestFileRef | SourceFile;

const BATCH_FILES = 16;
/** Batches sent to a thread ahead of its replies. */
const PER_THREAD = 2;
/**
 * The loader threads' young generation (the YAML parser allocates heavily): 128 MB was no faster
 * than 32 in the sync and manifest benchmarks and held 30–60 MB more of the process's memory.
 */
const WORKER_YOUNG_GENERATION_MB = 32;

/**
 * Loads a batch, on whichever thread: files on disk are read first, and one that cannot be read
 * fails the batch with a Usage error naming it.
 */
export function loadBatch(files: LoaderInput[], options: LoadOptions): FileResult[] {
  return files.map((f) => loadFile('bytes' in f ? f : readOrFail(f), options));
}

/** The files' bytes, read from disk where they are references (see loadBatch). */
export function loadInputs(files: LoaderInput[]): SourceFile[] {
  return files.map((f) => ('bytes' in f ? f : readOrFail(f)));
}

function readOrFail(ref: ManifestFileRef): SourceFile {
  try {
    return readSourceFile(ref);
  } catch (e) {
    throw new BerthError('Usage', `cannot read ${ref.display}: ${(e as Error).message}`, { cause: e });
  }
}

/** What a thread started by warm() posts once it has warmed up. */
export const READY = 'ready';

/** A thread answers its requests in the order they were sent (see inFlight). */
export interface WorkerRequest {
  files: LoaderInput[];
  options: LoadOptions;
}
export interface WorkerReply {
  results: FileResult[];
  /** Set when the batch failed (a file could not be read): the error's message. */
  failure?: string;
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
  private readonly queue: Job[] = [];
  /** The batches each thread has been sent and not answered yet, oldest first. */
  private readonly inFlight = new Map<Worker, { job: Job; batch: number }[]>();

  constructor(private readonly size: number) {}

  load(files: LoaderInput[], options: LoadOptions): Promise<FileResult[]> {
    if (files.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const batches: LoaderInput[][] = [];
      for (let i = 0; i < files.length; i += BATCH_FILES) batches.push(files.slice(i, i + BATCH_FILES));
      this.queue.push({ batches, options, next: 0, done: 0, results: new Array(batches.length), resolve, reject });
      const waiting = this.queue.reduce((n, j) => n + j.batches.length - j.next, 0);
      // Not waited for: a thread takes batches as soon as it runs (spawn resolves even when it fails).
      while (this.workers.length < this.size && this.workers.length < waiting) void this.spawn();
      this.dispatch();
    });
  }

  /**
   * Loads, on this thread, the batches no loader thread has taken yet, one per turn of the event
   * loop (the threads' replies, and with them their next batches, are handled in between), until
   * none is left. A caller that has handed its files over and would otherwise only wait calls it.
   */
  async help(): Promise<void> {
    for (;;) {
      const job = this.queue.find((j) => j.next < j.batches.length);
      if (!job) return;
      const batch = job.next++;
      try {
        this.complete(job, batch, loadBatch(job.batches[batch]!, job.options));
      } catch (e) {
        this.fail(job, e as Error);
      }
      await nextTurn();
    }
  }

  /**
   * Starts every thread now, each warming up (see warmup.ts), so the first large load does not
   * wait for them (a server calls this once it has an Application).
   */
  warm(): Promise<void> {
    const ready: Promise<void>[] = [];
    while (this.workers.length < this.size) ready.push(this.spawn(true));
    // Held (ref'd) while they warm up, as while they load: then idle, and unref'd again.
    return Promise.all(ready).then(() => {
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
    this.inFlight.clear();
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
    this.inFlight.set(worker, []);
    return ready;
  }

  /**
   * Keeps every thread PER_THREAD batches ahead: a thread finishing one starts the next at once,
   * without waiting for this thread (busy helping, or reading) to hear its reply.
   */
  private dispatch(): void {
    for (const worker of this.workers) {
      const flights = this.inFlight.get(worker)!;
      while (flights.length < PER_THREAD) {
        const job = this.queue.find((j) => j.next < j.batches.length);
        if (!job) break;
        const batch = job.next++;
        flights.push({ job, batch });
        const request: WorkerRequest = { files: job.batches[batch]!, options: job.options };
        worker.postMessage(request);
      }
      if (flights.length) worker.ref();
      else worker.unref();
    }
  }

  private onReply(worker: Worker, reply: WorkerReply): void {
    const flight = this.inFlight.get(worker)?.shift();
    if (flight) {
      const { job, batch } = flight;
      if (reply.failure !== undefined) this.fail(job, new BerthError('Usage', reply.failure));
      else this.complete(job, batch, reply.results);
    }
    this.dispatch();
  }

  private complete(job: Job, batch: number, results: FileResult[]): void {
    job.results[batch] = results;
    if (++job.done === job.batches.length) this.finish(job);
  }

  private onCrash(worker: Worker, e: Error): void {
    const flights = this.inFlight.get(worker) ?? [];
    this.inFlight.delete(worker);
    this.workers.splice(this.workers.indexOf(worker), 1);
    for (const { job } of flights)
      this.fail(job, new BerthError('Internal', `manifest loader thread failed: ${e.message}`, { cause: e }));
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
