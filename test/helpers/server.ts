/** An API server on a free loopback port with its own data dir and SQLite store, for tests. */
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { openStore, type RevisionedStore } from '../../src/store/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { parseCidr } from '../../src/api/cidr.js';
import { testServiceCidr } from './ports.js';

export interface TestServer extends RunningServer {
  dir: string;
  store: RevisionedStore;
  ca: string;
  /** Stops the server, closes the store and removes the data dir. */
  stop(): Promise<void>;
}

export async function startTestServer(options: { storeUrl?: string; serviceCidr?: string } = {}): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-server-'));
  const store = await openStore(options.storeUrl ?? `sqlite:${path.join(dir, 'state.db')}`);
  try {
    const server = await startServer(store, {
      dataDir: dir,
      listen: '127.0.0.1:0',
      tlsSans: [],
      log: pino({ level: 'silent' }),
      serviceCidr: parseCidr(options.serviceCidr ?? testServiceCidr()),
    });
    return {
      ...server,
      dir,
      store,
      ca: readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8'),
      async stop() {
        await server.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** One HTTPS request to the test server, CA verified. */
export function api(
  server: { url: string; ca: string },
  method: string,
  pathAndQuery: string,
  options: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const url = new URL(pathAndQuery, server.url);
  const payload = options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: server.ca,
        headers: {
          ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
          ...(payload !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON (healthz, metrics)
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
