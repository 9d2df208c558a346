/**
 * Elastic scaling end to end on the process runtime: a real server and agent, the agent sampling
 * every 2 s. `kubectl top` and `berth top` show what the kernel reports for the pods' processes;
 * a Deployment whose pods burn CPU (a quarter of a core each) while the test's load is on scales from 1 to its HPA's max
 * within 45 s, and back to 1 after the (shortened) stabilization window once the load stops.
 * The load is bounded: a flag file the pods' loop checks, removed by the test (and in afterAll).
 */
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processGroupUsage } from '../../src/agent/usage.js';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const ADDRESS = '127.0.0.61';

describe('HorizontalPodAutoscaler on CPU, with kubectl top (process runtime)', () => {
  let server: BerthServerProcess;
  let agent: AgentProcess;
  let dir: string;
  let flag: string;
  let ingressPort: number;

  const kubectl = async (...args: string[]) =>
    (
      await promisify(execFile)(KUBECTL!, ['--kubeconfig', path.join(server.dir, 'kubeconfig.yaml'), ...args], {
        env: { ...process.env, HOME: dir, KUBECONFIG: '' },
        timeout: 30_000,
      })
    ).stdout;
  const json = async (p: string) => (await api(server, 'GET', p, { token: server.token })).body;
  const deployment = () => json('/apis/apps/v1/namespaces/default/deployments/burner');
  const hpa = () => json('/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/burner');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-hpa-'));
    flag = path.join(dir, 'load');
    buildOnce();
    ingressPort = await freePort();
    server = await startBerthServer({
      args: [
        '--log-level',
        'warn',
        '--ingress-listen',
        `${ADDRESS}:${ingressPort}`,
        '--horizontal-pod-autoscaler-sync-period',
        '2s',
        '--horizontal-pod-autoscaler-downscale-stabilization',
        '6s',
      ],
    });
    agent = await startAgent(server, {
      name: 'hpa-node',
      address: ADDRESS,
      args: ['--metrics-interval', '2s', '--capacity', 'cpu=8,memory=8Gi,pods=20'],
    });
  }, 120_000);
  afterAll(async () => {
    rmSync(flag, { force: true });
    await agent?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('top shows what the kernel counts; the HPA scales 1 → 3 under load and back to 1 after it', async () => {
    // While the flag file exists each pod burns about a quarter of a core (20,000 turns of a shell
    // loop, ~30 ms, then 0.1 s asleep): 250% of its 100m request, and little enough that the suites
    // running beside this one keep their CPU. Else it sleeps.
    const burn = `while :; do if [ -e ${flag} ]; then i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.1; else sleep 0.3; fi; done`;
    writeFileSync(
      path.join(dir, 'app.yaml'),
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: burner}
spec:
  replicas: 1
  selector: {matchLabels: {app: burner}}
  template:
    metadata: {labels: {app: burner}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: burn
          image: busybox
          command: [/bin/busybox, sh, -c, '${burn}']
          resources: {requests: {cpu: 100m, memory: 16Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: burner}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burner}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 6}
`,
    );
    const applied = await server.cli('apply', '-f', path.join(dir, 'app.yaml'));
    expect(applied.code, applied.err).toBe(0);

    // Idle: the HPA reads a low utilization and keeps 1.
    await until(
      'the HPA reads the idle pod',
      async () => (await hpa()).status?.currentMetrics?.[0]?.resource?.current?.averageUtilization !== undefined,
      40_000,
    );
    expect((await deployment()).spec.replicas).toBe(1);

    writeFileSync(flag, 'on\n');
    const loadStarted = Date.now();
    try {
      // kubectl top against the kernel: the pod's processes' CPU over the same seconds.
      const pod = await until(
        'the pod burns',
        async () => {
          const top = await server.cli('top', 'pods', '-l', 'app=burner', '-o', 'json');
          const item = JSON.parse(top.out).items.find(
            (p: { containers: { usage: { cpu: string } }[] }) => parseInt(p.containers[0]!.usage.cpu) > 1e8,
          );
          return item;
        },
        30_000,
      );
      // The pod's own process group, read from /proc over the same seconds as three consecutive
      // samples the agent took (each over its 2 s interval): their mean against the kernel's count.
      const uid = (await json(`/api/v1/namespaces/default/pods/${pod.metadata.name}`)).metadata.uid;
      const group = podGroup(agent.dir, uid);
      const cpuOf = () => processGroupUsage(new Set([group])).get(group)?.cpuNanos ?? 0;
      const podMetrics = () => json(`/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/${pod.metadata.name}`);
      let last = (await podMetrics()).timestamp;
      const first = cpuOf();
      const t0 = Date.now();
      const samples: number[] = [];
      while (samples.length < 3) {
        await new Promise((r) => setTimeout(r, 500));
        const m = await podMetrics();
        if (m.timestamp === last) continue;
        last = m.timestamp;
        samples.push(parseInt(m.containers[0].usage.cpu) / 1e9);
      }
      const kernelCores = (cpuOf() - first) / 1e9 / ((Date.now() - t0) / 1000);
      const reported = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(Math.abs(reported - kernelCores) / kernelCores, `reported ${reported} kernel ${kernelCores}`).toBeLessThan(
        0.2,
      );
      console.log(`top: ${reported.toFixed(3)} cores reported, ${kernelCores.toFixed(3)} counted by the kernel`);
      if (KUBECTL) {
        const top = await kubectl('top', 'pods', '-l', 'app=burner');
        expect(top).toMatch(/^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
        expect(top).toContain(pod.metadata.name);
        const nodes = await kubectl('top', 'nodes');
        expect(nodes).toMatch(/hpa-node\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/);
      }

      await until(
        'scaled to 3',
        async () => (await deployment()).spec.replicas === 3,
        45_000 - (Date.now() - loadStarted),
      );
      const scaledIn = Date.now() - loadStarted;
      const h = await hpa();
      expect(h.status.desiredReplicas).toBe(3);
      expect(h.status.conditions.find((c: { type: string }) => c.type === 'ScalingActive').status).toBe('True');
      const table = (await server.cli('get', 'hpa')).out;
      expect(table).toMatch(/burner\s+Deployment\/burner\s+cpu: \d+%\/50%\s+1\s+3\s+\d/);
      if (KUBECTL)
        expect(await kubectl('get', 'hpa', 'burner')).toMatch(
          /^burner\s+Deployment\/burner\s+cpu: \d+%\/50%\s+1\s+3\s+\d+\s+\d/m,
        );
      const events = (await server.cli('get', 'events', '-o', 'json')).out;
      expect(events).toContain('New size: ');
      console.log(`scaled 1 → 3 in ${scaledIn} ms after the load started`);
    } finally {
      rmSync(flag, { force: true });
    }
    const loadStopped = Date.now();
    await until('scaled back to 1', async () => (await deployment()).spec.replicas === 1, 60_000);
    // Not before the stabilization window: the highest recommendation of the last 6 s held it.
    expect(Date.now() - loadStopped).toBeGreaterThanOrEqual(6000);
  }, 180_000);

  it("follows a stepped load on its Ingress's requests_per_second (custom metrics), and back", async () => {
    writeFileSync(
      path.join(dir, 'web.yaml'),
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: busybox
          command: [/bin/busybox, sh, -c, 'echo ok > index.html; exec /bin/busybox httpd -f -p $PORT -h .']
          ports: [{containerPort: 8080}]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: main}
spec:
  rules:
    - host: hpa.test
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: Object
      object:
        describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main}
        metric: {name: requests_per_second}
        target: {type: AverageValue, averageValue: "4"}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 6}
`,
    );
    const applied = await server.cli('apply', '-f', path.join(dir, 'web.yaml'));
    expect(applied.code, applied.err).toBe(0);
    const replicas = async () => (await json('/apis/apps/v1/namespaces/default/deployments/web')).spec.replicas;
    const load = new SteadyLoad(ADDRESS, ingressPort, 'hpa.test');
    try {
      await until('the Ingress serves', async () => (await load.once()) === 200, 30_000);
      // 6 requests a second for a pod's share of 4: ceil(6 / 4) = 2 pods, and no more.
      load.rate(6);
      await until('2 pods for 6 rps', async () => (await replicas()) === 2, 40_000);
      const metric = await json(
        '/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/ingresses.networking.k8s.io/main/requests_per_second',
      );
      expect(metric.items[0]).toMatchObject({
        describedObject: { kind: 'Ingress', name: 'main', namespace: 'default' },
        metric: { name: 'requests_per_second' },
        windowSeconds: 10,
      });
      expect(parseInt(metric.items[0].value) / 1000).toBeGreaterThan(3);
      const perPod = await json(
        '/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/requests_per_second?labelSelector=app%3Dweb',
      );
      expect(perPod.items.length).toBe(2);
      // 14 a second: ceil(14 / 4) = 4, the max.
      load.rate(14);
      await until('4 pods for 14 rps', async () => (await replicas()) === 4, 40_000);
      expect(load.failed, 'requests the ingress failed while it scaled').toBe(0);
    } finally {
      load.stop();
    }
    await until('back to 1 once the load stops', async () => (await replicas()) === 1, 60_000);
    const hpaStatus = (await json('/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web')).status;
    expect(hpaStatus.currentMetrics[0]).toMatchObject({
      type: 'Object',
      object: { metric: { name: 'requests_per_second' } },
    });
    console.log(`stepped load: ${load.sent} requests sent, ${load.failed} failed`);
    // Berth's own metrics: the server's (ingress, controllers, scheduler) and the agent's, through the API.
    const text = async (p: string) => (await api(server, 'GET', p, { token: server.token })).text;
    const serverMetrics = await text('/metrics');
    const served = /^berth_ingress_requests_total\{host="hpa.test",code="200"\} (\d+)$/m.exec(serverMetrics);
    expect(Number(served?.[1])).toBeGreaterThanOrEqual(load.sent - 5);
    expect(serverMetrics).toMatch(/^berth_ingress_request_duration_seconds_bucket\{le="0.1",host="hpa.test"\} \d+$/m);
    expect(serverMetrics).toMatch(
      /^berth_controller_reconcile_total\{controller="horizontal-pod-autoscaler",result="requeue"\} \d+$/m,
    );
    expect(serverMetrics).toMatch(/^berth_scheduler_schedule_attempts_total\{result="scheduled"\} \d+$/m);
    expect(serverMetrics).toMatch(/^berth_workqueue_depth\{name="deployment"\} \d+$/m);
    const agentMetrics = await text('/api/v1/nodes/hpa-node/proxy/metrics');
    expect(agentMetrics).toMatch(/^berth_agent_container_starts_total\{result="started"\} \d+$/m);
    expect(agentMetrics).toMatch(/^berth_agent_usage_sampling_cpu_seconds_total \d/m);
  }, 180_000);
});

/** Requests at a steady rate (bounded: at most 2,000 in all), keep-alive, to the ingress on loopback. */
class SteadyLoad {
  sent = 0;
  failed = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly hostHeader: string,
  ) {}
  once(): Promise<number> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: this.host,
          port: this.port,
          path: '/',
          headers: { host: this.hostHeader },
          agent: this.agent,
          timeout: 5000,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }
  rate(perSecond: number): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.sent >= 2000) return this.stop();
      this.sent++;
      void this.once().then((code) => {
        if (code !== 200) this.failed++;
      });
    }, 1000 / perSecond);
  }
  stop(): void {
    clearInterval(this.timer);
    this.agent.destroy();
  }
}

/** The process group of a pod's container (its shell leads it), from the agent's records. */
function podGroup(agentDir: string, podUid: string): number {
  const root = path.join(agentDir, 'process');
  for (const id of readdirSync(root)) {
    try {
      const meta = JSON.parse(readFileSync(path.join(root, id, 'meta.json'), 'utf8')) as {
        pid: number;
        podUid: string;
      };
      if (meta.podUid === podUid) return meta.pid;
    } catch {
      // removed meanwhile
    }
  }
  throw new Error(`no process of pod ${podUid}`);
}
