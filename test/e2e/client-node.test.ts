/**
 * The official JavaScript client (@kubernetes/client-node 1.x) against `berth server` with a
 * process-runtime agent: list, create, an informer that sees the pods come, patch, scale, logs,
 * exec (its WebSocket protocol) and delete — as an operator or a dashboard would use Berth.
 */
import { PassThrough } from 'node:stream';
import path from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { until } from '../helpers/wait.js';

describe('@kubernetes/client-node against berth', () => {
  let server: BerthServerProcess;
  let agent: AgentProcess;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  beforeAll(async () => {
    buildOnce();
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agent = await startAgent(server, { name: 'cn1', address: '127.0.0.43' });
    kc = new KubeConfig();
    kc.loadFromFile(path.join(server.dir, 'kubeconfig.yaml'));
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hello', labels: { app: 'hello' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'hello' } },
      template: {
        metadata: { labels: { app: 'hello' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: 'busybox',
              command: ['/bin/busybox', 'sh', '-c', 'echo hello from $HOSTNAME; exec sleep 3600'],
            },
          ],
        },
      },
    },
  };

  it('lists, creates, watches with an informer, patches, scales, reads logs, execs and deletes', async () => {
    const namespaces = await core.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default']));

    // An informer started before anything exists sees each pod as it comes.
    const seen = new Map<string, V1Pod>();
    const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () =>
      core.listNamespacedPod({ namespace: 'default' }),
    );
    informer.on('add', (p) => seen.set(p.metadata!.name!, p));
    informer.on('update', (p) => seen.set(p.metadata!.name!, p));
    informer.on('delete', (p) => seen.delete(p.metadata!.name!));
    await informer.start();
    try {
      const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment });
      expect(created.metadata?.uid).toBeTruthy();
      const running = await until(
        'the informer sees a running pod',
        async () =>
          [...seen.values()].find((p) => p.status?.phase === 'Running' && p.metadata?.labels?.app === 'hello'),
        60_000,
      );

      const patched = await apps.patchNamespacedDeployment(
        { name: 'hello', namespace: 'default', body: { metadata: { labels: { tier: 'demo' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      expect(patched.metadata?.labels).toEqual({ app: 'hello', tier: 'demo' });

      const scale = await apps.readNamespacedDeploymentScale({ name: 'hello', namespace: 'default' });
      expect(scale.spec?.replicas).toBe(1);
      await apps.replaceNamespacedDeploymentScale({
        name: 'hello',
        namespace: 'default',
        body: { ...scale, spec: { replicas: 2 } },
      });
      await until(
        'the informer sees two pods',
        async () =>
          [...seen.values()].filter((p) => p.metadata?.labels?.app === 'hello' && !p.metadata?.deletionTimestamp)
            .length === 2,
        30_000,
      );

      const log = await core.readNamespacedPodLog({ name: running.metadata!.name!, namespace: 'default' });
      expect(log).toBe(`hello from ${running.metadata!.name}\n`);

      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = '';
      let err = '';
      stdout.on('data', (d) => (out += d));
      stderr.on('data', (d) => (err += d));
      const status = await new Promise<V1Status>((resolve, reject) => {
        new Exec(kc)
          .exec(
            'default',
            running.metadata!.name!,
            'main',
            ['sh', '-c', 'echo out; echo err >&2; exit 3'],
            stdout,
            stderr,
            null,
            false,
            resolve,
          )
          .catch(reject);
      });
      expect({ out, err }).toEqual({ out: 'out\n', err: 'err\n' });
      expect(status).toMatchObject({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '3' }] },
      });

      await apps.deleteNamespacedDeployment({ name: 'hello', namespace: 'default' });
      await until(
        'the informer sees the pods go',
        async () => ![...seen.values()].some((p) => p.metadata?.labels?.app === 'hello'),
        30_000,
      );
      await expect(apps.readNamespacedDeployment({ name: 'hello', namespace: 'default' })).rejects.toMatchObject({
        code: 404,
      });
    } finally {
      await informer.stop();
    }
  }, 120_000);
});
