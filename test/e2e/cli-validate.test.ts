/** The real `berth` executable, as a user runs it after `npm install`. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared.js';

const BERTH = `${REPO_ROOT}src/cli/berth.js`;

function berth(...args: string[]) {
  const r = spawnSync(process.execPath, [BERTH, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('berth validate (the built command)', () => {
  let dir: string;
  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'pipe' });
    dir = mkdtempSync(path.join(tmpdir(), 'berth-cli-'));
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: three\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx, bogus: 1}]\n',
    );
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the bundled examples (exit 0)', () => {
    const r = berth('validate', 'examples');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+ objects in \d+ files, 0 errors, 0 warnings\n$/m);
  });

  it('prints file:line:col diagnostics and a summary, exit 1', () => {
    const r = berth('validate', dir);
    expect(r.code).toBe(1);
    const file = path.join(dir, 'bad.yaml');
    expect(r.stdout.split('\n')).toEqual([
      `${file}:6:3: error: spec.replicas: expected integer, got string "three"`,
      `${file}:11:46: warning: spec.template.spec.containers[0].bogus: unknown field "bogus"`,
      '0 objects in 1 file, 1 error, 1 warning',
      '',
    ]);
  });

  it('--strict turns unknown fields into errors', () => {
    const r = berth('validate', '--strict', '-o', 'json', dir);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors.map((e: { path: string }) => e.path)).toEqual([
      'spec.replicas',
      'spec.template.spec.containers[0].bogus',
    ]);
  });

  it('-o json and -o yaml carry objects, errors and warnings', () => {
    const r = berth('validate', 'examples/hello', '-o', 'json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.errors).toEqual([]);
    expect(report.objects).toContainEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'default',
      name: 'hello',
      file: 'examples/hello/deployment.yaml',
      line: 4,
    });
    const y = berth('validate', 'examples/hello', '-o', 'yaml');
    expect(y.stdout).toMatch(/^objects:\n/);
  });

  it('reports Pod Security violations for namespaces the tree declares, as the server would refuse them', () => {
    const tree = mkdtempSync(path.join(tmpdir(), 'berth-cli-psa-'));
    try {
      writeFileSync(
        path.join(tree, 'ns.yaml'),
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ops\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n',
      );
      const pod = (ns: string) =>
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: root\n  namespace: ${ns}\nspec:\n  containers: [{name: sh, image: busybox}]\n  volumes: [{name: root, hostPath: {path: /}}]\n`;
      writeFileSync(path.join(tree, 'apps.yaml'), pod('apps'));
      writeFileSync(path.join(tree, 'ops.yaml'), pod('ops'));
      writeFileSync(path.join(tree, 'unknown.yaml'), pod('elsewhere'));
      const r = berth('validate', tree);
      expect(r.code).toBe(1);
      expect(r.stdout.split('\n')).toEqual([
        `${path.join(tree, 'apps.yaml')}:1:1: error: spec: violates PodSecurity "baseline:latest": hostPath volumes (volume "root")`,
        '5 objects in 4 files, 1 error, 0 warnings',
        '',
      ]);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  it('exits 2 on usage and I/O errors', () => {
    expect(berth('validate', '--no-such-flag').code).toBe(2);
    expect(berth('validate', '-o', 'xml').code).toBe(2);
    const missing = berth('validate', path.join(dir, 'missing'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file or directory/);
  });
});
