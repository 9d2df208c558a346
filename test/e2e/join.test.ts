/**
 * Joining (security issue, items 12 and 18): an agent whose token or CA pin is wrong tries a
 * bounded number of times, then exits 2 with the reason; an agent that joins keeps its data
 * directory and node token private.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { until } from '../helpers/wait.js';

const exited = (a: AgentProcess) =>
  new Promise<number | null>((resolve) =>
    a.child.exitCode !== null ? resolve(a.child.exitCode) : a.child.once('exit', (code) => resolve(code)),
  );

describe('joining a cluster', () => {
  let server: BerthServerProcess;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    buildOnce();
    server = await startBerthServer();
  }, 120_000);
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await server?.stop();
  });

  it('a wrong token: a bounded retry, then exit 2 with the reason', async () => {
    const good = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    const wrong = good.replace(/\.[a-z0-9]+$/, '.0000000000000000');
    const agent = await startAgent(server, {
      name: 'wrong-token',
      address: '127.0.0.31',
      token: wrong,
      args: ['--join-attempts', '2'],
    });
    agents.push(agent);
    const started = Date.now();
    expect(await exited(agent)).toBe(2);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(agent.logs()).toMatch(
      /error: could not join the cluster: registering the Node failed 2 times: Unauthorized/,
    );
  }, 30_000);

  it("a pin that is not the server's CA: exit 2, refusing to trust it", async () => {
    const good = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    const wrongPin = good.replace(/^B10[0-9a-f]{64}/, `B10${'0'.repeat(64)}`);
    const agent = await startAgent(server, {
      name: 'wrong-pin',
      address: '127.0.0.32',
      token: wrongPin,
      args: ['--join-attempts', '2'],
    });
    agents.push(agent);
    expect(await exited(agent)).toBe(2);
    expect(agent.logs()).toMatch(
      /error: could not join the cluster: checking the server's CA .* did not present a CA matching the join token's pin/,
    );
  }, 30_000);

  it('an agent narrows a data directory and node token it finds readable by others', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-agent-wide-'));
    try {
      chmodSync(dir, 0o755);
      writeFileSync(`${dir}/node.token`, 'stale-format-token\n', { mode: 0o644 });
      chmodSync(`${dir}/node.token`, 0o644);
      // A later --data wins over the helper's: the agent starts in the directory made wide here.
      const agent = await startAgent(server, {
        name: 'wide',
        address: '127.0.0.33',
        args: ['--data', dir, '--join-attempts', '1'],
      });
      agents.push(agent);
      await exited(agent);
      const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);
      expect({ dir: mode(dir), token: mode(`${dir}/node.token`) }).toEqual({ dir: '700', token: '600' });
      expect(agent.logs()).toContain('narrowed to the owner only');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('an agent that joins writes its node token 0600', async () => {
    const agent = await startAgent(server, { name: 'joined', address: '127.0.0.34' });
    agents.push(agent);
    await until('node.token written', async () => statSync(`${agent.dir}/node.token`, { throwIfNoEntry: false }));
    expect((statSync(`${agent.dir}/node.token`).mode & 0o777).toString(8)).toBe('600');
  }, 40_000);
});
