/**
 * `berth agent` with the process runtime against a real `berth server`: pods of a Deployment run
 * as processes, published on 127.0.0.1, with a ConfigMap volume (changes reach the file within
 * 10 s) and a Secret env var; readiness drives Ready; an agent killed with SIGKILL and started
 * again adopts its processes (none restarted, none doubled); a crash-looping container backs
 * off; deleting the workload leaves no process behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BERTH, buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { background, run } from '../helpers/run.js';
import { stillOurs } from '../helpers/agents.js';
import { freePort } from '../helpers/ports.js';
import { TEST_IMAGE, ensureTestImage } from '../helpers/docker.js';

describe('berth agent (process runtime)', () => {
  let server: BerthServerProcess | undefined;
  /** Host folders tests mount into pods; removed after each test. */
  const hostDirs: string[] = [];
  let agent: ChildProcess | undefined;
  let agentDir: string | undefined;
  beforeAll(() => buildOnce(), 120_000);
  afterEach(async () => {
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent!.once('exit', r));
    }
    // Containers the docker test's agent left (a failed test) go too.
    try {
      const left = execFileSync('docker', ['ps', '-aq', '--filter', 'label=berth.dev/node=n1'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean);
      if (left.length) execFileSync('docker', ['rm', '-f', ...left], { stdio: 'ignore' });
    } catch {
      // no docker: the process tests need none
    }
    await server?.stop();
    // Whatever the agent left running is stopped with its data dir's process groups.
    if (agentDir) {
      const processes = path.join(agentDir, 'process');
      for (const id of existsSync(processes) ? readdirSync(processes) : []) {
        try {
          const meta = JSON.parse(readFileSync(path.join(agentDir, 'process', id, 'meta.json'), 'utf8'));
          if (stillOurs(meta)) process.kill(-meta.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(agentDir, { recursive: true, force: true });
      for (const d of hostDirs.splice(0)) rmSync(d, { recursive: true, force: true });
    }
    server = agent = agentDir = undefined;
  });

  const request = (method: string, p: string, body?: unknown, headers?: Record<string, string>) =>
    api(server!, method, p, {
      token: server!.token,
      ...(body !== undefined ? { body } : {}),
      ...(headers ? { headers } : {}),
    });
  const pods = async (): Promise<any[]> => (await request('GET', '/api/v1/namespaces/default/pods')).body.items;
  const startAgent = (token: string, runtime = 'process', extra: string[] = []) => {
    agent = spawn(
      process.execPath,
      [
        BERTH,
        'agent',
        '--name',
        'n1',
        '--address',
        '127.0.0.1',
        '--runtime',
        runtime,
        '--sandbox-image',
        TEST_IMAGE,
        '--data',
        agentDir!,
        '--server',
        server!.url,
        '--token',
        token,
        '--log-level',
        process.env.DEBUG_AGENT ? 'debug' : 'warn',
        ...extra,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, BERTH_DATA: '/nonexistent', KUBECONFIG: '' },
      },
    );
    agent.stderr!.on('data', (d) => {
      if (process.env.DEBUG_AGENT) process.stderr.write(d);
    });
  };
  const apply = async (name: string, yaml: string) => {
    const file = path.join(server!.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    const r = await server!.cli('apply', '-f', file);
    expect(r.code, r.err).toBe(0);
  };
  const ready = (p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
  const hostPort = (p: any, container: string) =>
    p.status.hostPorts.find((h: any) => h.containerName === container).hostPort;
  const get = (port: number, file: string) =>
    fetch(`http://127.0.0.1:${port}/${file}`).then((r) => (r.ok ? r.text() : ''));

  it('runs pods as processes: ports, ConfigMap files, Secret env, readiness, adoption after SIGKILL, no orphans', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    startAgent(token);
    await apply(
      'config',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site}\ndata:\n  index.html: "version one"\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData:\n  password: s3cret\n`,
    );
    await apply(
      'web',
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      volumes:
        - {name: www, configMap: {name: site}}
        - {name: scratch, emptyDir: {}}
      containers:
        - name: web
          image: busybox
          command: [/bin/busybox, sh, -c, 'exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h $BERTH_VOLUME_WWW']
          ports: [{name: http, containerPort: 8080}]
          volumeMounts: [{name: www, mountPath: /www}]
          readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
        - name: side
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo "$PASSWORD" > $BERTH_VOLUME_SCRATCH/secret.txt; exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h $BERTH_VOLUME_SCRATCH']
          env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
          ports: [{containerPort: 9090}]
          volumeMounts: [{name: scratch, mountPath: /scratch}]
`,
    );
    const running = await until('2 ready pods', async () => {
      const ps = await pods();
      return ps.length === 2 && ps.every(ready) && ps;
    });
    for (const p of running) {
      expect(p.spec.nodeName).toBe('n1');
      expect(p.status).toMatchObject({ phase: 'Running', hostIP: '127.0.0.1' });
      expect(await get(hostPort(p, 'web'), 'index.html')).toBe('version one');
      expect(await get(hostPort(p, 'side'), 'secret.txt')).toBe('s3cret\n');
    }
    const t = Date.now();
    await request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/site',
      { data: { 'index.html': 'version two' } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    await until(
      'the file follows the ConfigMap',
      async () => (await get(hostPort(running[0], 'web'), 'index.html')) === 'version two',
      10_000,
    );
    expect(Date.now() - t).toBeLessThan(10_000);

    // Killed and started again: the same processes, adopted.
    const before = (await pods())
      .map((p) =>
        p.status.containerStatuses
          .map((c: any) => c.containerID)
          .sort()
          .join(),
      )
      .sort();
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    expect(await get(hostPort(running[0], 'web'), 'index.html')).toBe('version two'); // still serving without its agent
    startAgent(token);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await pods();
    expect(
      after
        .map((p) =>
          p.status.containerStatuses
            .map((c: any) => c.containerID)
            .sort()
            .join(),
        )
        .sort(),
    ).toEqual(before);
    expect(
      after.every((p) => p.status.containerStatuses.every((c: any) => c.restartCount === 0 && c.state.running)),
    ).toBe(true);
    expect(readdirSync(path.join(agentDir, 'process'))).toHaveLength(4);

    // Deleted: every process stops, nothing of them is left.
    await request('DELETE', '/apis/apps/v1/namespaces/default/deployments/web');
    await until(
      'no processes left',
      async () => readdirSync(path.join(agentDir!, 'process')).length === 0 && (await pods()).length === 0,
    );
    expect(await get(hostPort(running[0], 'web'), 'index.html').catch(() => 'refused')).toBe('refused');
  }, 120_000);

  it('--stop-pods-on-exit: an agent stopped with it stops its pods (without it they keep running)', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    startAgent(token, 'process', ['--stop-pods-on-exit']);
    await apply(
      'sleeper',
      `apiVersion: v1\nkind: Pod\nmetadata: {name: sleeper}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{name: c, image: busybox, command: [/bin/busybox, sleep, '600']}]\n`,
    );
    await until('the pod running', async () => (await pods()).some(ready));
    const processes = path.join(agentDir, 'process');
    const metas = readdirSync(processes).map((id) =>
      JSON.parse(readFileSync(path.join(processes, id, 'meta.json'), 'utf8')),
    );
    expect(metas.length).toBeGreaterThan(0);
    expect(metas.every(stillOurs)).toBe(true);
    agent!.kill('SIGTERM');
    await new Promise((r) => agent!.once('exit', r));
    expect(metas.some(stillOurs)).toBe(false);
  }, 60_000);

  it("a Service's proxy port held by another program: said once, as a Warning Event and a condition of the node; served once it is free", async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    await apply('busy', 'apiVersion: v1\nkind: Service\nmetadata: {name: busy}\nspec:\n  ports: [{port: 80}]\n');
    const service = (await request('GET', '/api/v1/namespaces/default/services/busy')).body;
    const port = Number(/=(\d+)/.exec(service.metadata.annotations['berth.dev/proxy-ports'])![1]);
    // Another program holds the port on the node's address before the agent starts.
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', () => r()));
    try {
      startAgent((await server.cli('token', 'create', '--role', 'node')).out.trim());
      const events = async () =>
        ((await request('GET', '/api/v1/namespaces/default/events')).body.items as any[]).filter(
          (e) => e.reason === 'ProxyPortUnavailable' && e.involvedObject.name === 'n1',
        );
      const [event] = await until('the Event', async () => (await events()).length > 0 && events(), 20_000);
      expect(event).toMatchObject({
        type: 'Warning',
        involvedObject: { kind: 'Node', name: 'n1' },
        source: { component: 'berth-service-proxy', host: 'n1' },
        message: expect.stringMatching(
          new RegExp(`^Service default/busy: .*127\\.0\\.0\\.1:${port}/TCP .*another program holds the port`),
        ),
      });
      // Once: another change of the Service's endpoints does not repeat it.
      await request(
        'PATCH',
        '/api/v1/namespaces/default/services/busy',
        { metadata: { labels: { touched: 'yes' } } },
        {
          'Content-Type': 'application/merge-patch+json',
        },
      );
      await new Promise((r) => setTimeout(r, 1500));
      expect((await events()).map((e) => e.count ?? 1)).toEqual([1]);
      // While it lasts, a condition of the node says so (as node-problem-detector's: True is the problem).
      const condition = async () =>
        ((await request('GET', '/api/v1/nodes/n1')).body.status.conditions as any[]).find(
          (c) => c.type === 'ServicePortsUnavailable',
        );
      expect(await until('the condition', condition, 20_000)).toMatchObject({
        status: 'True',
        reason: 'PortsInUse',
        message: expect.stringContaining(
          `Service default/busy: the service proxy cannot listen on 127.0.0.1:${port}/TCP`,
        ),
      });
      // The other program lets the port go: the proxy takes it (it tries again every 10 s), the condition clears.
      await new Promise((r) => squatter.close(r));
      expect(
        await until(
          'the condition cleared',
          async () => (await condition())?.status === 'False' && condition(),
          30_000,
        ),
      ).toMatchObject({
        reason: 'AllServicePortsServed',
      });
      const served = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      expect(served, 'the proxy listens on the port now').toBe(true);
    } finally {
      if (squatter.listening) await new Promise((r) => squatter.close(r));
    }
  }, 90_000);

  it('init containers run first, in order, each to success; items and subPath pick files', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    startAgent((await server.cli('token', 'create', '--role', 'node')).out.trim());
    await apply(
      'init',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata:\n  a.txt: alpha\n  b.txt: beta\n---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  volumes:
    - {name: work, emptyDir: {}}
    - {name: conf, configMap: {name: conf, items: [{key: b.txt, path: renamed/b}]}}
  initContainers:
    - {name: first, image: busybox, command: [/bin/busybox, sh, -c, 'echo one >> $BERTH_VOLUME_WORK/order'], volumeMounts: [{name: work, mountPath: /work}]}
    - {name: second, image: busybox, command: [/bin/busybox, sh, -c, 'echo two >> $BERTH_VOLUME_WORK/order; cat $BERTH_VOLUME_CONF >> $BERTH_VOLUME_WORK/order'], volumeMounts: [{name: work, mountPath: /work}, {name: conf, mountPath: /conf/b, subPath: renamed/b}]}
  containers:
    - name: main
      image: busybox
      command: [/bin/busybox, sh, -c, 'echo main >> $BERTH_VOLUME_WORK/order; exec /bin/busybox sleep 3600']
      volumeMounts: [{name: work, mountPath: /work}, {name: conf, mountPath: /conf}]
`,
    );
    const pod = await until('running', async () => {
      const p = (await pods()).find((x) => x.metadata.name === 'init');
      return p?.status?.phase === 'Running' && p;
    });
    expect(pod.status.initContainerStatuses.map((s: any) => s.state.terminated?.exitCode)).toEqual([0, 0]);
    expect(pod.status.conditions.find((c: any) => c.type === 'Initialized').status).toBe('True');
    const exec = await server.cli(
      'exec',
      'init',
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      'cat $BERTH_VOLUME_WORK/order; ls -R $BERTH_VOLUME_CONF',
    );
    expect(exec.out).toMatch(/^one\ntwo\nbetamain\n/);
    expect(exec.out).toContain('renamed');
  }, 60_000);

  it('a crash-looping container backs off (CrashLoopBackOff) and counts its restarts', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    startAgent(token);
    await apply(
      'crash',
      `apiVersion: v1\nkind: Pod\nmetadata: {name: crash}\nspec:\n  containers:\n    - name: main\n      image: busybox\n      command: [/bin/busybox, sh, -c, 'echo boom; exit 2']\n`,
    );
    const looping = await until('CrashLoopBackOff', async () => {
      const p = (await pods()).find((x) => x.metadata.name === 'crash');
      const s = p?.status?.containerStatuses?.[0];
      return s?.state?.waiting?.reason === 'CrashLoopBackOff' && s;
    });
    expect(looping.restartCount).toBeGreaterThanOrEqual(1);
    expect(looping.lastState.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    const at = Date.now();
    await until(
      'restarted after the back-off',
      async () => (await pods())[0]?.status?.containerStatuses?.[0]?.restartCount >= looping.restartCount + 1,
      25_000,
    );
    expect(Date.now() - at).toBeGreaterThan(5_000); // 10 s after the previous end, not at once
  }, 60_000);

  it('berth logs (tail, follow) and berth exec (output and exit code) through the server', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    startAgent(token);
    await apply(
      'talker',
      `apiVersion: v1\nkind: Pod\nmetadata: {name: talker}\nspec:\n  containers:\n    - name: main\n      image: busybox\n      command: [/bin/busybox, sh, -c, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done']\n      ports: [{containerPort: 8080}]\n`,
    );
    await until('running', async () => (await pods()).find((p) => p.metadata.name === 'talker' && ready(p)));
    await until(
      'a few lines',
      async () => ((await server!.cli('logs', 'talker')).out.match(/tick/g)?.length ?? 0) >= 3,
    );
    const tail = await server.cli('logs', 'talker', '--tail', '1');
    expect(tail.code).toBe(0);
    expect(tail.out).toMatch(/^tick \d+\n$/);

    // -f streams lines as they are written.
    const follow = spawn(process.execPath, [BERTH, 'logs', 'talker', '-f'], {
      env: { ...process.env, BERTH_DATA: server.dir, KUBECONFIG: '', BERTH_SERVER: '', BERTH_TOKEN: '' },
    });
    let streamed = '';
    follow.stdout.on('data', (d) => (streamed += d));
    const start = (streamed.match(/tick/g) ?? []).length;
    await until('new lines arrive', async () => (streamed.match(/tick/g)?.length ?? 0) >= start + 8, 10_000);
    follow.kill('SIGINT');
    await new Promise((r) => follow.once('exit', r));
    const numbers = [...streamed.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    expect(numbers.slice(1).every((n, i) => n === numbers[i]! + 1)).toBe(true);

    const exec = await server.cli(
      'exec',
      'talker',
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      'echo "port=$PORT host=$HOSTNAME"; echo oops >&2; exit 3',
    );
    expect(exec.code).toBe(3);
    expect(exec.out).toMatch(/^port=\d+ host=talker\n$/);
    expect(exec.err).toBe('oops\n');
    expect((await server.cli('logs', 'talker', '--since', '1m')).err).toMatch(/keeps no timestamps/);
    expect((await server.cli('logs', 'talker', '--timestamps')).err).toMatch(/keeps no timestamps/);

    // A workload's logs: one of its pods, as kubectl; a selector: every pod, prefixed on request.
    await apply(
      'talkers',
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: talkers}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: talk}}\n  template:\n    metadata: {labels: {app: talk}}\n    spec:\n      containers:\n        - name: main\n          image: busybox\n          command: [/bin/busybox, sh, -c, 'while true; do echo talk $HOSTNAME; sleep 0.2; done']\n`,
    );
    await until(
      'two talkers logging',
      async () => (await server!.cli('logs', '-l', 'app=talk', '--tail', '1')).out.match(/talk /g)?.length === 2,
    );
    const one = await server.cli('logs', 'deploy/talkers', '--tail', '1');
    expect(one.code, one.err).toBe(0);
    expect(one.err).toMatch(/^Found 2 pods, using pod\/talkers-\S+\n$/);
    expect(one.out).toMatch(/^talk talkers-\S+\n$/);
    const all = await server.cli('logs', '-l', 'app=talk', '--tail', '1', '--prefix');
    expect(
      all.out
        .split('\n')
        .filter(Boolean)
        .map((l) => /^\[pod\/(talkers-\S+)\/main\] talk (\S+)$/.exec(l)?.slice(1)),
    ).toEqual([
      [expect.any(String), expect.any(String)],
      [expect.any(String), expect.any(String)],
    ]);
  }, 90_000);

  it('docker: two containers share localhost, a ConfigMap volume follows its object, a Secret env var; adoption after SIGKILL; no orphans', async () => {
    const image = ensureTestImage();
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
    startAgent(token, 'docker');
    await apply(
      'config',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site}\ndata:\n  index.html: "version one"\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData:\n  password: s3cret\n`,
    );
    await apply(
      'pair',
      `apiVersion: v1
kind: Pod
metadata: {name: pair}
spec:
  terminationGracePeriodSeconds: 2
  volumes:
    - {name: www, configMap: {name: site}}
    - {name: shared, emptyDir: {}}
  containers:
    - name: web
      image: ${image}
      imagePullPolicy: Never
      command: [/bin/httpd, -f, -p, '8080', -h, /www]
      ports: [{containerPort: 8080}]
      volumeMounts: [{name: www, mountPath: /www, readOnly: true}]
      readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    - name: side
      image: ${image}
      imagePullPolicy: Never
      command: [/bin/sh, -c, 'httpd -p 9090 -h /shared; while true; do wget -q -O /shared/from-web.txt http://localhost:8080/index.html; echo "$PASSWORD" > /shared/secret.txt; sleep 1; done']
      env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
      ports: [{containerPort: 9090}]
      volumeMounts: [{name: shared, mountPath: /shared}]
`,
    );
    const pod = await until(
      'Ready',
      async () => {
        const p = (await pods()).find((x) => x.metadata.name === 'pair');
        return p && ready(p) && p;
      },
      60_000,
    );
    expect(pod.status.containerStatuses.map((c: any) => c.containerID.split('://')[0])).toEqual(['docker', 'docker']);
    const side = hostPort(pod, 'side');
    await until('side reached web on localhost', async () => (await get(side, 'from-web.txt')) === 'version one');
    expect(await get(side, 'secret.txt')).toBe('s3cret\n');
    expect(await get(hostPort(pod, 'web'), 'index.html')).toBe('version one');
    const t = Date.now();
    await request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/site',
      { data: { 'index.html': 'version two' } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    // ≤ 10 s from the change to the file (the agent refreshes volumes every 5 s; the side container copies every 1 s).
    await until(
      'the mounted file follows the ConfigMap',
      async () => (await get(side, 'from-web.txt')) === 'version two',
      10_000,
    );
    expect(Date.now() - t).toBeLessThan(10_000);

    // exec -i, exec -t on a pseudo-terminal, and port-forward: the same protocols on Docker.
    const env = { BERTH_DATA: server.dir, KUBECONFIG: '', BERTH_SERVER: '', BERTH_TOKEN: '' };
    expect(
      await run(process.execPath, [BERTH, 'exec', '-i', '-c', 'side', 'pair', '--', 'wc', '-c'], {
        env,
        input: ['12345'],
      }),
    ).toMatchObject({ code: 0, out: expect.stringMatching(/^\s*5\n$/) });
    const tty = await run(
      'script',
      ['-q', '-e', '-c', `stty cols 90 rows 20; ${process.execPath} ${BERTH} exec -it pair -- sh`, '/dev/null'],
      { env, input: [1500, 'tty; stty size\n', 800, 'exit 4\n', 500] },
    );
    expect(tty.out).toMatch(/\/dev\/pts\/\d+/);
    expect(tty.out).toContain('20 90');
    expect(tty.code).toBe(4);
    const localPort = await freePort();
    const forward = background(process.execPath, [BERTH, 'port-forward', 'pair', `${localPort}:8080`], env);
    try {
      await until('port-forward listening', async () => forward.output().includes('Forwarding from'));
      expect(await fetch(`http://127.0.0.1:${localPort}/index.html`).then((r) => r.text())).toBe('version two');
    } finally {
      await forward.stop();
    }

    const ids = pod.status.containerStatuses.map((c: any) => c.containerID).sort();
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    startAgent(token, 'docker');
    await new Promise((r) => setTimeout(r, 3000));
    const again = (await pods()).find((x) => x.metadata.name === 'pair');
    expect(again.status.containerStatuses.map((c: any) => c.containerID).sort()).toEqual(ids);
    expect(again.status.containerStatuses.every((c: any) => c.restartCount === 0)).toBe(true);

    const events = (await request('GET', '/api/v1/namespaces/default/events')).body.items
      .filter((e: any) => e.involvedObject.name === 'pair')
      .map((e: any) => `${e.source.component} ${e.reason}: ${e.message}`);
    expect(events).toEqual(
      expect.arrayContaining(['kubelet Started: Started container web', 'kubelet Started: Started container side']),
    );

    // An image no registry has: ErrImagePull, then ImagePullBackOff between attempts.
    await apply(
      'missing',
      `apiVersion: v1\nkind: Pod\nmetadata: {name: missing}\nspec:\n  containers:\n    - {name: main, image: berth-test/does-not-exist:1}\n`,
    );
    const reasons = new Set<string>();
    await until('ImagePullBackOff', async () => {
      const w = (await pods()).find((x) => x.metadata.name === 'missing')?.status?.containerStatuses?.[0]?.state
        ?.waiting;
      if (w) reasons.add(w.reason);
      return reasons.has('ImagePullBackOff');
    });
    const missingEvents = (await request('GET', '/api/v1/namespaces/default/events')).body.items.filter(
      (e: any) => e.involvedObject.name === 'missing',
    );
    expect(
      missingEvents.some(
        (e: any) =>
          e.type === 'Normal' && e.reason === 'Pulling' && e.message === 'Pulling image "berth-test/does-not-exist:1"',
      ),
    ).toBe(true);
    expect(
      missingEvents.some(
        (e: any) => e.type === 'Warning' && e.reason === 'Failed' && /failed to pull image/.test(e.message),
      ),
    ).toBe(true);
    await request('DELETE', '/api/v1/namespaces/default/pods/missing');

    await request('DELETE', '/api/v1/namespaces/default/pods/pair');
    await until(
      'containers gone',
      async () => {
        const left = execFileSync('docker', ['ps', '-aq', '--filter', 'label=berth.dev/node=n1'], {
          encoding: 'utf8',
        }).trim();
        return left === '';
      },
      30_000,
    );
  }, 120_000);

  it('probes: readiness toggles Ready, a liveness failure restarts the container', async () => {
    // The hooks write to a host folder the test reads: a hostPath, which only a privileged
    // namespace admits, and never inside the agent's own data directory.
    server = await startBerthServer({ args: ['--log-level', 'warn', '--default-pod-security', 'privileged'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    startAgent((await server.cli('token', 'create', '--role', 'node')).out.trim());
    const hooks = mkdtempSync(path.join(tmpdir(), 'berth-hooks-'));
    hostDirs.push(hooks);
    await apply(
      'probed',
      `apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{name: hooks, hostPath: {path: ${hooks}, type: DirectoryOrCreate}}]
  containers:
    - name: main
      image: busybox
      command: [/bin/busybox, sh, -c, 'touch alive ready; exec /bin/busybox sleep 3600']
      volumeMounts: [{name: hooks, mountPath: /hooks}]
      lifecycle:
        postStart: {exec: {command: [/bin/busybox, sh, -c, 'echo started >> $BERTH_VOLUME_HOOKS/post']}}
        preStop: {exec: {command: [/bin/busybox, sh, -c, 'echo stopping >> $BERTH_VOLUME_HOOKS/pre']}}
      readinessProbe: {exec: {command: [/bin/busybox, test, -f, ready]}, periodSeconds: 1, failureThreshold: 1}
      livenessProbe: {exec: {command: [/bin/busybox, test, -f, alive]}, periodSeconds: 1, failureThreshold: 2}
`,
    );
    const probed = async () => (await pods()).find((p) => p.metadata.name === 'probed');
    await until('Ready', async () => ready(await probed()));
    expect((await server.cli('exec', 'probed', '--', '/bin/busybox', 'rm', 'ready')).code).toBe(0);
    await until('not Ready', async () => !ready(await probed()), 10_000);
    expect((await probed()).status.containerStatuses[0]).toMatchObject({
      ready: false,
      restartCount: 0,
      state: { running: {} },
    });
    expect((await server.cli('exec', 'probed', '--', '/bin/busybox', 'touch', 'ready')).code).toBe(0);
    await until('Ready again', async () => ready(await probed()), 10_000);
    expect((await server.cli('exec', 'probed', '--', '/bin/busybox', 'rm', 'alive')).code).toBe(0);
    const restarted = await until(
      'restarted by its liveness probe',
      async () => {
        const s = (await probed()).status.containerStatuses[0];
        return s.restartCount === 1 && s.state.running && s;
      },
      20_000,
    );
    expect(restarted.lastState.terminated.exitCode).toBe(143); // SIGTERM
    await until('Ready after the restart', async () => ready(await probed()), 10_000);
    // Each start ran postStart; the liveness restart ran preStop first.
    expect(readFileSync(path.join(hooks, 'post'), 'utf8')).toBe('started\nstarted\n');
    expect(readFileSync(path.join(hooks, 'pre'), 'utf8')).toBe('stopping\n');
  }, 60_000);

  it('200 random creates and deletes leave exactly the pods asked for, and nothing once all are gone', async () => {
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agentDir = mkdtempSync(path.join(tmpdir(), 'berth-agent-'));
    startAgent((await server.cli('token', 'create', '--role', 'node')).out.trim());
    await until('node', async () => (await request('GET', '/api/v1/nodes')).body.items.length === 1);
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alive = new Set<string>();
    let serial = 0;
    for (let op = 0; op < 200; op++) {
      if (alive.size === 0 || random() < 0.6) {
        const name = `r-${serial++}`;
        const res = await request('POST', '/api/v1/namespaces/default/pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'main', image: 'busybox', command: ['/bin/busybox', 'sleep', '3600'] }],
          },
        });
        expect(res.status).toBe(201);
        alive.add(name);
      } else {
        const name = [...alive][Math.floor(random() * alive.size)]!;
        expect((await request('DELETE', `/api/v1/namespaces/default/pods/${name}`)).status).toBe(200);
        alive.delete(name);
      }
    }
    const processes = () =>
      readdirSync(path.join(agentDir!, 'process')).map((id) =>
        JSON.parse(readFileSync(path.join(agentDir!, 'process', id, 'meta.json'), 'utf8')),
      );
    const running = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until(
      'the runtime matches the pods',
      async () => {
        const ps = await pods();
        const metas = processes();
        const uids = new Set(ps.map((p) => p.metadata.uid));
        return (
          ps.length === alive.size &&
          metas.length === alive.size &&
          metas.every((m) => uids.has(m.podUid) && running(m.pid)) &&
          ps.every((p) => p.status?.phase === 'Running')
        );
      },
      60_000,
    );
    const pids = processes().map((m) => m.pid);
    for (const name of alive) await request('DELETE', `/api/v1/namespaces/default/pods/${name}`);
    await until('nothing left', async () => processes().length === 0 && pids.every((pid) => !running(pid)), 60_000);
  }, 120_000);
});
