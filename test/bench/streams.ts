/**
 * The streams that go through the server to a pod's agent: port-forward throughput (berth's
 * channel protocol, and kubectl's SPDY tunnelled in a WebSocket) beside the same download
 * straight from the pod's host port (the peer: what forwarding costs), and exec round trips
 * (a WebSocket upgrade through the server, a process in the pod, the exit status back), p50/p99.
 * A real `berth server` and one process-runtime agent; the pod serves a 32 MiB file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { kindInfo } from '../../src/api/kinds.js';
import { resourcePath } from '../../src/client/index.js';
import { execStream } from '../../src/client/streams.js';
import { startAgent } from '../helpers/agents.js';
import { BERTH, buildOnce, startBerthServer } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const FILE_MB = 32;
const DOWNLOADS = 5;
const EXECS = 50;
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const progress = (msg: string) => process.stderr.write(`streams: ${msg}\n`);

async function download(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  if (bytes !== FILE_MB * 1024 * 1024) throw new Error(`downloaded ${bytes} bytes from ${url}`);
  return performance.now() - started;
}

/** MB/s over DOWNLOADS downloads (the first one warms up and is not counted). */
async function throughput(url: string): Promise<number> {
  await download(url);
  let ms = 0;
  for (let i = 0; i < DOWNLOADS; i++) ms += await download(url);
  return Math.round((FILE_MB * DOWNLOADS) / (ms / 1000));
}

async function forwarded(command: string, args: string[], env: Record<string, string>, port: number): Promise<number> {
  const child: ChildProcess = spawn(command, [...args, `${port}:8080`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  try {
    await until('forwarding', async () => out.includes('Forwarding from'), 15_000);
    return await throughput(`http://127.0.0.1:${port}/big`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  const server = await startBerthServer({ args: ['--log-level', 'warn'] });
  const agent = await startAgent(server, { name: 'bench', address: '127.0.0.44' });
  try {
    const call = (method: string, path: string, body?: unknown) =>
      api(server, method, path, { token: server.token, ...(body ? { body } : {}) });
    await call('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'files' },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'busybox',
            command: [
              '/bin/busybox',
              'sh',
              '-c',
              `dd if=/dev/zero of=big bs=1048576 count=${FILE_MB} 2>/dev/null; exec busybox httpd -f -p $PORT -h .`,
            ],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    });
    const pod = await until(
      'the pod ready',
      async () => {
        const p = (await call('GET', '/api/v1/namespaces/default/pods/files')).body;
        return (
          p.status?.conditions?.some(
            (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
          ) && p
        );
      },
      60_000,
    );
    const hostPort = pod.status.hostPorts.find((h: { containerPort: number }) => h.containerPort === 8080).hostPort;
    progress(`direct from 127.0.0.44:${hostPort}`);
    const direct = await throughput(`http://127.0.0.44:${hostPort}/big`);
    const env = {
      BERTH_DATA: server.dir,
      KUBECONFIG: `${server.dir}/kubeconfig.yaml`,
      BERTH_SERVER: '',
      BERTH_TOKEN: '',
    };
    progress('berth port-forward');
    const berth = await forwarded(process.execPath, [BERTH, 'port-forward', 'files'], env, await freePort());
    progress('kubectl port-forward');
    const kubectl = KUBECTL
      ? await forwarded(KUBECTL, ['port-forward', 'pod/files'], env, await freePort())
      : undefined;

    progress(`${EXECS} execs`);
    const connection = { server: server.url, token: server.token, ca: server.ca, namespace: 'default' };
    const sink = new PassThrough().resume();
    const term = {
      stdin: new PassThrough(),
      stdout: Object.assign(new PassThrough().resume(), { columns: 80, rows: 24 }),
      stderr: sink,
    };
    const times: number[] = [];
    for (let i = 0; i < EXECS; i++) {
      const started = performance.now();
      const code = await execStream(
        connection,
        resourcePath(kindInfo('Pod')!, 'default', 'files'),
        { command: ['true'], stdin: false, stdout: true, stderr: true, tty: false },
        term,
      );
      if (code !== 0) throw new Error(`exec exited ${code}`);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return {
      file_mb: FILE_MB,
      downloads: DOWNLOADS,
      direct_mb_per_s: direct,
      berth_port_forward_mb_per_s: berth,
      berth_vs_direct: Number((berth / direct).toFixed(2)),
      ...(kubectl !== undefined
        ? { kubectl_port_forward_mb_per_s: kubectl, kubectl_vs_direct: Number((kubectl / direct).toFixed(2)) }
        : {}),
      execs: EXECS,
      exec_p50_ms: Math.round(percentile(times, 50)),
      exec_p99_ms: Math.round(percentile(times, 99)),
    };
  } finally {
    await agent.stop();
    await server.stop();
  }
}
