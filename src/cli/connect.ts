/** Connection flags shared by every command that talks to the server. */
import type { Command } from 'commander';
import { BerthClient, resolveConnection, type ConnectionFlags } from '../client/index.js';

export function addConnectionOptions(program: Command): void {
  program
    .option('--server <url>', 'the API server (default: from the kubeconfig)')
    .option('--token <token>', 'bearer token (default: BERTH_TOKEN or the kubeconfig)')
    .option('--kubeconfig <file>', 'kubeconfig to read (default: KUBECONFIG, then ~/.berth/kubeconfig.yaml)')
    .option('--certificate-authority <file>', "the server's CA certificate (PEM)")
    .option('--insecure-skip-tls-verify', 'do not verify the server certificate (testing only)');
}

export function connect(cmd: Command): BerthClient {
  const o = cmd.optsWithGlobals() as ConnectionFlags;
  return new BerthClient(resolveConnection(o));
}

/** Runs `fn` with a client and closes it afterwards. */
export async function withClient<T>(cmd: Command, fn: (client: BerthClient) => Promise<T>): Promise<T> {
  const client = connect(cmd);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
