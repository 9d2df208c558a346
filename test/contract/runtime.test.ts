/**
 * The ContainerRuntime contract, one suite for every runtime: start with ports, env and volumes,
 * traffic to the published port on 127.0.0.1, logs, exec, exit codes, stop with a grace period,
 * adoption by a new runtime instance (an agent restarted), remove, and refusals.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/agent/docker/runtime.js';
import { ProcessRuntime } from '../../src/agent/process/runtime.js';
import { ensureTestImage } from '../helpers/docker.js';
import { PortAllocator } from '../../src/agent/ports.js';
import type { ContainerRuntime, ContainerSpec } from '../../src/agent/runtime.js';

const BUSYBOX = '/bin/busybox';

interface Driver {
  name: string;
  make(dataDir: string): ContainerRuntime;
  /** How a spec runs busybox on this runtime. */
  command(args: string[]): Pick<ContainerSpec, 'image' | 'command' | 'args'>;
  /** Where a server listens for its published port, and where a volume is, as the container sees them. */
  listen: string;
  volume: string;
}

const drivers: Driver[] = [
  {
    name: 'process',
    make: (dir) => new ProcessRuntime(dir),
    command: (args) => ({ image: 'busybox', command: [BUSYBOX, ...args.slice(0, 1)], args: args.slice(1) }),
    listen: '127.0.0.1:$PORT_HTTP',
    volume: '$BERTH_VOLUME_WWW',
  },
  {
    // The node label keeps this suite's containers apart from any agent's on the machine.
    name: 'docker',
    make: () => new DockerRuntime({ node: 'contract-suite', sandboxImage: ensureTestImage() }),
    command: (args) => ({ image: ensureTestImage(), command: [BUSYBOX, ...args.slice(0, 1)], args: args.slice(1) }),
    listen: '0.0.0.0:8080',
    volume: '/www',
  },
];

for (const driver of drivers) {
  describe(`ContainerRuntime contract: ${driver.name}`, () => {
    let dir: string;
    let runtime: ContainerRuntime;
    const ports = new PortAllocator();
    let serial = 0;
    const spec = async (args: string[], extra: Partial<ContainerSpec> = {}): Promise<ContainerSpec> => {
      const s = {
        podUid: `uid-${driver.name}-${++serial}-0000`,
        podName: `pod-${serial}`,
        namespace: 'default',
        name: 'main',
        restartCount: 0,
        ...driver.command(args),
        env: {},
        ports: [],
        mounts: [],
        address: '127.0.0.1',
        ...extra,
      };
      return { podPorts: s.ports, sharedNetwork: false, ...s };
    };
    const until = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), `berth-runtime-${driver.name}-`));
      runtime = driver.make(dir);
    });
    afterAll(async () => {
      try {
        for (const c of await runtime.list()) await runtime.remove(c.id);
        for (let i = 1; i <= serial; i++) await runtime.releasePod(`uid-${driver.name}-${i}-0000`);
      } finally {
        // Also when the runtime cannot answer (no Docker daemon): the directory is the test's own.
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serves on the published port, with env and a volume, and logs what it prints', async () => {
      const hostPort = await ports.allocate();
      const www = path.join(dir, 'www');
      mkdirSync(www, { recursive: true });
      writeFileSync(path.join(www, 'index.html'), 'hello from a volume\n');
      const s = await spec(
        ['sh', '-c', `echo "starting $GREETING"; exec /bin/busybox httpd -f -p ${driver.listen} -h ${driver.volume}`],
        {
          env: { GREETING: 'hi' },
          ports: [{ name: 'http', containerPort: 8080, hostPort, protocol: 'TCP' }],
          mounts: [{ volume: 'www', source: www, mountPath: '/www', readOnly: true }],
        },
      );
      const c = await runtime.start(s);
      expect(c).toMatchObject({ podUid: s.podUid, name: 'main', restartCount: 0, state: 'running' });
      let body = '';
      await until('http answers', async () => {
        body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
          (r) => r.text(),
          () => '',
        );
        return body !== '';
      });
      expect(body).toBe('hello from a volume\n');
      const lines: string[] = [];
      for await (const l of runtime.logs(c.id)) lines.push(l);
      expect(lines).toContain('starting hi\n');
      const exec = await runtime.exec(c.id, [BUSYBOX, 'sh', '-c', 'echo $GREETING; echo err >&2; exit 7']);
      expect(exec).toEqual({ stdout: 'hi\n', stderr: 'err\n', exitCode: 7 });
      await runtime.stop(c.id, 2000);
      const stopped = (await runtime.list()).find((x) => x.id === c.id)!;
      expect(stopped.state).toBe('exited');
      await runtime.remove(c.id);
      expect((await runtime.list()).some((x) => x.id === c.id)).toBe(false);
    });

    it('runs a command with its streams open: stdin to its end, stdout and stderr apart, exit code; on a terminal, its size', async () => {
      const c = await runtime.start(await spec(['sh', '-c', 'exec sleep 60']));
      const read = (s: NodeJS.ReadableStream | undefined) =>
        new Promise<string>((resolve) => {
          let out = '';
          if (!s) return resolve('');
          s.on('data', (d) => (out += d));
          s.on('end', () => resolve(out));
        });
      const piped = await runtime.openExec(c.id, [BUSYBOX, 'sh', '-c', 'tr a-z A-Z; echo done >&2; exit 4'], {
        tty: false,
      });
      const [out, err] = [read(piped.stdout), read(piped.stderr)];
      piped.stdin.end('shout\n');
      expect(await piped.exited).toBe(4);
      expect({ out: await out, err: await err }).toEqual({ out: 'SHOUT\n', err: 'done\n' });

      const tty = await runtime.openExec(c.id, [BUSYBOX, 'sh'], { tty: true });
      let screen = '';
      tty.stdout.on('data', (d) => (screen += d));
      tty.resize(77, 33);
      await until('the terminal has its size', async () => {
        tty.stdin.write('stty size\n');
        await new Promise((r) => setTimeout(r, 200));
        return screen.includes('33 77');
      });
      tty.stdin.write('exit 6\n');
      expect(await tty.exited).toBe(6);
      await runtime.stop(c.id, 500);
    });

    it('records how a container ended, and follows its log until it does', async () => {
      const c = await runtime.start(
        await spec(['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.1; done; exit 3']),
      );
      const lines: string[] = [];
      for await (const l of runtime.logs(c.id, { follow: true })) lines.push(l);
      expect(lines).toEqual(['line 1\n', 'line 2\n', 'line 3\n']);
      await until('exited', async () => (await runtime.list()).find((x) => x.id === c.id)?.state === 'exited');
      expect((await runtime.list()).find((x) => x.id === c.id)).toMatchObject({ state: 'exited', exitCode: 3 });
      const tail: string[] = [];
      for await (const l of runtime.logs(c.id, { tailLines: 1 })) tail.push(l);
      expect(tail).toEqual(['line 3\n']);
    });

    it("reports a busy container's CPU time (its children's too) and working set; nothing for one that ended", async () => {
      // The loop runs in a child shell: its time counts for the container as the kernel's cgroup would.
      const c = await runtime.start(await spec(['sh', '-c', 'sh -c "while :; do :; done" & wait']));
      const first = (await runtime.usage([c.id])).get(c.id);
      const t = Date.now();
      await new Promise((r) => setTimeout(r, 1500));
      const second = (await runtime.usage([c.id])).get(c.id)!;
      const cores = (second.cpuNanos - (first?.cpuNanos ?? 0)) / 1e9 / ((Date.now() - t) / 1000);
      expect(cores).toBeGreaterThan(0.4);
      expect(cores).toBeLessThan(1.3);
      expect(second.memoryBytes).toBeGreaterThan(100_000);
      await runtime.stop(c.id, 0);
      expect((await runtime.usage([c.id])).has(c.id)).toBe(false);
    });

    it('a SIGTERM-ignoring container is killed after the grace period', async () => {
      const c = await runtime.start(
        await spec(['sh', '-c', "trap '' TERM; echo trapped; while true; do sleep 0.1; done"]),
      );
      await until('its trap is set', async () => {
        for await (const l of runtime.logs(c.id)) if (l === 'trapped\n') return true;
        return false;
      });
      const t = Date.now();
      await runtime.stop(c.id, 500);
      expect(Date.now() - t).toBeGreaterThanOrEqual(450);
      expect((await runtime.list()).find((x) => x.id === c.id)?.state).toBe('exited');
    });

    it('a new runtime instance (the agent restarted) finds running containers as they are', async () => {
      const c = await runtime.start(await spec(['sleep', '30']));
      const again = driver.make(dir);
      const found = (await again.list()).find((x) => x.id === c.id);
      expect(found).toMatchObject({
        state: 'running',
        podUid: c.podUid,
        name: 'main',
        restartCount: 0,
        startedAt: c.startedAt,
      });
      await again.remove(c.id);
      expect((await runtime.list()).some((x) => x.id === c.id)).toBe(false);
    });

    it('docker: limits, cpu shares and securityContext reach the container', async () => {
      if (driver.name !== 'docker') return;
      const c = await runtime.start(
        await spec(['sleep', '30'], {
          limits: { memoryBytes: 64 * 2 ** 20, cpuMillis: 500 },
          cpuRequestMillis: 250,
          runAsUser: 1000,
          runAsGroup: 1000,
          readOnlyRootFilesystem: true,
        }),
      );
      const inspect = JSON.parse(execFileSync('docker', ['inspect', c.id], { encoding: 'utf8' }))[0];
      expect(inspect.HostConfig).toMatchObject({
        Memory: 64 * 2 ** 20,
        NanoCpus: 500_000_000,
        CpuShares: 256,
        ReadonlyRootfs: true,
        Init: true,
      });
      expect(inspect.Config.User).toBe('1000:1000');
      expect((await runtime.exec(c.id, [BUSYBOX, 'id', '-u'])).stdout).toBe('1000\n');
      expect((await runtime.exec(c.id, [BUSYBOX, 'touch', '/x'])).exitCode).not.toBe(0); // read-only root
      await runtime.remove(c.id);
    });

    it('refuses what it cannot honour', async () => {
      if (driver.name !== 'process') return;
      expect(runtime.check(await spec([], { command: [], args: [] }))).toMatch(/cannot run an image by itself/);
      expect(runtime.check(await spec(['true'], { readOnlyRootFilesystem: true }))).toMatch(/readOnlyRootFilesystem/);
    });
  });
}
