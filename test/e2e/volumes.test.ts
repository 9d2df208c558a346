/**
 * Storage end to end on each runtime (processes, Docker): a real server and agent. A claim that names no class
 * gets a local-path volume on the node its pod runs on (the default StorageClass), the pod's file
 * lands in that volume's directory and is there for the next pod; a static hostPath volume with
 * labels binds to the claim whose selector asks for them (and a pod's file lands there); Retain
 * keeps a released volume and its files, Delete removes the volume and its directory; a claim
 * deleted while a pod uses it waits for the pod.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { CORPUS } from '../shared.js';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { TEST_IMAGE, ensureTestImage } from '../helpers/docker.js';
import { TestRepo } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

describe.each(['process', 'docker'])('PersistentVolumes and claims on a real node (%s runtime)', (runtime) => {
  let server: BerthServerProcess;
  let agent: AgentProcess;
  const node = `vol-${runtime}`;
  let hostDir: string;
  // The volume is at the mount path in a container; a process finds it in $BERTH_VOLUME_<NAME>.
  const [image, data] = runtime === 'docker' ? [TEST_IMAGE, '/data'] : ['busybox', '$BERTH_VOLUME_DATA'];
  const writer = (name: string, claim: string, text: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claim}}}]
  containers:
    - name: c
      image: ${image}
      command: [/bin/busybox, sh, -c, 'cat ${data}/note.txt 2>/dev/null; echo ${text} >> ${data}/note.txt']
      volumeMounts: [{name: data, mountPath: /data}]
`;
  beforeAll(async () => {
    hostDir = mkdtempSync(path.join(tmpdir(), 'berth-pv-'));
    buildOnce();
    if (runtime === 'docker') ensureTestImage();
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agent = await startAgent(server, { name: node, address: '127.0.0.1', runtime });
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    if (runtime === 'docker') {
      // What the agent left (a failed test) goes too.
      const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.dev/node=${node}`], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean);
      if (left.length) execFileSync('docker', ['rm', '-f', ...left], { stdio: 'ignore' });
    }
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
  });
  const request = (method: string, p: string, body?: unknown) =>
    api(server, method, p, { token: server.token, ...(body !== undefined ? { body } : {}) });
  const apply = async (name: string, yaml: string) => {
    const file = path.join(server.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    const r = await server.cli('apply', '-f', file);
    expect(r.code, r.err).toBe(0);
  };
  const claim = async (name: string) =>
    (await request('GET', `/api/v1/namespaces/default/persistentvolumeclaims/${name}`)).body;
  const volume = async (name: string) => request('GET', `/api/v1/persistentvolumes/${name}`);
  const succeeded = (pod: string) =>
    until(
      `pod ${pod} Succeeded`,
      async () => {
        const p = (await request('GET', `/api/v1/namespaces/default/pods/${pod}`)).body;
        return p.status?.phase === 'Succeeded';
      },
      60_000,
    );
  const deletePod = async (pod: string) => {
    await request('DELETE', `/api/v1/namespaces/default/pods/${pod}`);
    await until(
      `pod ${pod} gone`,
      async () => (await request('GET', `/api/v1/namespaces/default/pods/${pod}`)).status === 404,
      30_000,
    );
  };

  it('a claim without a class gets a local-path volume on its pod’s node; the data outlives the pod; Delete removes the volume', async () => {
    expect((await server.cli('get', 'storageclass')).out).toMatch(
      /^local-path \(default\)\s+berth\.dev\/local-path\s+Delete\s+WaitForFirstConsumer\s+false/m,
    );
    await apply(
      'claim',
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: notes}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n',
    );
    // No pod yet: it waits for its first consumer.
    await until('WaitForFirstConsumer', async () =>
      (await server.cli('describe', 'pvc', 'notes')).out.includes('WaitForFirstConsumer'),
    );
    expect((await claim('notes')).status.phase).toBe('Pending');
    await apply('first', writer('first', 'notes', 'one'));
    await succeeded('first');
    const bound = await until('the claim Bound', async () => {
      const c = await claim('notes');
      return c.status?.phase === 'Bound' && c;
    });
    const pv = (await volume(bound.spec.volumeName)).body;
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0]).toEqual({
      key: 'kubernetes.io/hostname',
      operator: 'In',
      values: [node],
    });
    // The volume's directory is in the agent's data directory, and holds what the pod wrote.
    expect(pv.spec.hostPath.path).toBe(path.join(agent.dir, 'claims', 'default', 'notes'));
    expect(readFileSync(path.join(pv.spec.hostPath.path, 'note.txt'), 'utf8')).toBe('one\n');
    const table = (await server.cli('get', 'pv')).out;
    expect(table).toMatch(
      new RegExp(`^${pv.metadata.name}\\s+1Gi\\s+RWO\\s+Delete\\s+Bound\\s+default/notes\\s+local-path`, 'm'),
    );
    // The next pod sees it.
    await deletePod('first');
    await apply('second', writer('second', 'notes', 'two'));
    await succeeded('second');
    // It read what the first one wrote before adding its own line.
    expect((await server.cli('logs', 'second')).out).toBe('one\n');
    expect(readFileSync(path.join(pv.spec.hostPath.path, 'note.txt'), 'utf8')).toBe('one\ntwo\n');
    await deletePod('second');
    // Delete: the claim goes, its volume goes, and the node's agent removes its directory first.
    await request('DELETE', '/api/v1/namespaces/default/persistentvolumeclaims/notes');
    await until('the volume deleted', async () => (await volume(pv.metadata.name)).status === 404, 30_000);
    expect(existsSync(pv.spec.hostPath.path)).toBe(false);
  }, 180_000);

  it('a static hostPath volume binds to the claim whose selector asks for its labels; Retain keeps it Released', async () => {
    const pvYaml = (name: string, labels: string) => `apiVersion: v1
kind: PersistentVolume
metadata: {name: ${name}, labels: {${labels}}}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: ${path.join(hostDir, name)}, type: DirectoryOrCreate}
`;
    await apply('pvs', `${pvYaml('plain', 'tier: web')}---\n${pvYaml('fast', 'tier: db')}`);
    await apply(
      'db-claim',
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: db}\nspec:\n  storageClassName: ""\n  selector: {matchLabels: {tier: db}}\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n',
    );
    const bound = await until('db Bound', async () => {
      const c = await claim('db');
      return c.status?.phase === 'Bound' && c;
    });
    expect(bound.spec.volumeName).toBe('fast');
    expect((await volume('plain')).body.status.phase).toBe('Available');
    await apply('db-writer', writer('db-writer', 'db', 'rows'));
    await succeeded('db-writer');
    expect(readFileSync(path.join(hostDir, 'fast', 'note.txt'), 'utf8')).toBe('rows\n');
    await deletePod('db-writer');
    await request('DELETE', '/api/v1/namespaces/default/persistentvolumeclaims/db');
    await until('Released', async () => (await volume('fast')).body.status?.phase === 'Released', 30_000);
    expect(existsSync(path.join(hostDir, 'fast', 'note.txt'))).toBe(true);
  }, 120_000);

  it('an NFS volume binds, and its pod says why it cannot mount it (this kernel has no NFS client)', async () => {
    await apply(
      'nfs',
      `apiVersion: v1
kind: PersistentVolume
metadata: {name: share}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteMany]
  storageClassName: ""
  mountOptions: [hard]
  nfs: {server: 127.0.0.1, path: /exports/share}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec:
  storageClassName: ""
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
---
${writer('nfs-user', 'shared', 'x')}`,
    );
    const bound = await until('shared Bound', async () => {
      const c = await claim('shared');
      return c.status?.phase === 'Bound' && c;
    });
    expect(bound.spec.volumeName).toBe('share');
    let seen: unknown;
    const waiting = await until(
      'the pod says it cannot mount the share',
      async () => {
        const p = (await request('GET', '/api/v1/namespaces/default/pods/nfs-user')).body;
        const events = (await request('GET', '/api/v1/namespaces/default/events')).body.items
          .filter((e: { involvedObject: { name: string } }) => e.involvedObject.name === 'nfs-user')
          .map((e: { reason: string; message: string }) => `${e.reason}: ${e.message}`);
        seen = { status: p.status, events };
        const w = p.status?.containerStatuses?.[0]?.state?.waiting;
        return w?.reason === 'FailedMount' && { pod: p, waiting: w };
      },
      60_000,
      () => seen,
    );
    expect(waiting.pod.status.phase).toBe('Pending');
    expect(waiting.waiting.message).toContain(
      'MountVolume.SetUp failed for volume "data" (nfs 127.0.0.1:/exports/share)',
    );
    const uid = waiting.pod.metadata.uid;
    if (runtime === 'docker') {
      // The exact volume Docker was asked for: its local driver, type nfs.
      const [inspected] = JSON.parse(
        execFileSync('docker', ['volume', 'inspect', `berth-${uid}-data`], { encoding: 'utf8' }),
      );
      expect({ driver: inspected.Driver, options: inspected.Options }).toEqual({
        driver: 'local',
        options: { type: 'nfs', o: 'addr=127.0.0.1,nfsvers=4,hard', device: ':/exports/share' },
      });
      expect(waiting.waiting.message).toContain('failed to mount local volume');
    } else {
      // The mount the process runtime ran, at the volume's directory in the pod's folder.
      expect(waiting.waiting.message).toContain(
        `mount -t nfs -o nfsvers=4,hard 127.0.0.1:/exports/share ${path.join(agent.dir, 'pods', uid, 'volumes', 'data')}`,
      );
    }
    await deletePod('nfs-user');
    if (runtime === 'docker')
      await until('its Docker volume removed with the pod', async () => {
        try {
          execFileSync('docker', ['volume', 'inspect', `berth-${uid}-data`], { stdio: 'ignore' });
          return false;
        } catch {
          return true;
        }
      });
  }, 120_000);

  it('the wordpress example (images replaced by busybox) syncs from Git: its claims bind and the app turns Healthy', async () => {
    // Kubernetes' own example, read from the corpus; only what runs changes: busybox sleeping
    // where mysql and wordpress were, and the Secret its kustomization would generate.
    const dir = `${CORPUS}/kubernetes-website/content/en/examples/application/wordpress`;
    const busybox = (file: string) =>
      parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))
        .map((d) => d.toJS())
        .map((o) => {
          for (const c of o.spec?.template?.spec?.containers ?? []) {
            c.image = image;
            c.command = ['/bin/busybox', 'sleep', '600'];
          }
          return stringify(o);
        })
        .join('---\n');
    const repo = new TestRepo('wordpress');
    try {
      repo.write({
        'wordpress/mysql-deployment.yaml': busybox('mysql-deployment.yaml'),
        'wordpress/wordpress-deployment.yaml': busybox('wordpress-deployment.yaml'),
        'wordpress/secret.yaml':
          'apiVersion: v1\nkind: Secret\nmetadata: {name: mysql-pass}\nstringData: {password: not-a-secret}\n',
      });
      const head = repo.commit('wordpress');
      const created = await server.cli(
        'app',
        'create',
        'wp',
        '--repo',
        repo.bare,
        '--path',
        'wordpress',
        '--auto-sync',
      );
      expect(created.code, created.err).toBe(0);
      const waited = await server.cli(
        'app',
        'wait',
        'wp',
        '--revision',
        head.slice(0, 8),
        '--health',
        '--timeout',
        '120s',
      );
      expect(waited.code, `${waited.out}${waited.err}`).toBe(0);
      for (const name of ['mysql-pv-claim', 'wp-pv-claim']) {
        const c = await claim(name);
        expect({ name, phase: c.status.phase, node: c.status.nodeName, size: c.status.capacity.storage }).toEqual({
          name,
          phase: 'Bound',
          node,
          size: '20Gi',
        });
        expect(existsSync(c.status.path)).toBe(true);
      }
      expect((await server.cli('get', 'app', 'wp')).out).toMatch(/^wp\s+Synced\s+Healthy\s/m);
      const deleted = await server.cli('app', 'delete', 'wp', '--cascade');
      expect(deleted.code, deleted.err).toBe(0);
      await until('its claims gone', async () => (await claim('wp-pv-claim')).code === 404, 60_000);
    } finally {
      repo.remove();
    }
  }, 180_000);

  it('a StatefulSet pod’s claim binds through the same path; its file is there after the pod is deleted and made again', async () => {
    await apply(
      'sts',
      `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: c
          image: ${image}
          command: [/bin/busybox, sh, -c, 'echo started >> ${data}/boots.txt; exec /bin/busybox sleep 600']
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`,
    );
    const bound = await until(
      'data-db-0 Bound',
      async () => {
        const c = await claim('data-db-0');
        return c.status?.phase === 'Bound' && c;
      },
      60_000,
    );
    const boots = path.join(bound.status.path, 'boots.txt');
    await until('the first pod wrote', async () => existsSync(boots), 30_000);
    const first = (await request('GET', '/api/v1/namespaces/default/pods/db-0')).body.metadata.uid;
    await request('DELETE', '/api/v1/namespaces/default/pods/db-0');
    // Its replacement, same name, same node, same volume: the file has both starts.
    await until(
      'the new db-0 wrote',
      async () =>
        (await request('GET', '/api/v1/namespaces/default/pods/db-0')).body.metadata?.uid !== first &&
        readFileSync(boots, 'utf8') === 'started\nstarted\n',
      60_000,
    );
    expect((await claim('data-db-0')).spec.volumeName).toBe(bound.spec.volumeName);
    // Deleted while db-0 uses it, the claim waits (Terminating) and its data stays.
    await request('DELETE', '/api/v1/namespaces/default/persistentvolumeclaims/data-db-0');
    await until('told why it waits', async () =>
      (await server.cli('describe', 'pvc', 'data-db-0')).out.includes('goes once pod db-0 no longer uses it'),
    );
    expect((await server.cli('get', 'pvc', 'data-db-0')).out).toMatch(/^data-db-0\s+Terminating\s/m);
    expect((await volume(bound.spec.volumeName)).body.status.phase).toBe('Bound');
    expect(existsSync(boots)).toBe(true);
    // The pod goes with its StatefulSet: then the claim, its volume and the volume's directory.
    await request('DELETE', '/apis/apps/v1/namespaces/default/statefulsets/db');
    await until('the claim gone', async () => (await claim('data-db-0')).code === 404, 60_000);
    await until('the volume gone', async () => (await volume(bound.spec.volumeName)).status === 404, 30_000);
    expect(existsSync(bound.status.path)).toBe(false);
  }, 120_000);
});
