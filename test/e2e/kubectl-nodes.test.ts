/**
 * The real kubectl against a `berth server` with two process-runtime agents: the verbs that reach
 * a pod on its node (exec, interactive exec on a pseudo-terminal, cp, port-forward, attach,
 * logs) and the ones that move pods between nodes (drain through PodDisruptionBudgets), plus
 * `get all`. `berth exec -it` and `berth port-forward` use the same endpoints.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { BERTH, buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';
import { background, run } from '../helpers/run.js';
import { until } from '../helpers/wait.js';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

describe.skipIf(!KUBECTL)('kubectl against berth with two process agents', () => {
  let server: BerthServerProcess;
  const agents: AgentProcess[] = [];
  let home: string;
  let env: Record<string, string>;
  const kubectl = (...args: string[]) => run(KUBECTL!, args, { env });
  const berth = (...args: string[]) => run(process.execPath, [BERTH, ...args], { env });
  const apply = async (yaml: string) => {
    const file = path.join(home, `m${Date.now()}.yaml`);
    writeFileSync(file, yaml);
    const r = await kubectl('apply', '-f', file);
    expect(r.code, r.err).toBe(0);
  };
  const podsOf = async (selector: string): Promise<any[]> =>
    JSON.parse((await kubectl('get', 'pods', '-l', selector, '-o', 'json')).out).items;
  const ready = (p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');

  beforeAll(async () => {
    buildOnce();
    home = mkdtempSync(path.join(tmpdir(), 'berth-kubectl-nodes-'));
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    env = {
      HOME: home,
      KUBECONFIG: path.join(server.dir, 'kubeconfig.yaml'),
      BERTH_DATA: server.dir,
      BERTH_SERVER: '',
      BERTH_TOKEN: '',
    };
    agents.push(
      await startAgent(server, { name: 'n1', address: '127.0.0.41' }),
      await startAgent(server, { name: 'n2', address: '127.0.0.42' }),
    );
    await until('both nodes Ready', async () => {
      const nodes = JSON.parse((await kubectl('get', 'nodes', '-o', 'json')).out).items;
      return (
        nodes.length === 2 &&
        nodes.every((n: any) => n.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'))
      );
    });
    // A web server whose document root is its work directory, with a file to fetch.
    await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo started; echo hello > index.html; exec busybox httpd -f -p $PORT -h .']
          ports: [{containerPort: 8080}]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`);
    await until(
      'two ready web pods',
      async () => {
        const pods = await podsOf('app=web');
        return pods.length === 2 && pods.every(ready);
      },
      60_000,
    );
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const aPod = async () => (await podsOf('app=web'))[0].metadata.name as string;

  it('exec: output, stderr and the exit code', async () => {
    const r = await kubectl('exec', await aPod(), '--', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ code: 3, out: 'out\n' });
    expect(r.err).toContain('err\n');
    expect(r.err).toContain('command terminated with exit code 3');
    const piped = await run(KUBECTL!, ['exec', '-i', await aPod(), '--', 'sh', '-c', 'tr a-z A-Z'], {
      env,
      input: ['shout\n'],
    });
    expect(piped).toMatchObject({ code: 0, out: 'SHOUT\n' });
  });

  it('exec -it on a pseudo-terminal: a shell that sees the terminal and its size, and its exit code', async () => {
    // script(1) gives kubectl a terminal of 100x30; kubectl passes its size and raw keystrokes on.
    const r = await run(
      'script',
      ['-q', '-e', '-c', `stty cols 100 rows 30; ${KUBECTL} exec -it ${await aPod()} -- sh`, '/dev/null'],
      {
        env,
        input: [1500, 'tty; stty size; echo $((6*7))\n', 800, 'exit 5\n', 500],
      },
    );
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.out).toContain('30 100');
    expect(r.out).toContain('42');
    expect(r.code).toBe(5);
  });

  it('berth exec -it and -i use the same protocol', async () => {
    const r = await run(
      'script',
      [
        '-q',
        '-e',
        '-c',
        `stty cols 90 rows 20; ${process.execPath} ${BERTH} exec -it ${await aPod()} -- sh`,
        '/dev/null',
      ],
      {
        env,
        input: [1500, 'stty size\n', 800, 'exit 6\n', 500],
      },
    );
    expect(r.out).toContain('20 90');
    expect(r.code).toBe(6);
    expect(
      await run(process.execPath, [BERTH, 'exec', '-i', await aPod(), '--', 'wc', '-c'], { env, input: ['12345'] }),
    ).toMatchObject({ code: 0, out: expect.stringMatching(/^\s*5\n$/) });
  });

  it('cp round-trips a file both ways', async () => {
    const pod = await aPod();
    const local = path.join(home, 'up.bin');
    const content = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    writeFileSync(local, content);
    expect((await kubectl('cp', local, `${pod}:up.bin`)).code).toBe(0);
    expect((await kubectl('exec', pod, '--', 'wc', '-c', 'up.bin')).out.trim()).toBe('70000 up.bin');
    const back = path.join(home, 'back.bin');
    const r = await kubectl('cp', `${pod}:up.bin`, back);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(back).equals(content)).toBe(true);
  });

  it('port-forward serves through kubectl (SPDY in a WebSocket) and through berth (channels)', async () => {
    const pod = await aPod();
    for (const [name, command, args] of [
      ['kubectl', KUBECTL!, ['port-forward', `pod/${pod}`]],
      ['berth', process.execPath, [BERTH, 'port-forward', `pod/${pod}`]],
    ] as const) {
      const port = await freePort();
      const forward = background(command, [...args, `${port}:8080`], env);
      try {
        await until(`${name} port-forward listening`, async () => forward.output().includes('Forwarding from'), 15_000);
        const bodies = await Promise.all(
          Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${port}/index.html`).then((r) => r.text())),
        );
        expect(bodies, name).toEqual(Array(5).fill('hello\n'));
      } finally {
        await forward.stop();
      }
    }
  });

  it('a port the pod does not declare is an error, not a hang', async () => {
    const port = await freePort();
    const forward = background(process.execPath, [BERTH, 'port-forward', await aPod(), `${port}:9999`], env);
    try {
      await until('listening', async () => forward.output().includes('Forwarding from'), 15_000);
      await expect(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
      await until(
        'the error printed',
        async () => forward.output().includes('no running container with TCP port 9999'),
        5000,
      );
    } finally {
      await forward.stop();
    }
  });

  it('logs, attach, and --timestamps on the process runtime refused with the reason', async () => {
    const pod = await aPod();
    expect((await kubectl('logs', pod)).out).toBe('started\n');
    const ts = await kubectl('logs', pod, '--timestamps');
    expect(ts.code).toBe(1);
    expect(ts.err).toContain('the process runtime keeps no timestamps');
    const attach = background(KUBECTL!, ['attach', pod], env);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(attach.output()).not.toContain('error');
    } finally {
      await attach.stop();
    }
  });

  it('describe svc shows its endpoints (from EndpointSlices), describe node its Lease', async () => {
    const slices = JSON.parse(
      (await kubectl('get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'json')).out,
    ).items;
    const addresses = slices
      .flatMap((s: any) => s.endpoints.flatMap((e: any) => e.addresses.map((a: string) => `${a}:${s.ports[0].port}`)))
      .sort();
    expect(addresses).toHaveLength(2);
    const svc = await kubectl('describe', 'svc', 'web');
    expect(svc.code, svc.err).toBe(0);
    const shown = /Endpoints:\s+(\S+)/.exec(svc.out)?.[1]?.split(',').sort();
    expect(shown).toEqual(addresses);
    const node = await kubectl('describe', 'node', 'n1');
    expect(node.out).toMatch(/Lease:\s+HolderIdentity:\s+\S+\s+AcquireTime:\s+\w{3}, .*\s+RenewTime:/);
  });

  it('rollout history and undo of a StatefulSet and a DaemonSet (ControllerRevisions)', async () => {
    const manifests = (version: string) =>
      ['StatefulSet', 'DaemonSet']
        .map(
          (kind) => `apiVersion: apps/v1
kind: ${kind}
metadata: {name: ${kind === 'StatefulSet' ? 'db' : 'agent'}}
spec:
  ${kind === 'StatefulSet' ? 'replicas: 1\n  serviceName: db\n  ' : ''}selector: {matchLabels: {app: ${kind.toLowerCase()}}}
  template:
    metadata: {labels: {app: ${kind.toLowerCase()}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo ${version}; exec sleep 3600']
`,
        )
        .join('---\n');
    await apply(manifests('v1'));
    await until('v1 running', async () => (await kubectl('logs', 'db-0')).out === 'v1\n', 30_000);
    await apply(manifests('v2'));
    for (const target of ['sts/db', 'ds/agent']) {
      await until(
        `${target} at two revisions`,
        async () => /^2\s/m.test((await kubectl('rollout', 'history', target)).out),
        30_000,
      );
      expect((await kubectl('rollout', 'history', target)).out).toMatch(
        /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/,
      );
    }
    await until('v2 running', async () => (await kubectl('logs', 'db-0')).out === 'v2\n', 30_000);
    const undo = await kubectl('rollout', 'undo', 'sts/db', '--to-revision=1');
    expect(undo, undo.err).toMatchObject({ code: 0, out: 'statefulset.apps/db rolled back\n' });
    await until('db-0 back on v1', async () => (await kubectl('logs', 'db-0')).out === 'v1\n', 30_000);
    // The old revision is the newest again, as Kubernetes renumbers it.
    expect((await kubectl('rollout', 'history', 'sts/db')).out).toMatch(
      /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/,
    );
    expect((await kubectl('rollout', 'undo', 'ds/agent')).code).toBe(0);
    await until(
      'the DaemonSet back on v1',
      async () => {
        const pods = await podsOf('app=daemonset');
        return (
          pods.length === 2 &&
          (await Promise.all(pods.map(async (p) => (await kubectl('logs', p.metadata.name)).out))).every(
            (o) => o === 'v1\n',
          )
        );
      },
      30_000,
    );
    expect((await kubectl('delete', 'sts/db', 'ds/agent')).code).toBe(0);
  }, 120_000);

  it('the verbs that need no node on the same server: explain, auth can-i, diff, server-side apply with a conflict', async () => {
    expect((await kubectl('explain', 'deployment.spec.replicas')).out).toContain('FIELD: replicas <integer>');
    expect(await kubectl('auth', 'can-i', 'create', 'pods/exec')).toMatchObject({ code: 0, out: 'yes\n' });
    const live = JSON.parse((await kubectl('get', 'deploy', 'web', '-o', 'json')).out);
    const file = path.join(home, 'web-diff.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: { ...live.spec, replicas: 7 },
      }),
    );
    const diff = await kubectl('diff', '-f', file);
    expect(diff.code).toBe(1); // kubectl diff: 1 means "differences found"
    expect(diff.out).toMatch(/-\s+replicas: 2\n\+\s+replicas: 7/);
    expect(JSON.parse((await kubectl('get', 'deploy', 'web', '-o', 'json')).out).metadata.resourceVersion).toBe(
      live.metadata.resourceVersion,
    );
    const ssa = await kubectl('apply', '--server-side', '-f', file);
    expect(ssa.code).toBe(1);
    expect(ssa.err).toContain('Apply failed with 1 conflict: conflict with "before-first-apply": .spec.replicas');
  });

  it('get all lists pods, services and the workloads', async () => {
    const r = await kubectl('get', 'all');
    expect(r.code, r.err).toBe(0);
    for (const name of ['pod/web-', 'service/web', 'deployment.apps/web', 'replicaset.apps/web-'])
      expect(r.out).toContain(name);
  });

  it('drain waits on a PodDisruptionBudget, then evicts once the budget allows it', async () => {
    await apply(`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
`);
    await until(
      'the budget counted',
      async () => JSON.parse((await kubectl('get', 'pdb', 'web', '-o', 'json')).out).status?.currentHealthy === 2,
    );
    // Both nodes hold a pod (the scheduler spreads a Deployment): drain n1.
    const onN1 = (await podsOf('app=web')).filter((p) => p.spec.nodeName === 'n1').map((p) => p.metadata.name);
    expect(onN1.length).toBeGreaterThan(0);
    const drain = background(KUBECTL!, ['drain', 'n1', '--ignore-daemonsets', '--timeout=60s'], env);
    try {
      await until(
        'an eviction refused by the budget',
        async () => drain.output().includes("Cannot evict pod as it would violate the pod's disruption budget."),
        20_000,
      );
      // Nothing went while the budget said no.
      expect(
        (await podsOf('app=web')).filter((p) => onN1.includes(p.metadata.name) && !p.metadata.deletionTimestamp).length,
      ).toBe(onN1.length);
      expect((await kubectl('scale', 'deployment/web', '--replicas=4')).code).toBe(0);
      await until('node drained', async () => drain.output().includes('node/n1 drained'), 45_000);
    } finally {
      await drain.stop();
    }
    const pods = await podsOf('app=web');
    expect(pods.filter((p) => p.spec.nodeName === 'n1' && !p.metadata.deletionTimestamp)).toEqual([]);
    await until(
      '4 ready pods on n2',
      async () => (await podsOf('app=web')).filter((p) => ready(p) && p.spec.nodeName === 'n2').length === 4,
      30_000,
    );
    expect((await kubectl('uncordon', 'n1')).code).toBe(0);
    // berth drain evicts through the same budget: with every pod needed (minAvailable 4), it waits, says why, and gives up at its timeout.
    expect((await kubectl('patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":4}}')).code).toBe(0);
    await until(
      'the budget allows nothing',
      async () =>
        JSON.parse((await kubectl('get', 'pdb', 'web', '-o', 'json')).out).status?.disruptionsAllowed === 0 &&
        JSON.parse((await kubectl('get', 'pdb', 'web', '-o', 'json')).out).status?.observedGeneration === 2,
    );
    const blocked = await berth('drain', 'n2', '--timeout', '5s');
    expect(blocked.code).toBe(3);
    expect(blocked.err).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
    expect(blocked.err).toContain('their disruption budgets allowed no disruption');
    expect((await podsOf('app=web')).filter((p) => !p.metadata.deletionTimestamp)).toHaveLength(4);
    expect((await kubectl('uncordon', 'n2')).code).toBe(0);
  }, 120_000);
});
