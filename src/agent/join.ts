/**
 * Joining a cluster with nothing but its URL and a join token (`B10<ca-sha256>::<id>.<secret>`):
 * the server's CA is read from the TLS handshake and trusted only if its SHA-256 matches the pin,
 * as kubeadm's discovery token CA hash works.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate, type DetailedPeerCertificate } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, isBerthError } from '../api/errors.js';
import { parseToken } from '../auth/tokens.js';

export interface JoinCredentials {
  /** `<id>.<secret>`, without the pin. */
  token: string;
  caSha256?: string;
}

export function splitJoinToken(presented: string): JoinCredentials {
  const parsed = parseToken(presented.trim());
  if (!parsed)
    throw new BerthError(
      'Usage',
      'malformed token: expected <id>.<secret> or a join token B10<ca-sha256>::<id>.<secret>',
    );
  return { token: `${parsed.id}.${parsed.secret}`, ...(parsed.caSha256 ? { caSha256: parsed.caSha256 } : {}) };
}

/** The PEM of the certificate in the server's chain whose DER hashes to `pin`. */
export function fetchPinnedCa(serverUrl: string, pin: string, timeoutMs = 10_000): Promise<string> {
  const url = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: url.hostname,
        port: Number(url.port || 443),
        servername: url.hostname.match(/^[0-9.]+$/) ? undefined : url.hostname,
        rejectUnauthorized: false,
      },
      () => {
        let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
        const seen = new Set<PeerCertificate>();
        while (cert && !seen.has(cert)) {
          seen.add(cert);
          if (createHash('sha256').update(cert.raw).digest('hex') === pin) {
            socket.end();
            return resolve(new X509Certificate(cert.raw).toString());
          }
          cert = cert.issuerCertificate;
        }
        socket.end();
        reject(
          new BerthError(
            'Unauthorized',
            `the server at ${serverUrl} did not present a CA matching the join token's pin: refusing to trust it`,
          ),
        );
      },
    );
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new BerthError('Unavailable', `timed out connecting to ${serverUrl}`)),
    );
    socket.on('error', (e) =>
      reject(e instanceof BerthError ? e : new BerthError('Unavailable', `cannot reach ${serverUrl}: ${e.message}`)),
    );
  });
}

/** How many times a join is tried before the agent gives up, and the first wait between tries. */
export const JOIN_ATTEMPTS = 5;
const FIRST_RETRY_MS = 1000;

/**
 * Runs one step of joining (fetching the pinned CA, registering the Node) a bounded number of
 * times, waiting 1, 2, 4, … s between tries: a server still starting, or a token still being
 * written, gets its chance; a wrong token or pin ends the agent with the reason (exit 2), instead
 * of an agent that neither runs nor exits.
 */
export async function withJoinRetries<T>(
  step: string,
  run: () => Promise<T>,
  options: { attempts?: number; onRetry?: (e: unknown, attempt: number) => void } = {},
): Promise<T> {
  const attempts = options.attempts ?? JOIN_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (isBerthError(e, 'Usage')) throw e;
      if (!(attempt < attempts))
        throw new BerthError(
          'Unavailable',
          `could not join the cluster: ${step} failed ${attempt} time${attempt === 1 ? '' : 's'}: ${(e as Error).message}`,
          { cause: e },
        );
      options.onRetry?.(e, attempt);
      await sleep(FIRST_RETRY_MS * 2 ** (attempt - 1));
    }
  }
}
