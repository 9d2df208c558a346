/**
 * The server's data directory: the cluster CA, the serving certificate (re-issued when its names
 * change), the admin token (mode 0600) and a kubeconfig for the CLI and the real kubectl.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { keepPrivate, privateDir } from '../api/private-files.js';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { certificateNames, createCA, issueServingCert, type KeyPairPem } from './pki.js';

export function defaultDataDir(): string {
  return process.env.BERTH_DATA || path.join(homedir(), '.berth');
}

export interface Tls {
  ca: KeyPairPem;
  serving: KeyPairPem;
}

function writeSecret(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The data directory and its pki/, 0700, and the keys and tokens in them 0600: the paths it had to narrow. */
export function ensureDataDir(dir: string): string[] {
  const narrowed = [dir, path.join(dir, 'pki')].filter((d) => privateDir(d));
  for (const file of ['admin.token', 'kubeconfig.yaml', 'pki/ca.key', 'pki/server.key'])
    if (keepPrivate(path.join(dir, file))) narrowed.push(path.join(dir, file));
  return narrowed;
}

/** A data directory a server has started in before: it holds the admin token. */
export function isInitialised(dir: string): boolean {
  return existsSync(path.join(dir, 'admin.token'));
}

/** Loads or makes the CA and serving certificate; `own` is a --tls-cert/--tls-key pair. */
export function ensureTls(dir: string, sans: string[], own?: { cert: string; key: string }): Tls {
  const pki = path.join(dir, 'pki');
  const caCert = path.join(pki, 'ca.crt');
  const caKey = path.join(pki, 'ca.key');
  if (!existsSync(caCert) || !existsSync(caKey)) {
    const ca = createCA();
    writeFileSync(caCert, ca.cert);
    writeSecret(caKey, ca.key);
  }
  const ca = { cert: readFileSync(caCert, 'utf8'), key: readFileSync(caKey, 'utf8') };
  if (own) return { ca, serving: own };

  const names = ['127.0.0.1', 'localhost', hostname(), ...sans];
  const certFile = path.join(pki, 'server.crt');
  const keyFile = path.join(pki, 'server.key');
  const current = existsSync(certFile) && existsSync(keyFile) ? readFileSync(certFile, 'utf8') : undefined;
  if (!current || names.some((n) => !certificateNames(current).includes(n))) {
    const serving = issueServingCert(ca, names);
    writeFileSync(certFile, serving.cert);
    writeSecret(keyFile, serving.key);
  }
  return { ca, serving: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } };
}

export function readAdminToken(dir: string): string | undefined {
  const file = path.join(dir, 'admin.token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export function writeAdminToken(dir: string, token: string): void {
  writeSecret(path.join(dir, 'admin.token'), token + '\n');
}

export function kubeconfig(server: string, caPem: string, token: string, name = 'berth'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: `${name}-admin`, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

export function writeKubeconfig(dir: string, content: string): string {
  const file = path.join(dir, 'kubeconfig.yaml');
  writeSecret(file, content);
  return file;
}
