import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadFile, type Diagnostic, type FileResult } from '../../src/manifest/index.js';
import { REPO_ROOT } from '../shared.js';

const FIXTURES = `${REPO_ROOT}test/fixtures/manifests/`;

function load(text: string, opts: { strict?: boolean; path?: string } = {}): FileResult {
  return loadFile(
    { path: opts.path ?? 'm.yaml', bytes: Buffer.from(text) },
    { strict: opts.strict ?? false, defaultNamespace: 'default' },
  );
}
function fixture(name: string, strict = false): FileResult {
  return loadFile({ path: name, bytes: readFileSync(FIXTURES + name) }, { strict, defaultNamespace: 'default' });
}
const brief = (d: Diagnostic): string => `${d.line}:${d.column} ${d.severity} ${d.reason} ${d.path}`;

describe('valid manifests load with Kubernetes defaults', () => {
  it('defaults a Deployment as the API server would', () => {
    const r = fixture('deployment-valid.yaml');
    expect(r.diagnostics).toEqual([]);
    const d = r.objects[0]!.object as any;
    expect(d.metadata.namespace).toBe('default');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
    });
    expect(d.spec.revisionHistoryLimit).toBe(10);
    expect(d.spec.progressDeadlineSeconds).toBe(600);
    const pod = d.spec.template.spec;
    expect(pod.restartPolicy).toBe('Always');
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.dnsPolicy).toBe('ClusterFirst');
    expect(pod.containers[0].imagePullPolicy).toBe('IfNotPresent');
    expect(pod.containers[0].ports[0].protocol).toBe('TCP');
    expect(pod.containers[0].readinessProbe).toMatchObject({
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
      httpGet: { path: '/', scheme: 'HTTP' },
    });
    // YAML 1.1 as kubectl reads it: 0644 is octal.
    expect(pod.volumes[0].configMap.defaultMode).toBe(420);
    expect(r.objects[0]!.source).toEqual({ file: 'deployment-valid.yaml', document: 0, line: 1, column: 1 });
  });

  it.each([
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.25', 'IfNotPresent'],
    ['registry:5000/team/app', 'Always'],
    ['registry:5000/team/app:v2', 'IfNotPresent'],
    ['nginx@sha256:abcd', 'IfNotPresent'],
  ])('image %s pulls %s by default', (image, policy) => {
    const r = load(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "${image}"}]\n`,
    );
    expect((r.objects[0]!.object as any).spec.containers[0].imagePullPolicy).toBe(policy);
  });

  it('defaults Services: ClusterIP, TCP, targetPort = port', () => {
    const r = load(
      'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n',
    );
    expect((r.objects[0]!.object as any).spec).toMatchObject({
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
    });
  });

  it('defaults Jobs and CronJobs', () => {
    const r = load(
      'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: "0 3 * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [{name: c, image: "busybox:1.36"}]\n',
    );
    expect(r.diagnostics).toEqual([]);
    const spec = (r.objects[0]!.object as any).spec;
    expect(spec).toMatchObject({
      concurrencyPolicy: 'Allow',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
    });
    expect(spec.jobTemplate.spec).toMatchObject({
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
    });
  });

  it('merges Secret stringData into base64 data, as the API server does', () => {
    const r = load('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {user: admin}\n');
    expect((r.objects[0]!.object as any).data).toEqual({ user: Buffer.from('admin').toString('base64') });
    expect((r.objects[0]!.object as any).type).toBe('Opaque');
  });

  it('reads multi-document files, anchors, merge keys and kind: List', () => {
    const r = load(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n',
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.objects.map((o) => [o.object.metadata.name, o.source.document, o.source.line])).toEqual([
      ['a', 0, 1],
      ['b', 2, 10],
      ['c', 2, 11],
    ]);
    const anchors = fixture('pod-anchors.yaml');
    expect(anchors.diagnostics).toEqual([]);
    const containers = (anchors.objects[0]!.object as any).spec.containers;
    expect(containers.map((c: any) => c.name)).toEqual(['one', 'two']);
    expect(containers[1].image).toBe('busybox:1.36');
  });

  it('reads JSON files', () => {
    const r = load('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}', { path: 'ns.json' });
    expect(r.diagnostics).toEqual([]);
    expect(r.objects[0]!.object.metadata).toEqual({ name: 'team-a' });
  });

  it('converts legacy Ingress (serviceName/servicePort) to networking.k8s.io/v1', () => {
    const r = fixture('ingress-legacy.yaml');
    expect(r.diagnostics.map(brief)).toEqual(['1:1 warning Deprecated apiVersion']);
    expect(r.diagnostics[0]!.message).toContain('converted to networking.k8s.io/v1');
    const ing = r.objects[0]!.object as any;
    expect(ing.apiVersion).toBe('networking.k8s.io/v1');
    expect(ing.spec.defaultBackend).toEqual({ service: { name: 'fallback', port: { number: 8080 } } });
    expect(ing.spec.rules[0].http.paths[0]).toEqual({
      path: '/',
      pathType: 'ImplementationSpecific',
      backend: { service: { name: 'tomcat', port: { name: 'http' } } },
    });
  });

  it('converts legacy workloads with their own defaults (extensions/v1beta1 DaemonSet: OnDelete, selector from labels)', () => {
    const r = fixture('daemonset-legacy.yaml');
    expect(r.diagnostics.map(brief)).toEqual(['1:1 warning Deprecated apiVersion']);
    const ds = r.objects[0]!.object as any;
    expect(ds.apiVersion).toBe('apps/v1');
    expect(ds.spec.selector).toEqual({ matchLabels: { app: 'agent' } });
    expect(ds.spec.updateStrategy).toEqual({ type: 'OnDelete' });
  });

  it('converts batch/v1beta1 CronJob and apps/v1beta1 Deployment', () => {
    const r = load(
      'apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: old}\nspec:\n  template:\n    metadata: {labels: {app: old}}\n    spec:\n      containers: [{name: c, image: "x:1"}]\n',
    );
    const d = r.objects[0]!.object as any;
    expect(d.apiVersion).toBe('apps/v1');
    expect(d.spec.revisionHistoryLimit).toBe(2);
    expect(d.spec.selector).toEqual({ matchLabels: { app: 'old' } });
  });
});

describe('bad input gives errors at the right line, never an exception', () => {
  it.each<[string, string[]]>([
    ['deployment-selector-mismatch.yaml', ['6:3 error SelectorMismatch spec.selector']],
    [
      'deployment-bad-fields.yaml',
      [
        '4:3 error InvalidName metadata.name',
        '6:5 error SchemaViolation metadata.labels.version',
        '8:3 error SchemaViolation spec.replicas',
        '9:3 warning UnknownField spec.colour',
        '21:15 error InvalidQuantity spec.template.spec.containers[0].resources.limits.memory',
      ],
    ],
    ['secret-not-base64.yaml', ['6:3 error InvalidBase64 data.password']],
    ['job-restart-always.yaml', ['7:5 error InvalidValue spec.template.spec.restartPolicy']],
  ])('%s', (name, expected) => {
    const r = fixture(name);
    expect(r.diagnostics.map(brief).sort()).toEqual([...expected].sort());
    expect(r.objects).toEqual([]);
  });

  it('explains YAML 1.1 booleans where a string is expected', () => {
    const d = fixture('deployment-bad-fields.yaml').diagnostics.find((x) => x.path === 'metadata.labels.version')!;
    expect(d.message).toMatch(/expected string, got boolean true .*unquoted yes.*"yes"/);
  });

  it("accepts the seeds' kinds of volume, strictly: configMap, emptyDir, nfs, secret, persistentVolumeClaim; local and nfs volumes", () => {
    const r = load(
      `apiVersion: v1
kind: Pod
metadata: {name: all-volumes}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: conf, mountPath: /conf}]}]
  volumes:
    - {name: conf, configMap: {name: settings}}
    - {name: scratch, emptyDir: {}}
    - {name: share, nfs: {server: nas.lan, path: /exports/www, readOnly: true}}
    - {name: creds, secret: {secretName: db}}
    - {name: data, persistentVolumeClaim: {claimName: data}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: fast-disk}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local-storage
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: nas}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteMany]
  mountOptions: [nfsvers=4.1]
  nfs: {server: nas.lan, path: /exports}
`,
      { strict: true },
    );
    expect(r.diagnostics.map(brief)).toEqual([]);
    expect(r.objects.map((o) => o.object.kind)).toEqual(['Pod', 'PersistentVolume', 'PersistentVolume']);
  });

  it('unknown fields are errors with --strict', () => {
    const r = fixture('deployment-bad-fields.yaml', true);
    expect(r.diagnostics.find((d) => d.reason === 'UnknownField')!.severity).toBe('error');
  });

  it.each<[string, string, string]>([
    ['syntax', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n', 'YAMLSyntax'],
    ['missing apiVersion', 'kind: Pod\nmetadata: {name: x}\n', 'MissingField'],
    ['missing name', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n', 'MissingField'],
    ['not a mapping', '- just\n- a list\n', 'NotAnObject'],
    [
      'unsupported kind',
      'apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: x}\n',
      'UnsupportedKind',
    ],
    ['wrong apiVersion', 'apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n', 'WrongAPIVersion'],
    ['not declarable', 'apiVersion: v1\nkind: Node\nmetadata: {name: x}\n', 'NotDeclarable'],
    [
      'kustomize patch',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n$patch: delete\n',
      'KustomizePatch',
    ],
    [
      'v1beta1 ingress with v1 backend',
      'apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: x}\nspec:\n  backend:\n    service: {name: a, port: {number: 80}}\n',
      'LegacyFieldMismatch',
    ],
    [
      'v1 ingress without pathType',
      'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec:\n  rules:\n    - http:\n        paths:\n          - path: /\n            backend: {service: {name: a, port: {number: 80}}}\n',
      'MissingField',
    ],
    [
      'bad label key',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {"bad key": v}\n',
      'InvalidLabel',
    ],
    [
      'bad quantity',
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\nspec:\n  resources: {requests: {storage: lots}}\n',
      'InvalidQuantity',
    ],
    [
      'service nodePort out of range',
      'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n',
      'InvalidValue',
    ],
    [
      'bad cron schedule',
      'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec:\n  schedule: "every day"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: "busybox:1.36"}]\n',
      'InvalidValue',
    ],
    [
      'kustomization kind',
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n',
      'Kustomization',
    ],
  ])('%s', (_, text, reason) => {
    const r = load(text);
    expect(r.objects).toEqual([]);
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.reason)).toEqual([reason]);
    for (const d of r.diagnostics) expect(d.line).toBeGreaterThan(0);
  });

  it('names the supported kinds once for an unsupported kind', () => {
    const [d] = load('apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: x}\n').diagnostics;
    expect(d!.message).toMatch(
      /^VolumeSnapshot \(snapshot\.storage\.k8s\.io\/v1\) is not supported; supported kinds: Namespace \(v1\), .*Application \(berth.dev\/v1\)$/,
    );
    expect(d!.line).toBe(2);
  });

  it('refuses Helm templates and kustomization files with one clear error', () => {
    expect(fixture('helm-template.yaml').diagnostics.map((d) => d.reason)).toEqual(['HelmTemplate']);
    expect(load('resources: [a.yaml]\n', { path: 'app/kustomization.yaml' }).diagnostics.map((d) => d.reason)).toEqual([
      'Kustomization',
    ]);
    // A {{ }} inside a string value is data, not a template.
    expect(
      load('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  tpl: |\n    project: {{PROJECT_ID}}\n')
        .diagnostics,
    ).toEqual([]);
  });

  it('refuses a billion-laughs document in well under a second', () => {
    const started = performance.now();
    const r = fixture('alias-bomb.yaml');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r.diagnostics.map((d) => d.reason)).toEqual(['AliasLimit']);
  });

  it('refuses files over 5 MiB without parsing them, and non-UTF-8 files', () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 'a');
    const started = performance.now();
    expect(loadFile({ path: 'big.yaml', bytes: big }).diagnostics.map((d) => d.reason)).toEqual(['FileTooLarge']);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(
      loadFile({ path: 'latin1.yaml', bytes: Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]) }).diagnostics.map(
        (d) => d.reason,
      ),
    ).toEqual(['NotUTF8']);
  });
});

describe('duplicate keys', () => {
  it('are a warning, the later value winning, as kubectl and the API server take them; an error under --strict', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: "1"\n  a: "2"\n';
    const r = load(text);
    expect(r.diagnostics.map(brief)).toEqual(['6:3 warning DuplicateKey ']);
    expect((r.objects[0]!.object as { data?: unknown }).data).toEqual({ a: '2' });
    const strict = load(text, { strict: true });
    expect({ objects: strict.objects, diagnostics: strict.diagnostics.map(brief) }).toEqual({
      objects: [],
      diagnostics: ['6:3 error DuplicateKey '],
    });
  });
});

describe('kinds stored but not enforced', () => {
  it('loads ServiceAccounts and RBAC kinds, and warns that a NetworkPolicy is not enforced', () => {
    const r = load(
      'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: app}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\nsubjects: [{kind: ServiceAccount, name: app}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n',
    );
    expect(r.objects.map((o) => o.object.kind)).toEqual(['ServiceAccount', 'RoleBinding', 'NetworkPolicy']);
    expect(r.diagnostics.map(brief)).toEqual(['12:1 warning NotEnforced kind']);
  });
});

describe('keys that could reach a prototype', () => {
  it.each([
    [
      '__proto__',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  __proto__: {polluted: "1"}\n',
      'data.__proto__',
    ],
    [
      'constructor',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {constructor: x}\n',
      'metadata.labels.constructor',
    ],
  ])('a manifest with a %s key is an error at its field', (_, text, path) => {
    const r = load(text);
    expect(r.objects).toEqual([]);
    expect(r.diagnostics.map((d) => `${d.severity} ${d.reason} ${d.path}`)).toEqual([`error UnsafeKey ${path}`]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
