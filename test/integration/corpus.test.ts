/**
 * The real public manifests in ../shared/corpus (read in place, never copied): every object of a
 * supported kind loads or fails with the specific error ../shared/corpus/INVENTORY.md describes,
 * and every object of an unsupported kind gets exactly one clear error. Counts are pinned.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFile, type Diagnostic, type FileResult } from '../../src/manifest/index.js';
import { CORPUS } from '../shared.js';

/** Every manifest file, hidden folders (.github) included: the corpus is a collection, not a repo. */
function manifestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) =>
      e.isDirectory()
        ? manifestFiles(path.join(dir, e.name))
        : /\.(ya?ml|json)$/.test(e.name)
          ? [path.join(dir, e.name)]
          : [],
    );
}

const results: FileResult[] = manifestFiles(CORPUS).map((f) =>
  loadFile({ path: path.relative(CORPUS, f), bytes: readFileSync(f) }),
);
const diagnostics = results.flatMap((r) => r.diagnostics);
const errors = diagnostics.filter((d) => d.severity === 'error');
const count = (ds: Diagnostic[]) =>
  ds.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d.reason]: (acc[d.reason] ?? 0) + 1 }), {});
const errorsIn = (file: string) => errors.filter((d) => d.file === file).map((d) => `${d.line} ${d.reason} ${d.path}`);

describe('the public corpus', () => {
  it('loads the expected number of objects from every file', () => {
    expect(results.length).toBe(269);
    const loaded = results.flatMap((r) => r.objects);
    expect(loaded.length).toBe(329);
    expect(count(loaded.map((o) => ({ reason: o.object.kind }) as Diagnostic))).toEqual({
      ConfigMap: 8,
      CronJob: 5,
      DaemonSet: 7,
      Deployment: 70,
      Endpoints: 1,
      Ingress: 18,
      Job: 5,
      Namespace: 11,
      PersistentVolumeClaim: 10,
      PersistentVolume: 2,
      StorageClass: 2,
      Pod: 19,
      ReplicaSet: 2,
      Secret: 6,
      Service: 89,
      StatefulSet: 10,
      ServiceAccount: 28,
      Role: 2,
      RoleBinding: 3,
      ClusterRole: 2,
      ClusterRoleBinding: 2,
      NetworkPolicy: 3,
      PodDisruptionBudget: 1,
      ReplicationController: 13,
      // autoscaling/v2, and v1 and v2beta1 converted to it.
      HorizontalPodAutoscaler: 10,
    });
  });

  it('lists per source how many objects load and how many are refused', () => {
    const perSource: Record<string, { loaded: number; refused: number }> = {};
    for (const r of results) {
      const source = (perSource[r.file.split('/')[0]!] ??= { loaded: 0, refused: 0 });
      source.loaded += r.objects.length;
      source.refused += r.diagnostics.filter((d) => d.severity === 'error').length;
    }
    // Refused: kinds Berth does not serve (Flux, cert-manager, Gateway API, Prometheus…) and
    // the edge cases pinned below.
    expect(perSource).toEqual({
      'example-voting-app': { loaded: 9, refused: 0 },
      'flux2-kustomize-helm-example': { loaded: 3, refused: 14 },
      'kubernetes-contrib': { loaded: 14, refused: 0 },
      'kubernetes-examples': { loaded: 100, refused: 10 },
      'kubernetes-website': { loaded: 69, refused: 6 },
      'microservices-demo': { loaded: 80, refused: 17 },
      'microservices-demo-legacy-41a2599': { loaded: 4, refused: 1 },
      podinfo: { loaded: 35, refused: 4 },
      'podinfo-legacy-0c84164': { loaded: 1, refused: 2 },
      'podinfo-legacy-d4882b4': { loaded: 12, refused: 2 },
      'source-controller': { loaded: 2, refused: 5 },
    });
  });

  it('pins the errors and warnings by reason', () => {
    expect(count(errors)).toEqual({
      UnsupportedKind: 49,
      Kustomization: 2,
      KustomizePatch: 1,
      // One a Pod without spec; one a local PersistentVolume without nodeAffinity (pinned below).
      MissingField: 2,
      SchemaViolation: 1,
      InvalidBase64: 2,
      LegacyFieldMismatch: 1,
      UnsupportedVolume: 2,
      // A policy/v1beta1 PodDisruptionBudget: Kubernetes stopped serving it in 1.25, as Berth does not.
      WrongAPIVersion: 1,
    });
    expect(count(diagnostics.filter((d) => d.severity === 'warning'))).toEqual({
      Deprecated: 21,
      UnknownField: 2,
      NotEnforced: 3,
      DuplicateKey: 1,
      // StorageClasses of provisioners Berth does not run (aws-ebs, minikube-hostpath).
      NoProvisioner: 2,
    });
  });

  it('fails the documented edge cases with their specific errors', () => {
    const site = 'kubernetes-website/content/en/examples/';
    expect(errorsIn(`${site}pods/pod-with-node-affinity.yaml`)).toEqual([
      '8 SchemaViolation spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution',
    ]);
    expect(errorsIn(`${site}service/networking/example-ingress.yaml`)).toEqual([
      '15 LegacyFieldMismatch spec.rules[0].http.paths[0].backend.service',
    ]);
    expect(errorsIn(`${site}secret/tls-auth-secret.yaml`)).toEqual([
      '10 InvalidBase64 data["tls.crt"]',
      '11 InvalidBase64 data["tls.key"]',
    ]);
    expect(errorsIn(`${site}pods/inject/pod-single-secret-env-variable.yaml`)).toEqual(['1 MissingField ']);
    // A duplicate key is a warning (the later value wins), as kubectl takes it.
    expect(errorsIn('kubernetes-examples/_archived/openshift-origin/etcd-controller.yaml')).toEqual([]);
    expect(
      diagnostics
        .filter((d) => d.file === 'kubernetes-examples/_archived/openshift-origin/etcd-controller.yaml')
        .map((d) => `${d.line} ${d.severity} ${d.reason}`),
    ).toEqual(['12 warning DuplicateKey']);
    expect(
      errorsIn('microservices-demo/kustomize/components/without-loadgenerator/delete-loadgenerator.patch.yaml'),
    ).toEqual(['5 KustomizePatch $patch']);
    // Node affinity given by the alpha annotation Kubernetes dropped: a local volume needs spec.nodeAffinity.
    expect(errorsIn('podinfo-legacy-d4882b4/deploy/local-storage/persistent-volume-0.yaml')).toEqual([
      '17 MissingField spec.nodeAffinity',
    ]);
    expect(errorsIn('kubernetes-examples/databases/mysql-cinder-pd/mysql.yaml')).toEqual([
      '31 UnsupportedVolume spec.volumes[0].cinder',
    ]);
  });

  it('reads YAML 1.1 octal modes as kubectl does', () => {
    const k9 = results.find((r) => r.file === 'podinfo-legacy-d4882b4/deploy/k9/k9-dep.yaml')!;
    const volumes = (k9.objects[0]!.object as any).spec.template.spec.volumes;
    expect(volumes.slice(0, 2).map((v: any) => v.secret?.defaultMode ?? v.configMap?.defaultMode)).toEqual([384, 484]);
  });

  it('gives each object of an unsupported kind exactly one error, naming the kind and the supported list', () => {
    const unsupported = errors.filter((d) => d.reason === 'UnsupportedKind');
    for (const d of unsupported) {
      expect(d.message).toMatch(/ is not supported; supported kinds: Namespace \(v1\)/);
      const sameDocument = errors.filter((e) => e.file === d.file && e.line === d.line);
      expect(sameDocument).toHaveLength(1);
    }
  });
});
