/**
 * Warms a loader thread up before its first real load: a fresh thread first compiles the schema
 * validators (most of a second) and parses YAML slowly until V8 has optimised the parser, and a
 * server's first sync of a large repository would pay both on every thread. Compiling the
 * validators and loading a small, ordinary application fifty times as soon as a server has an
 * Application takes both out of the syncs that follow. The serving thread is not warmed: it
 * compiles what it needs on first use, and warming it would hold up requests.
 */
import { loadFile, type LoadOptions } from './load.js';
import { warmValidators } from './schema.js';

const SAMPLE = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
  annotations:
    description: "a sample used to warm the parser up"
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
          command: ["nginx", "-g", "daemon off;"]
          ports:
            - containerPort: 80
              name: http
          env:
            - name: LEVEL
              value: 'info'
            - name: TOKEN
              valueFrom:
                secretKeyRef: {name: web, key: token}
          livenessProbe:
            httpGet: {path: /, port: http}
            periodSeconds: 5
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits:
              cpu: "1"
              memory: 1Gi
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  nginx.conf: |
    server {
      listen 80;
    }
  mode: production
---
apiVersion: v1
kind: Secret
metadata:
  name: web
type: Opaque
stringData:
  token: not-a-secret
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
    - host: web.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: web, port: {number: 80}}
`;

const ROUNDS = 50;
const OPTIONS: LoadOptions = { strict: false, defaultNamespace: 'default' };
const loadSample = (): unknown => loadFile({ path: 'warm-up.yaml', bytes: Buffer.from(SAMPLE) }, OPTIONS);

/** On a loader thread, before it takes its first batch. */
export function warmUp(): void {
  warmValidators();
  for (let i = 0; i < ROUNDS; i++) loadSample();
}
