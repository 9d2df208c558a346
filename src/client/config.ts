/**
 * Where the CLI finds the server: --server/--token, then BERTH_SERVER/BERTH_TOKEN, then
 * --kubeconfig / KUBECONFIG, then $BERTH_DATA/kubeconfig.yaml or ~/.berth/kubeconfig.yaml.
 * The CA comes from --certificate-authority, BERTH_CA, or the kubeconfig.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { BerthError } from '../api/errors.js';

export interface ConnectionFlags {
  server?: string;
  token?: string;
  kubeconfig?: string;
  certificateAuthority?: string;
  insecureSkipTlsVerify?: boolean;
}

export interface Connection {
  server: string;
  token: string;
  /** PEM; absent: the system's CAs. */
  ca?: string;
  insecure?: boolean;
  /** Namespace from the kubeconfig context (default "default"). */
  namespace: string;
}

interface Kubeconfig {
  clusters?: {
    name: string;
    cluster: {
      server: string;
      'certificate-authority-data'?: string;
      'certificate-authority'?: string;
      'insecure-skip-tls-verify'?: boolean;
    };
  }[];
  users?: { name: string; user: { token?: string; tokenFile?: string } }[];
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  'current-context'?: string;
}

export function defaultKubeconfigPath(env = process.env): string {
  return path.join(env.BERTH_DATA || path.join(homedir(), '.berth'), 'kubeconfig.yaml');
}

export function readKubeconfig(file: string): Omit<Connection, 'token'> & { token?: string } {
  let config: Kubeconfig;
  try {
    config = parse(readFileSync(file, 'utf8')) as Kubeconfig;
  } catch (e) {
    throw new BerthError('Usage', `cannot read kubeconfig ${file}: ${(e as Error).message}`);
  }
  const contextName = config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context ?? config.contexts?.[0]?.context;
  const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster ?? config.clusters?.[0]?.cluster;
  const user = config.users?.find((u) => u.name === context?.user)?.user ?? config.users?.[0]?.user;
  if (!cluster?.server) throw new BerthError('Usage', `kubeconfig ${file} names no server`);
  const base = path.dirname(file);
  const ca = cluster['certificate-authority-data']
    ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8')
    : cluster['certificate-authority']
      ? readFileSync(path.resolve(base, cluster['certificate-authority']), 'utf8')
      : undefined;
  const token =
    user?.token ?? (user?.tokenFile ? readFileSync(path.resolve(base, user.tokenFile), 'utf8').trim() : undefined);
  return {
    server: cluster.server,
    namespace: context?.namespace ?? 'default',
    ...(ca ? { ca } : {}),
    ...(token ? { token } : {}),
    ...(cluster['insecure-skip-tls-verify'] ? { insecure: true } : {}),
  };
}

export function resolveConnection(flags: ConnectionFlags, env = process.env): Connection {
  const kubeconfigFile =
    flags.kubeconfig ??
    (env.KUBECONFIG ? env.KUBECONFIG.split(path.delimiter)[0] : undefined) ??
    defaultKubeconfigPath(env);
  const fromFile = existsSync(kubeconfigFile) ? readKubeconfig(kubeconfigFile) : undefined;
  // An empty variable is an unset one (as `BERTH_SERVER= berth get pods` means).
  const server = flags.server ?? (env.BERTH_SERVER || undefined) ?? fromFile?.server;
  const token = flags.token ?? (env.BERTH_TOKEN || undefined) ?? fromFile?.token;
  if (!server)
    throw new BerthError(
      'Usage',
      `no server: pass --server, set BERTH_SERVER, or run \`berth server\` to create ${defaultKubeconfigPath(env)}`,
    );
  if (!token)
    throw new BerthError('Usage', 'no token: pass --token, set BERTH_TOKEN, or use a kubeconfig with a token');
  const caFile = flags.certificateAuthority ?? (env.BERTH_CA || undefined);
  const ca = caFile ? readFileSync(caFile, 'utf8') : fromFile?.ca;
  return {
    server: server.replace(/\/+$/, ''),
    token,
    namespace: fromFile?.namespace ?? 'default',
    ...(ca ? { ca } : {}),
    ...(flags.insecureSkipTlsVerify || fromFile?.insecure ? { insecure: true } : {}),
  };
}
