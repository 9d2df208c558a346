/**
 * `berth status`: the control plane at a glance — each server with its last heartbeat and which
 * one leads (from the berth-system leases, see server/server-leases.ts), and how many nodes are
 * Ready. Exit 0 when a server leads, 1 when none does (the controllers are not running), 2 error.
 */
import { age } from '../api/duration.js';
import { kindInfo } from '../api/kinds.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { renderStructured, type CommandIO, type OutputFormat } from './output.js';
import { formatTable } from './resources.js';

const LEASES = kindInfo('Lease')!;
const NODES = kindInfo('Node')!;
const CONTROLLER_LEASE = 'berth-controller-manager';

type LeaseObject = KubeObject & {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
};
type NodeObject = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

export async function statusCommand(client: BerthClient, output: OutputFormat, io: CommandIO): Promise<number> {
  const now = Date.now();
  const leases = (await client.list<LeaseObject>(LEASES, { namespace: 'berth-system' })).items;
  const leader = leases.find((l) => l.metadata.name === CONTROLLER_LEASE)?.spec?.holderIdentity;
  const servers = leases
    .filter((l) => l.metadata.name !== CONTROLLER_LEASE)
    .map((l) => {
      const renewed = Date.parse(l.spec?.renewTime ?? '');
      const fresh = now - renewed <= (l.spec?.leaseDurationSeconds ?? 10) * 1000;
      return {
        name: l.spec?.holderIdentity ?? l.metadata.name,
        role: l.spec?.holderIdentity === leader ? 'leader' : fresh ? 'follower' : 'gone',
        lastHeartbeat: l.spec?.renewTime ?? '',
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const nodes = (await client.list<NodeObject>(NODES)).items;
  const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  const status = {
    leader: leader ?? null,
    servers,
    nodes: { ready: ready.length, notReady: nodes.length - ready.length },
  };
  if (output !== 'text') io.stdout(renderStructured(output, status));
  else {
    io.stdout(
      formatTable(
        ['SERVER', 'ROLE', 'LAST HEARTBEAT'],
        servers.map((s) => [s.name, s.role, s.lastHeartbeat ? `${age(s.lastHeartbeat, now)} ago` : '']),
      ),
    );
    if (!leader) io.stdout('no leader: the controllers, the scheduler and the syncs are not running\n');
    io.stdout(`nodes: ${status.nodes.ready} Ready, ${status.nodes.notReady} NotReady\n`);
  }
  return leader ? 0 : 1;
}
