/**
 * Load and validate 10,000 objects spread over 2,000 files, through the built package (worker
 * threads as `berth validate` uses them), and the same load on one thread as the peer figure.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILES = 2000;
const OBJECTS_PER_FILE = 5;

/** One application's manifests, written in block style as real repositories are (see the corpus). */
export function app(i: number): string {
  const name = `app-${i}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app: ${name}
    tier: backend
spec:
  replicas: ${1 + (i % 3)}
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
        tier: backend
    spec:
      containers:
        - name: main
          image: registry.example.com/team/${name}:1.${i % 10}.0
          args:
            - --port=8080
            - --log-level=info
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: MODE
              value: production
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: ${name}
                  key: password
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 256Mi
---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app: ${name}
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  settings.yaml: |
    feature: ${i % 2 === 0 ? 'on' : 'off'}
    workers: ${i % 8}
---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}
stringData:
  password: s3cret-${i}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
spec:
  rules:
    - host: ${name}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: ${name}
                port:
                  name: http
`;
}

export async function run(): Promise<Record<string, unknown>> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const { loadPaths, LoaderPool, loaderThreads } = (await import(
    `${ROOT}.build/manifest/index.js`
  )) as typeof import('../../src/manifest/index.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-manifest-'));
  const pool = new LoaderPool(loaderThreads());
  try {
    for (let i = 0; i < FILES; i++) {
      const sub = path.join(dir, `team-${i % 20}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(path.join(sub, `app-${i}.yaml`), app(i));
    }
    const objects = FILES * OBJECTS_PER_FILE;
    const best = (xs: number[]) => Math.min(...xs);

    // Cold: the real `berth validate` in a fresh process, as a user or a PR check runs it.
    const cold: number[] = [];
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      const out = execFileSync(process.execPath, [`${ROOT}src/cli/berth.js`, 'validate', dir], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      cold.push((performance.now() - started) / 1000);
      if (!out.includes(`${objects} objects in ${FILES} files, 0 errors`))
        throw new Error(`unexpected validate output: ${out.slice(-200)}`);
      process.stderr.write(`manifest: berth validate (fresh process) ${cold[round]!.toFixed(2)} s\n`);
    }

    // Warm: the server's steady state, loading again on every commit through its kept pool.
    const measure = async (parallel: boolean) => {
      const started = performance.now();
      const r = await loadPaths([dir], { parallel, pool });
      const seconds = (performance.now() - started) / 1000;
      if (r.objects.length !== objects || r.errors.length)
        throw new Error(`expected ${objects} clean objects, got ${r.objects.length} and ${r.errors.length} errors`);
      return seconds;
    };
    await measure(true);
    await measure(false);
    const warm: number[] = [];
    const single: number[] = [];
    for (let round = 0; round < 3; round++) {
      warm.push(await measure(true));
      single.push(await measure(false));
      process.stderr.write(
        `manifest: warm pool ${warm[round]!.toFixed(2)} s, warm one thread ${single[round]!.toFixed(2)} s\n`,
      );
    }
    const perS = (s: number) => Math.round(objects / s);
    return {
      objects,
      files: FILES,
      cold_objects_per_s: perS(best(cold)),
      warm_objects_per_s: perS(best(warm)),
      warm_one_thread_objects_per_s: perS(best(single)),
      ratio_warm_pool_vs_one_thread: Number((best(single) / best(warm)).toFixed(2)),
      loader_threads: loaderThreads(),
      cores: availableParallelism(),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      target_objects_per_s: 6000,
    };
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
