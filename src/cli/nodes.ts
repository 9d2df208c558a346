/**
 * `berth cordon|uncordon|drain|taint|label NODE`, as kubectl's: the same messages and refusals.
 * Drain cordons the node, then evicts its pods through the eviction subresource, honouring their
 * PodDisruptionBudgets (their controllers replace them elsewhere); DaemonSet pods stay with
 * --ignore-daemonsets, pods no controller owns need --force.
 */
import { BerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import type { Taint } from '../api/types.gen.js';
import type { NodeObject as Node, PodObject as Pod } from '../api/objects.js';
import { resourcePath, type BerthClient, type KubeObject } from '../client/index.js';
import type { CommandIO } from './output.js';

const NODES = kindInfo('Node')!;
const PODS = kindInfo('Pod')!;
// The generated shapes, as the client returns them.
type NodeObject = KubeObject & Node;
type PodObject = KubeObject & Pod;

export async function cordonCommand(
  client: BerthClient,
  node: string,
  cordon: boolean,
  io: CommandIO,
): Promise<number> {
  const current = await client.get<NodeObject>(NODES, undefined, node);
  const verb = cordon ? 'cordoned' : 'uncordoned';
  if (Boolean(current.spec?.unschedulable) === cordon) {
    io.stdout(`node/${node} already ${verb}\n`);
    return 0;
  }
  await client.patch(NODES, undefined, node, { spec: { unschedulable: cordon ? true : null } });
  io.stdout(`node/${node} ${verb}\n`);
  return 0;
}

/** Exit: 0 drained, 1 pods that may not be evicted (listed), 2 error, 3 timed out. */
export async function drainCommand(
  client: BerthClient,
  node: string,
  o: { ignoreDaemonsets: boolean; force: boolean; timeoutMs: number },
  io: CommandIO,
): Promise<number> {
  await cordonCommand(client, node, true, io);
  const onNode = async () => (await client.list<PodObject>(PODS, { fieldSelector: `spec.nodeName=${node}` })).items;
  const pods = await onNode();
  const controllerOf = (p: PodObject) => p.metadata.ownerReferences?.find((r) => r.controller);
  const daemon = pods.filter((p) => controllerOf(p)?.kind === 'DaemonSet');
  const bare = pods.filter((p) => !controllerOf(p));
  const refusals: string[] = [];
  if (daemon.length && !o.ignoreDaemonsets)
    refusals.push(
      `cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${daemon.map(nsName).join(', ')}`,
    );
  if (bare.length && !o.force)
    refusals.push(
      `cannot delete Pods that declare no controller (use --force to override): ${bare.map(nsName).join(', ')}`,
    );
  if (refusals.length) {
    io.stderr(
      `error: unable to drain node "${node}" due to error: ${refusals.join(', ')}\nThere are pending nodes to be drained:\n ${node}\n`,
    );
    return 1;
  }
  if (daemon.length) io.stderr(`Warning: ignoring DaemonSet-managed Pods: ${daemon.map(nsName).join(', ')}\n`);
  if (bare.length) io.stderr(`Warning: deleting Pods that declare no controller: ${bare.map(nsName).join(', ')}\n`);
  const evict = pods.filter((p) => controllerOf(p)?.kind !== 'DaemonSet');
  const deadline = Date.now() + o.timeoutMs;
  // Every pod at once, each through the eviction subresource: a PodDisruptionBudget that allows
  // no disruption now answers 429, and that pod is tried again until the budget allows it.
  const refused = await Promise.all(evict.map((p) => evictWithRetries(client, p, deadline, io)));
  if (refused.some(Boolean)) {
    io.stderr(
      `error: timed out evicting ${evict
        .filter((_, i) => refused[i])
        .map(nsName)
        .join(', ')}: their disruption budgets allowed no disruption\n`,
    );
    return 3;
  }
  const names = new Set(evict.map(nsName));
  for (;;) {
    const left = (await onNode()).filter((p) => names.has(nsName(p)));
    if (!left.length) break;
    if (Date.now() > deadline) {
      io.stderr(`error: timed out waiting for ${left.map(nsName).join(', ')} to be evicted\n`);
      return 3;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const p of evict) io.stdout(`pod/${p.metadata.name} evicted\n`);
  io.stdout(`node/${node} drained\n`);
  return 0;
}

/** Evicts one pod, again every EVICTION_RETRY_MS while its budget refuses (429); true when the deadline passed first. */
async function evictWithRetries(client: BerthClient, p: PodObject, deadline: number, io: CommandIO): Promise<boolean> {
  const path = `${resourcePath(PODS, p.metadata.namespace, p.metadata.name)}/eviction`;
  for (;;) {
    try {
      io.stdout(`evicting pod ${nsName(p)}\n`);
      await client.request('POST', path, {
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
        },
      });
      return false;
    } catch (e) {
      if (e instanceof BerthError && e.code === 'NotFound') return false;
      if (!(e instanceof BerthError && e.code === 'TooManyRequests')) throw e;
      if (Date.now() + EVICTION_RETRY_MS > deadline) return true;
      io.stderr(
        `error when evicting pods/"${p.metadata.name}" -n "${p.metadata.namespace}" (will retry after ${EVICTION_RETRY_MS / 1000}s): ${e.message}\n`,
      );
      await new Promise((r) => setTimeout(r, EVICTION_RETRY_MS));
    }
  }
}

const EVICTION_RETRY_MS = 2000;

const nsName = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`;

/** `key=value:Effect`, `key:Effect` to add; `key:Effect-` or `key-` to remove. */
export async function taintCommand(
  client: BerthClient,
  node: string,
  specs: string[],
  o: { overwrite: boolean },
  io: CommandIO,
): Promise<number> {
  const current = await client.get<NodeObject>(NODES, undefined, node);
  let taints = [...(current.spec?.taints ?? [])];
  let removed = false;
  let added = false;
  for (const spec of specs) {
    if (spec.endsWith('-')) {
      const m = /^([^=:]+)(?::(NoSchedule|PreferNoSchedule|NoExecute))?-$/.exec(spec);
      if (!m) throw new BerthError('Usage', `invalid taint removal ${JSON.stringify(spec)}: use key- or key:Effect-`);
      const before = taints.length;
      taints = taints.filter((t) => !(t.key === m[1] && (!m[2] || t.effect === m[2])));
      if (taints.length === before)
        throw new BerthError('NotFound', `taint ${JSON.stringify(spec.slice(0, -1))} not found`);
      removed = true;
      continue;
    }
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(spec);
    if (!m)
      throw new BerthError(
        'Usage',
        `invalid taint ${JSON.stringify(spec)}: use key=value:Effect (NoSchedule, PreferNoSchedule or NoExecute)`,
      );
    const taint: Taint = { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3] as Taint['effect'] };
    const same = taints.findIndex((t) => t.key === taint.key && t.effect === taint.effect);
    if (same !== -1 && !o.overwrite)
      throw new BerthError(
        'Conflict',
        `node ${node} already has ${taint.key} taint(s) with same effect(s) and --overwrite is false`,
      );
    if (same !== -1) taints[same] = taint;
    else taints.push(taint);
    added = true;
  }
  await client.patch(NODES, undefined, node, { spec: { taints } });
  io.stdout(`node/${node} ${added && !removed ? 'tainted' : removed && !added ? 'untainted' : 'modified'}\n`);
  return 0;
}

/** `k=v` to set, `k-` to remove. */
export async function labelCommand(
  client: BerthClient,
  node: string,
  specs: string[],
  o: { overwrite: boolean },
  io: CommandIO,
): Promise<number> {
  const current = await client.get<NodeObject>(NODES, undefined, node);
  const labels: Record<string, string | null> = {};
  let removing = false;
  for (const spec of specs) {
    if (spec.endsWith('-') && !spec.includes('=')) {
      labels[spec.slice(0, -1)] = null;
      removing = true;
      continue;
    }
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new BerthError('Usage', `invalid label ${JSON.stringify(spec)}: use key=value or key-`);
    const [k, v] = [spec.slice(0, eq), spec.slice(eq + 1)];
    const existing = current.metadata.labels?.[k];
    if (existing !== undefined && existing !== v && !o.overwrite)
      throw new BerthError('Conflict', `'${k}' already has a value (${existing}), and --overwrite is false`);
    labels[k] = v;
  }
  await client.patch(NODES, undefined, node, { metadata: { labels } });
  io.stdout(`node/${node} ${removing && Object.values(labels).every((v) => v === null) ? 'unlabeled' : 'labeled'}\n`);
  return 0;
}
