/**
 * A keep-alive client posting large bodies back to back loses nothing: Node 20's HTTPS server
 * dropped such a request when it arrived before the previous response had drained (see
 * src/transport/https.ts). Client and server are separate processes, as the loss needs.
 */
import { Agent, request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';

describe('HTTPS keep-alive under backpressure', () => {
  let server: BerthServerProcess;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  beforeAll(async () => {
    buildOnce();
    server = await startBerthServer({ args: ['--log-level', 'error'] });
  });
  afterAll(async () => {
    agent.destroy();
    await server?.stop();
  });

  const post = (name: string, value: string): Promise<number> => {
    const payload = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value } });
    return new Promise((resolve, reject) => {
      const req = request(
        new URL('/api/v1/namespaces/default/configmaps', server.url),
        {
          method: 'POST',
          agent,
          ca: server.ca,
          headers: {
            Authorization: `Bearer ${server.token}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };

  it('takes 250 POSTs of 150 KB on one connection, each answered 201', async () => {
    const value = 'x'.repeat(150 * 1024);
    const failures: string[] = [];
    for (let i = 0; i < 250; i++) {
      // Each response (the object back, 150 KB) is still draining as the next request arrives.
      await post(`big-${i}`, value).then(
        (status) => status !== 201 && failures.push(`big-${i}: HTTP ${status}`),
        (e: Error) => failures.push(`big-${i}: ${e.message}`),
      );
    }
    expect(failures, server.logs().slice(-2000)).toEqual([]);
    expect(server.logs()).not.toMatch(/aborted|HPE_PAUSED/);
  }, 120_000);
});
