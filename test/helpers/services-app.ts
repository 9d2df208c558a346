/**
 * The scenario both cluster DNS suites run, on either runtime: `api` (one pod, pinned to the
 * first node) behind a ClusterIP Service, `front` (pinned to the second) to call it from, a
 * two-replica StatefulSet `db` behind a headless Service, and headless `peers` following
 * readiness; plus what reaches into pods: a shell in
 * a pod (`berth exec`), an HTTP GET made there with nc (busybox-static's wget crashes on this
 * Debian, with any URL), and an object read as JSON.
 */
export interface AppRuntime {
  image: string;
  /** The nodes' names: api runs on the first, front on the second. */
  nodes: [string, string];
  /** A container command (YAML flow sequence) serving `body` (shell-expanded) over HTTP at `port`. */
  serve(body: string, port: number): string;
  /** A container command that only waits. */
  idle: string;
}

export const pinned = (node: string) => `nodeSelector: {kubernetes.io/hostname: ${node}}`;

export function servicesApp(r: AppRuntime): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      ${pinned(r.nodes[0])}
      terminationGracePeriodSeconds: 1
      containers:
        - name: api
          image: ${r.image}
          imagePullPolicy: IfNotPresent
          command: ${r.serve('api', 8080)}
          ports: [{containerPort: 8080}]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: front}
spec:
  ${pinned(r.nodes[1])}
  terminationGracePeriodSeconds: 1
  containers:
    - name: front
      image: ${r.image}
      imagePullPolicy: IfNotPresent
      command: ${r.idle}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: web, port: 7000}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: ${r.image}
          imagePullPolicy: IfNotPresent
          command: ${r.serve('$HOSTNAME', 7000)}
          ports: [{containerPort: 7000}]
          readinessProbe: {tcpSocket: {port: 7000}, periodSeconds: 1}
`;
}

/**
 * A headless Service `peers` over two pods, one pinned to each node, Ready only while `readyFile`
 * exists in the pod (the tests create and remove it): how DNS follows readiness.
 */
export function headlessPeers(r: AppRuntime, readyFile: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: peers}
spec:
  clusterIP: None
  selector: {app: peer}
  ports: [{port: 7100}]
${r.nodes
  .map(
    (node, i) => `---
apiVersion: v1
kind: Pod
metadata: {name: peer-${i}, labels: {app: peer}}
spec:
  ${pinned(node)}
  terminationGracePeriodSeconds: 1
  containers:
    - name: peer
      image: ${r.image}
      imagePullPolicy: IfNotPresent
      command: ${r.idle}
      ports: [{containerPort: 7100}]
      readinessProbe: {exec: {command: [test, -f, ${readyFile}]}, periodSeconds: 1}
`,
  )
  .join('')}`;
}

type Cli = (...args: string[]) => Promise<{ code: number | null; out: string; err: string }>;

/** Both runtimes' pods have busybox at /bin/busybox (the process runtime: the node's busybox-static). */
export function podClient(cli: Cli) {
  const inPod = (pod: string, script: string) => cli('exec', pod, '--', '/bin/busybox', 'sh', '-c', script);
  return {
    inPod,
    /** GET / of host:port from inside `pod`; out is the body. */
    async httpGet(pod: string, host: string, port = 80) {
      const r = await inPod(pod, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 5 ${host} ${port}`);
      return { ...r, out: r.out.split('\r\n\r\n')[1] ?? `(no HTTP answer: ${JSON.stringify(r.out + r.err)})` };
    },
    get: async (kind: string, name: string): Promise<any> =>
      JSON.parse((await cli('get', kind, name, '-o', 'json')).out),
    /** Whether every named pod (and one whose name starts with `prefix-` for each prefix) is Ready. */
    async ready(names: string[], prefixes: string[] = []): Promise<boolean> {
      const pods = JSON.parse((await cli('get', 'pods', '-o', 'json')).out).items as any[];
      const isReady = (p: any) => p?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
      return (
        names.every((n) => isReady(pods.find((p) => p.metadata.name === n))) &&
        prefixes.every((x) => pods.some((p) => p.metadata.name.startsWith(`${x}-`) && isReady(p)))
      );
    },
  };
}
