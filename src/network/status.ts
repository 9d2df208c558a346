/**
 * `status.loadBalancer.ingress` of every Ingress a router serves: the addresses it listens on
 * (as ingress-nginx publishes its Service's). Written only when it differs.
 */
import { isBerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { servesClass } from './routes.js';
import type { ClusterView } from './view.js';

const INGRESSES = kindInfo('Ingress')!;

export function publishIngressStatus(
  client: BerthClient,
  view: ClusterView,
  addresses: string[],
  log?: { warn(o: object, m: string): void },
): void {
  const loadBalancer = { ingress: [...new Set(addresses)].sort().map((ip) => ({ ip })) };
  const want = JSON.stringify(loadBalancer);
  let running = false;
  let again = false;
  const publish = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        for (const ing of [...view.ingresses.values()]) {
          if (!servesClass(ing as never)) continue;
          const status = (ing as { status?: { loadBalancer?: unknown } }).status;
          if (JSON.stringify(status?.loadBalancer ?? {}) === want) continue;
          await client
            .update(INGRESSES, { ...(ing as KubeObject), status: { ...(status ?? {}), loadBalancer } }, 'status')
            .catch((e) => {
              // A newer version is on its way through the watch, and with it another try.
              if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'NotFound'))
                log?.warn({ err: e, ingress: ing.metadata.name }, 'writing Ingress status failed');
            });
        }
      } while (again);
    } finally {
      running = false;
    }
  };
  view.onChange(() => void publish());
}
