/** The fetch thread's side (see fetch-thread.ts): runs each fetch it is sent, several at once. */
import { parentPort } from 'node:worker_threads';
import { SourceError } from './errors.js';
import type { FetchReply } from './fetch-thread.js';
import { fetchRemote, type FetchRequest } from './git.js';

parentPort!.on('message', (request: FetchRequest & { id: number }) => {
  const { id, ...fetch } = request;
  fetchRemote(fetch).then(
    (result) => parentPort!.postMessage({ id, result } satisfies FetchReply),
    (e: unknown) =>
      parentPort!.postMessage({
        id,
        failure: { message: (e as Error).message, ...(e instanceof SourceError ? { condition: e.condition } : {}) },
      } satisfies FetchReply),
  );
});
