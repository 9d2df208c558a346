/**
 * The real kubectl against the Berth API (HTTPS, CA verified, bearer token), with the commands a
 * Kubernetes user reaches for first. Skipped only where kubectl is not installed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

describe.skipIf(!KUBECTL)('the real kubectl against berth server', () => {
  let server: TestServer;
  let home: string;
  // Asynchronous on purpose: the server under test runs on this process's event loop.
  const kubectl = (...args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
    new Promise((resolve) => {
      const child = spawn(KUBECTL!, ['--kubeconfig', server.kubeconfigPath, ...args], {
        env: { ...process.env, HOME: home, KUBECONFIG: '' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });

  beforeAll(async () => {
    server = await startTestServer();
    home = mkdtempSync(path.join(tmpdir(), 'berth-kubectl-home-'));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('apply: created, then unchanged, then configured', async () => {
    const file = path.join(home, 'web.yaml');
    const manifest = (image: string) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n          ports: [{containerPort: 80}]\n`;
    writeFileSync(file, manifest('nginx:1.25'));
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, out: 'deployment.apps/web created\n' });
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, out: 'deployment.apps/web unchanged\n' });
    writeFileSync(file, manifest('nginx:1.26'));
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, out: 'deployment.apps/web configured\n' });
    expect(
      await kubectl(
        'get',
        'deploy',
        'web',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}',
      ),
    ).toMatchObject({ code: 0, out: 'nginx:1.26 2' });
  });

  it("get pods -A shows kubectl's usual columns", async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p1', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
    };
    expect(
      (await api(server, 'POST', '/api/v1/namespaces/default/pods', { token: server.adminToken, body: pod })).status,
    ).toBe(201);
    const r = await kubectl('get', 'pods', '-A');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(r.out).toMatch(/default\s+p1\s+0\/1\s+Pending\s+0\s+\d+s/);
  });

  it('get deployments -o yaml', async () => {
    const r = await kubectl('get', 'deployments', '-o', 'yaml');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/kind: List/);
    expect(r.out).toMatch(/name: web/);
    expect(r.out).toMatch(/resourceVersion: "\d+"/);
  });

  it('describe deployment shows its ReplicaSets and Events', async () => {
    const dep = (
      await api(server, 'GET', '/apis/apps/v1/namespaces/default/deployments/web', { token: server.adminToken })
    ).body;
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-5d4f8c7b9',
        namespace: 'default',
        labels: { app: 'web', 'pod-template-hash': '5d4f8c7b9' },
        annotations: { 'deployment.kubernetes.io/revision': '2' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'web',
            uid: dep.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d4f8c7b9' } },
        template: {
          metadata: { labels: { app: 'web', 'pod-template-hash': '5d4f8c7b9' } },
          spec: dep.spec.template.spec,
        },
      },
    };
    expect(
      (
        await api(server, 'POST', '/apis/apps/v1/namespaces/default/replicasets', {
          token: server.adminToken,
          body: rs,
        })
      ).status,
    ).toBe(201);
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.1', namespace: 'default' },
      involvedObject: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web',
        namespace: 'default',
        uid: dep.metadata.uid,
      },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set web-5d4f8c7b9 to 2',
      type: 'Normal',
      count: 1,
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      source: { component: 'deployment-controller' },
    };
    expect(
      (await api(server, 'POST', '/api/v1/namespaces/default/events', { token: server.adminToken, body: event }))
        .status,
    ).toBe(201);
    const r = await kubectl('describe', 'deployment', 'web');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/NewReplicaSet:\s+web-5d4f8c7b9/);
    expect(r.out).toMatch(/Normal\s+ScalingReplicaSet\s+.*Scaled up replica set web-5d4f8c7b9 to 2/);
  });

  it('get pods -w streams changes', async () => {
    const child = spawn(KUBECTL!, ['--kubeconfig', server.kubeconfigPath, 'get', 'pods', '-w'], {
      env: { ...process.env, HOME: home, KUBECONFIG: '' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      const until = async (pattern: RegExp) => {
        const deadline = Date.now() + 15_000;
        while (!pattern.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(out).toMatch(pattern);
      };
      await until(/p1\s+0\/1\s+Pending/);
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p2', namespace: 'default' },
        spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
      };
      await api(server, 'POST', '/api/v1/namespaces/default/pods', { token: server.adminToken, body: pod });
      await until(/p2\s+0\/1\s+Pending/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('api-resources lists every kind with short names', async () => {
    const r = await kubectl('api-resources');
    expect(r.code).toBe(0);
    for (const line of [
      /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m,
      /^pods\s+po\s+v1\s+true\s+Pod$/m,
      /^applications\s+app,apps\s+berth\.dev\/v1\s+true\s+Application$/m,
      /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m,
    ]) {
      expect(r.out).toMatch(line);
    }
  });

  it('errors come back as kubectl prints Kubernetes errors', async () => {
    const r = await kubectl('get', 'deploy', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Error from server \(NotFound\): deployments\.apps "nope" not found/);
  });

  it('diff, apply --dry-run=server and delete --dry-run=server change nothing', async () => {
    const file = path.join(home, 'dry.yaml');
    const manifest = (image: string, extra = '') =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dry\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: dry}\n  template:\n    metadata:\n      labels: {app: dry}\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n${extra}`;
    writeFileSync(file, manifest('nginx:1.25'));
    const created = await kubectl('apply', '-f', file);
    expect(created.code, created.err).toBe(0);
    const live = async () => {
      const got = await kubectl('get', 'deploy', 'dry', '-o', 'json');
      if (got.code !== 0) throw new Error(`kubectl get: ${got.err}`);
      return JSON.parse(got.out);
    };
    const before = await live();
    const revision = await server.store.revision();

    writeFileSync(file, manifest('nginx:1.26'));
    const diff = await kubectl('diff', '-f', file);
    expect(diff.code, diff.err).toBe(1); // kubectl diff: 1 means there are differences
    expect(diff.out).toMatch(/^-\s+- image: nginx:1\.25$/m);
    expect(diff.out).toMatch(/^\+\s+- image: nginx:1\.26$/m);
    const applied = await kubectl('apply', '--dry-run=server', '-f', file);
    expect(applied).toMatchObject({ code: 0, out: 'deployment.apps/dry configured (server dry run)\n' });
    const newFile = path.join(home, 'new.yaml');
    writeFileSync(newFile, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: drycm\ndata: {a: b}\n');
    expect(await kubectl('apply', '--dry-run=server', '-f', newFile)).toMatchObject({
      code: 0,
      out: 'configmap/drycm created (server dry run)\n',
    });
    expect(await kubectl('delete', 'deploy', 'dry', '--dry-run=server')).toMatchObject({
      code: 0,
      out: 'deployment.apps "dry" deleted (server dry run)\n',
    });

    const after = await live();
    expect({
      rv: after.metadata.resourceVersion,
      generation: after.metadata.generation,
      image: after.spec.template.spec.containers[0].image,
    }).toEqual({ rv: before.metadata.resourceVersion, generation: before.metadata.generation, image: 'nginx:1.25' });
    expect((await kubectl('get', 'cm', 'drycm')).code).toBe(1);
    expect(await server.store.revision()).toBe(revision);
  });

  it('scale goes through the scale subresource', async () => {
    const file = path.join(home, 'scaled.yaml');
    writeFileSync(
      file,
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: scaled\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: scaled}\n  template:\n    metadata:\n      labels: {app: scaled}\n    spec:\n      containers: [{name: web, image: nginx}]\n',
    );
    expect((await kubectl('apply', '-f', file)).code).toBe(0);
    expect(await kubectl('scale', 'deployment', 'scaled', '--replicas=4')).toMatchObject({
      code: 0,
      out: 'deployment.apps/scaled scaled\n',
    });
    expect(await kubectl('get', 'deploy', 'scaled', '-o', 'jsonpath={.spec.replicas}')).toMatchObject({
      code: 0,
      out: '4',
    });
  });

  it("auth can-i and auth whoami answer from Berth's roles", async () => {
    expect(await kubectl('auth', 'can-i', 'create', 'deployments')).toMatchObject({ code: 0, out: 'yes\n' });
    const { token } = await server.tokens.create({ role: 'readonly' });
    expect(await kubectl('auth', 'can-i', 'list', 'pods', '--token', token)).toMatchObject({ code: 0, out: 'yes\n' });
    expect(await kubectl('auth', 'can-i', 'delete', 'pods', '--token', token)).toMatchObject({
      code: 1,
      out: 'no - role readonly may not delete pods\n',
    });
    const who = await kubectl('auth', 'whoami', '-o', 'json', '--token', token);
    expect(who.code, who.err).toBe(0);
    expect(JSON.parse(who.out).status.userInfo.groups).toContain('berth:readonly');
  });

  it('create configmap, secret and namespace (sent as protobuf) work', async () => {
    expect(await kubectl('create', 'namespace', 'made')).toMatchObject({ code: 0, out: 'namespace/made created\n' });
    expect(
      await kubectl(
        'create',
        'configmap',
        'settings',
        '-n',
        'made',
        '--from-literal=mode=fast',
        '--from-literal=level=3',
      ),
    ).toMatchObject({ code: 0, out: 'configmap/settings created\n' });
    expect(
      await kubectl('create', 'secret', 'generic', 'creds', '-n', 'made', '--from-literal=password=s3cret'),
    ).toMatchObject({ code: 0, out: 'secret/creds created\n' });
    const cm = JSON.parse((await kubectl('get', 'cm', 'settings', '-n', 'made', '-o', 'json')).out);
    expect(cm.data).toEqual({ mode: 'fast', level: '3' });
    const secret = JSON.parse((await kubectl('get', 'secret', 'creds', '-n', 'made', '-o', 'json')).out);
    expect({ type: secret.type, password: Buffer.from(secret.data.password, 'base64').toString() }).toEqual({
      type: 'Opaque',
      password: 's3cret',
    });
  });

  it("explain reads the kinds' schemas from /openapi/v3", async () => {
    const field = await kubectl('explain', 'deployment.spec.replicas');
    expect(field.code, field.err).toBe(0);
    expect(field.out).toMatch(/GROUP:\s+apps\nKIND:\s+Deployment\nVERSION:\s+v1/);
    expect(field.out).toContain('FIELD: replicas <integer>');
    const containers = await kubectl('explain', 'pods.spec.containers');
    expect(containers.out).toMatch(/image\s+<string> -required-/);
    expect(containers.out).toMatch(/imagePullPolicy\s+<string>\n\s+enum: Always, IfNotPresent, Never/);
    const pdb = await kubectl('explain', 'pdb.spec');
    expect(pdb.out).toContain('maxUnavailable');
  });

  it('apply --server-side: field managers, a conflict named as Kubernetes names it, --force-conflicts', async () => {
    const file = path.join(home, 'ssa.yaml');
    const manifest = (replicas: number, image: string) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\nspec:\n  replicas: ${replicas}\n  selector:\n    matchLabels: {app: ssa}\n  template:\n    metadata:\n      labels: {app: ssa}\n    spec:\n      containers:\n        - name: main\n          image: ${image}\n`;
    writeFileSync(file, manifest(2, 'nginx:1'));
    expect(await kubectl('apply', '--server-side', '-f', file)).toMatchObject({
      code: 0,
      out: 'deployment.apps/ssa serverside-applied\n',
    });
    writeFileSync(file, manifest(3, 'nginx:1'));
    const conflict = await kubectl('apply', '--server-side', '--field-manager=bob', '-f', file);
    expect(conflict.code).toBe(1);
    expect(conflict.err).toContain('Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
    expect(
      await kubectl('apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-f', file),
    ).toMatchObject({ code: 0 });
    const live = JSON.parse((await kubectl('get', 'deploy', 'ssa', '-o', 'json', '--show-managed-fields')).out);
    expect(live.spec.replicas).toBe(3);
    const owners = Object.fromEntries(live.metadata.managedFields.map((m: any) => [m.manager, m.operation]));
    expect(owners).toEqual({ kubectl: 'Apply', bob: 'Apply' });
    expect(live.metadata.managedFields.find((m: any) => m.manager === 'bob').fieldsV1['f:spec']['f:replicas']).toEqual(
      {},
    );
    expect(
      live.metadata.managedFields.find((m: any) => m.manager === 'kubectl').fieldsV1['f:spec']['f:replicas'],
    ).toBeUndefined();
    // A client-side write (kubectl scale) takes the field as an Update, with no conflict.
    expect((await kubectl('scale', 'deploy', 'ssa', '--replicas=4')).code).toBe(0);
    const after = JSON.parse((await kubectl('get', 'deploy', 'ssa', '-o', 'json', '--show-managed-fields')).out);
    expect(
      after.metadata.managedFields
        .filter((m: any) => m.fieldsV1['f:spec']?.['f:replicas'])
        .map((m: any) => m.operation),
    ).toEqual(['Update']);
  });

  it('run, create deployment and create job --from=cronjob (protobuf bodies) create what they say', async () => {
    expect(
      await kubectl(
        'create',
        'deployment',
        'made',
        '--image=busybox:1',
        '--replicas=0',
        '--port=8080',
        '--',
        'sleep',
        '3600',
      ),
    ).toMatchObject({ code: 0, out: 'deployment.apps/made created\n' });
    const dep = JSON.parse((await kubectl('get', 'deploy', 'made', '-o', 'json')).out);
    expect({
      replicas: dep.spec.replicas,
      selector: dep.spec.selector,
      container: dep.spec.template.spec.containers[0],
    }).toMatchObject({
      replicas: 0,
      selector: { matchLabels: { app: 'made' } },
      container: {
        name: 'busybox',
        image: 'busybox:1',
        command: ['sleep', '3600'],
        ports: [{ containerPort: 8080, protocol: 'TCP' }],
      },
    });
    expect(
      await kubectl('run', 'runner', '--image=busybox', '--env=MODE=fast', '--labels=team=a', '--', 'sleep', '100'),
    ).toMatchObject({ code: 0, out: 'pod/runner created\n' });
    const pod = JSON.parse((await kubectl('get', 'pod', 'runner', '-o', 'json')).out);
    expect({ labels: pod.metadata.labels, args: pod.spec.containers[0].args, env: pod.spec.containers[0].env }).toEqual(
      { labels: { team: 'a' }, args: ['sleep', '100'], env: [{ name: 'MODE', value: 'fast' }] },
    );
    const cronjob = path.join(home, 'cj.yaml');
    writeFileSync(
      cronjob,
      'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: "0 3 * * *"\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: main, image: busybox, command: [echo, hi], env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]\n',
    );
    expect((await kubectl('apply', '-f', cronjob)).code).toBe(0);
    expect(await kubectl('create', 'job', 'by-hand', '--from=cronjob/nightly')).toMatchObject({
      code: 0,
      out: 'job.batch/by-hand created\n',
    });
    const job = JSON.parse((await kubectl('get', 'job', 'by-hand', '-o', 'json')).out);
    expect(job.metadata.ownerReferences).toMatchObject([{ kind: 'CronJob', name: 'nightly', controller: true }]);
    expect(job.metadata.annotations).toMatchObject({ 'cronjob.kubernetes.io/instantiate': 'manual' });
    expect(job.spec.backoffLimit).toBe(2);
    expect(job.spec.template.spec.containers[0]).toMatchObject({
      command: ['echo', 'hi'],
      env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    });
  });
});
