/**
 * The node agent (Berth's kubelet): follows the pods bound to its node and makes the runtime match
 * them, level-triggered — the server's pods are the truth. What it starts carries the pod's uid,
 * container name and restart count, so an agent started again adopts what runs and restarts
 * nothing healthy; anything of its own without a pod is stopped and removed. It reports each
 * pod's status, and removes a terminating pod once its containers have stopped.
 */
import type { Logger } from 'pino';
import { isBerthError } from '../api/errors.js';
import { kindInfo, type KindInfo } from '../api/kinds.js';
import { serviceEnv, type ServiceObject } from '../api/services.js';
import type { Container, PersistentVolume } from '../api/types.gen.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { EventBroadcaster, EventRecorder, involvedObjectOf } from '../runtime/index.js';
import { WorkQueue } from '../runtime/workqueue.js';
import { apiEventSink } from './events.js';
import { runHook } from './hooks.js';
import { planPod } from './plan.js';
import { PortAllocator } from './ports.js';
import { Prober } from './probes.js';
import {
  ResolveError,
  containerSpec,
  podPorts,
  prepareVolumes,
  type DataObject,
  type ClaimLookup,
  type Lookup,
  type PodObject,
  type VolumeSource,
} from './resolve.js';
import { StartError, type ContainerRuntime, type RuntimeContainer } from './runtime.js';
import type { NodeDns } from './dns-config.js';
import type { SampledPod } from './usage.js';
import type { AgentMetrics } from './metrics.js';

const PODS = kindInfo('Pod')!;
const CONFIG_MAPS = kindInfo('ConfigMap')!;
const SECRETS = kindInfo('Secret')!;
const CLAIMS = kindInfo('PersistentVolumeClaim')!;
const VOLUMES = kindInfo('PersistentVolume')!;
const ENDPOINTS = kindInfo('Endpoints')!;
const SERVICES = kindInfo('Service')!;
/** How long a deleted pod waits to leave its Services' endpoints before it is stopped anyway. */
const ENDPOINTS_DRAIN_MS = 5000;
const OBSERVE_MS = 1000;
/** Pods are looked at again this often even when nothing changed (ConfigMap and Secret files refresh). */
const RESYNC_MS = 5000;

export interface AgentOptions {
  node: string;
  address: string;
  dataDir: string;
  runtime: ContainerRuntime;
  client: BerthClient;
  log?: Logger;
  workers?: number;
  metrics?: AgentMetrics;
}

export class Agent {
  private readonly pods = new Map<string, PodObject>();
  private readonly instances = new Map<string, RuntimeContainer[]>();
  private readonly queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 30_000 });
  private readonly ports = new PortAllocator();
  private readonly prober: Prober;
  /** Counts observations; a pod's sync remembers the count it finished at (see observe). */
  private observation = 0;
  private readonly syncedAt = new Map<string, number>();
  /** The last status written per pod, to write only changes. */
  private readonly written = new Map<string, string>();

  /** Images that failed to pull, per pod and container: when to try again (ImagePullBackOff). */
  private readonly pullBackoff = new Map<string, { failures: number; until: number }>();
  private readonly events: EventBroadcaster;
  /** The node's cluster DNS as pods get it (dns-config.ts); absent: pods use the node's resolver. */
  private nodeDns: NodeDns | undefined;

  constructor(private readonly o: AgentOptions) {
    this.prober = new Prober(
      o.runtime,
      o.address,
      (uid) => this.queue.add(uid),
      (probe) => o.metrics?.probeFailures.inc({ probe }),
    );
    this.events = new EventBroadcaster(
      new EventRecorder(apiEventSink(o.client), { component: 'kubelet', host: o.node }),
      Date.now,
      (err) => o.log?.debug({ err }, 'event not recorded'),
    );
  }

  /** The cluster DNS pods started from now on get (known once the node's network is up). */
  useDns(dns: NodeDns): void {
    this.nodeDns = dns;
  }

  private emit(pod: PodObject, type: 'Normal' | 'Warning', reason: string, message: string, container?: string): void {
    this.events.emit({
      involvedObject: involvedObjectOf(
        pod,
        { apiVersion: 'v1', kind: 'Pod' },
        container ? `spec.containers{${container}}` : undefined,
      ),
      type,
      reason,
      message,
    });
  }

  private podNamed(namespace: string, name: string): [string, PodObject] | undefined {
    for (const entry of this.pods)
      if (entry[1].metadata.name === name && (entry[1].metadata.namespace ?? 'default') === namespace) return entry;
    return undefined;
  }

  /** For the agent's endpoint: a pod's container instances by namespace and name. */
  instancesOf(namespace: string, name: string): RuntimeContainer[] | undefined {
    const found = this.podNamed(namespace, name);
    return found && (this.instances.get(found[0]) ?? []);
  }

  /** For the usage sampler: every pod on this node and its container instances. */
  sampledPods(): SampledPod[] {
    return [...this.pods].map(([uid, pod]) => ({
      uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      containers: this.instances.get(uid) ?? [],
    }));
  }

  defaultContainerOf(namespace: string, name: string): string | undefined {
    return this.podNamed(namespace, name)?.[1].spec?.containers[0]?.name;
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener(
      'abort',
      () => {
        this.queue.shutdown();
        this.prober.stopAll();
      },
      { once: true },
    );
    try {
      await this.run(signal);
    } finally {
      await this.events.flush();
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    // What runs already (an agent started again) is known before the first pod is looked at.
    await this.observe();
    for (const list of this.instances.values())
      for (const c of list) for (const p of c.ports) this.ports.reserve(p.hostPort);
    await Promise.all([
      this.follow(signal),
      this.observeLoop(signal),
      ...Array.from({ length: this.o.workers ?? 8 }, () => this.work()),
    ]);
  }

  private async follow(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const e of this.o.client.watch(PODS, { fieldSelector: `spec.nodeName=${this.o.node}`, signal })) {
          const uid = e.object.metadata.uid!;
          if (e.type === 'DELETED') this.pods.delete(uid);
          else this.pods.set(uid, e.object as unknown as PodObject);
          this.queue.add(uid);
        }
      } catch (e) {
        if (signal.aborted) break;
        this.o.log?.warn({ err: e }, 'pod watch failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async observeLoop(signal: AbortSignal): Promise<void> {
    let lastResync = Date.now();
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, OBSERVE_MS));
      if (signal.aborted) break;
      const changed = await this.observe().catch((e) => {
        this.o.log?.warn({ err: e }, 'listing containers failed');
        return [] as string[];
      });
      for (const uid of changed) this.queue.add(uid);
      if (Date.now() - lastResync >= RESYNC_MS) {
        lastResync = Date.now();
        for (const uid of this.pods.keys()) this.queue.add(uid);
      }
    }
  }

  /** Lists the runtime; returns the pods whose containers changed (including ones without a pod). */
  private async observe(): Promise<string[]> {
    const stamp = ++this.observation;
    const byPod = new Map<string, RuntimeContainer[]>();
    for (const c of await this.o.runtime.list()) byPod.set(c.podUid, [...(byPod.get(c.podUid) ?? []), c]);
    const changed: string[] = [];
    const key = (l: RuntimeContainer[] | undefined) =>
      JSON.stringify((l ?? []).map((c) => [c.id, c.state, c.exitCode]).sort());
    for (const uid of new Set([...byPod.keys(), ...this.instances.keys()])) {
      // A pod synced since this listing began knows better than the listing: keep its view.
      if ((this.syncedAt.get(uid) ?? 0) >= stamp) continue;
      if (key(byPod.get(uid)) !== key(this.instances.get(uid))) changed.push(uid);
      if (!this.pods.has(uid) && byPod.has(uid)) changed.push(uid);
      const list = byPod.get(uid);
      if (list) this.instances.set(uid, list);
      else this.instances.delete(uid);
    }
    return changed;
  }

  private async work(): Promise<void> {
    for (let uid = await this.queue.get(); uid !== undefined; uid = await this.queue.get()) {
      try {
        const again = await this.sync(uid);
        this.queue.forget(uid);
        if (again !== undefined) this.queue.addAfter(uid, again);
      } catch (e) {
        const delay = this.queue.addRateLimited(uid);
        this.o.log?.warn({ err: e, pod: this.pods.get(uid)?.metadata.name, retryInMs: delay }, 'pod sync failed');
      } finally {
        this.queue.done(uid);
      }
    }
  }

  private lookup(namespace: string): Lookup {
    return (kind, name) =>
      this.getIfExists<KubeObject & DataObject>(kind === 'ConfigMap' ? CONFIG_MAPS : SECRETS, namespace, name);
  }

  /** A claim, with its volume's NFS share when it is bound to an NFS volume. */
  private claims(namespace: string): ClaimLookup {
    return async (name) => {
      const claim = await this.getIfExists<
        KubeObject & { spec?: { storageClassName?: string; volumeName?: string }; status?: { phase?: string } }
      >(CLAIMS, namespace, name);
      if (claim?.status?.phase !== 'Bound' || !claim.spec?.volumeName) return claim;
      const volume = await this.getIfExists<KubeObject & Pick<PersistentVolume, 'spec'>>(
        VOLUMES,
        undefined,
        claim.spec.volumeName,
      );
      const nfs = volume?.spec?.nfs;
      if (!nfs) return claim;
      return {
        ...claim,
        nfs: {
          server: nfs.server,
          path: nfs.path,
          ...(volume.spec?.mountOptions?.length ? { mountOptions: volume.spec.mountOptions } : {}),
          ...(nfs.readOnly ? { readOnly: true } : {}),
        },
      };
    };
  }

  /** The object, or undefined when the server says there is none. */
  private async getIfExists<T extends KubeObject>(
    info: KindInfo,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.o.client.get<T>(info, namespace, name);
    } catch (e) {
      if (isBerthError(e, 'NotFound')) return undefined;
      throw e;
    }
  }

  /** Brings one pod's containers to what it asks; returns when to look again, if a timer is pending. */
  private async sync(uid: string): Promise<number | undefined> {
    const { runtime } = this.o;
    const pod = this.pods.get(uid);
    const mine = () => this.instances.get(uid) ?? [];
    if (!pod) {
      // No pod: nothing of it may run (deleted, or replaced while this node was away).
      for (const c of mine()) {
        await runtime.remove(c.id);
        for (const p of c.ports) this.ports.release(p.hostPort);
      }
      await runtime.releasePod(uid);
      this.prober.forget(mine().map((c) => c.id));
      this.instances.delete(uid);
      this.syncedAt.set(uid, this.observation);
      this.written.delete(uid);
      for (const k of this.pullBackoff.keys()) if (k.startsWith(`${uid}/`)) this.pullBackoff.delete(k);
      return undefined;
    }
    const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    let failure: string | { reason: string; message: string } | undefined;
    let volumes = new Map<string, VolumeSource>();
    try {
      if (!pod.metadata.deletionTimestamp)
        volumes = await prepareVolumes(
          pod,
          this.o.dataDir,
          this.lookup(pod.metadata.namespace ?? 'default'),
          this.claims(pod.metadata.namespace ?? 'default'),
        );
    } catch (e) {
      if (!(e instanceof ResolveError)) throw e;
      failure = e.message;
    }
    const plan = planPod(pod as never, mine(), this.prober.view, Date.now(), runtime.name, failure);
    for (const id of plan.remove) await runtime.remove(id);
    const grace = (pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    // A pod that may be serving leaves its endpoints before its containers get SIGTERM, so
    // that routers stop sending it requests first.
    if (pod.metadata.deletionTimestamp && plan.stop.length && pod.status?.hostPorts?.length)
      await this.leaveEndpoints(pod, Math.min(ENDPOINTS_DRAIN_MS, grace / 2));
    for (const id of plan.stop) {
      // preStop first, within the grace period; what is left of it is the stop's.
      const instance = mine().find((c) => c.id === id);
      const preStop = all.find((c) => c.name === instance?.name)?.lifecycle?.preStop;
      const t = Date.now();
      if (instance && preStop) {
        const failed = await runHook(preStop, instance, runtime, this.o.address, grace);
        if (failed)
          this.o.log?.warn({ pod: pod.metadata.name, container: instance.name, failed }, 'preStop hook failed');
      }
      if (instance) this.emit(pod, 'Normal', 'Killing', `Stopping container ${instance.name}`, instance.name);
      await runtime.stop(id, Math.max(0, grace - (Date.now() - t)));
    }
    this.prober.forget([...plan.stop, ...plan.remove]);
    // The pod's host ports: what its containers had (a restart keeps its endpoints), else new ones.
    const ports = plan.start.length
      ? await podPorts(
          pod,
          mine().flatMap((c) => c.ports.map((p) => ({ ...p, container: p.container ?? c.name }))),
          (preferred) => this.ports.allocate(preferred),
        )
      : [];
    const started: RuntimeContainer[] = [];
    let serviceVars: Record<string, string> | undefined;
    let retryAt: number | undefined;
    for (const s of plan.start) {
      const container = all.find((c) => c.name === s.name)!;
      const pullKey = `${uid}/${container.name}`;
      const backoff = this.pullBackoff.get(pullKey);
      if (backoff && backoff.until > Date.now()) {
        failure = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${container.image}"` };
        retryAt = Math.min(retryAt ?? Infinity, backoff.until);
        continue;
      }
      try {
        serviceVars ??= await this.serviceEnv(pod.metadata.namespace ?? 'default');
        const spec = await containerSpec(pod, container, s.restartCount, {
          lookup: this.lookup(pod.metadata.namespace ?? 'default'),
          node: this.o.node,
          address: this.o.address,
          volumes,
          podPorts: ports,
          serviceEnv: serviceVars,
          ...(this.nodeDns ? { nodeDns: this.nodeDns } : {}),
        });
        const refused = runtime.check(spec);
        if (refused) throw new ResolveError(refused);
        const instance = await runtime.start(spec, (reason, message) =>
          this.emit(pod, 'Normal', reason, message, container.name),
        );
        this.pullBackoff.delete(pullKey);
        this.o.metrics?.containerStarts.inc({ result: 'started' });
        started.push(instance);
        this.emit(pod, 'Normal', 'Started', `Started container ${container.name}`, container.name);
        const postStart = container.lifecycle?.postStart;
        const failed = postStart && (await runHook(postStart, instance, runtime, this.o.address, 30_000));
        if (failed) {
          // As the kubelet: a failed postStart kills the container; its restart policy decides the rest.
          this.o.log?.warn({ pod: pod.metadata.name, container: container.name, failed }, 'postStart hook failed');
          await runtime.stop(instance.id, 0);
          started[started.length - 1] = (await runtime.list()).find((c) => c.id === instance.id) ?? instance;
        }
      } catch (e) {
        this.o.metrics?.containerStarts.inc({
          result:
            e instanceof StartError ? e.reason : e instanceof ResolveError ? 'CreateContainerConfigError' : 'error',
        });
        if (e instanceof StartError) {
          failure = { reason: e.reason, message: e.message };
          if (e.reason === 'ErrImagePull') {
            // As the kubelet: 10 s, doubling to 5 min, between attempts.
            const failures = (backoff?.failures ?? 0) + 1;
            const until = Date.now() + Math.min(300_000, 10_000 * 2 ** (failures - 1));
            this.pullBackoff.set(pullKey, { failures, until });
            retryAt = Math.min(retryAt ?? Infinity, until);
          }
        } else if (e instanceof ResolveError) failure = e.message;
        else throw e;
        this.emit(pod, 'Warning', 'Failed', `Error: ${e.message}`, container.name);
      }
    }
    // The state after what was just done, for status and probes.
    // Only stops change what is known of existing instances (their exit); starts add what they return.
    const after = plan.stop.length
      ? (await runtime.list()).filter((c) => c.podUid === uid)
      : [...mine().filter((c) => !plan.remove.includes(c.id)), ...started];
    this.instances.set(uid, after);
    this.syncedAt.set(uid, this.observation);
    const final = planPod(pod as never, after, this.prober.view, Date.now(), runtime.name, failure);
    if (pod.metadata.deletionTimestamp && final.terminated) {
      for (const c of after) {
        await runtime.remove(c.id);
        for (const p of c.ports) this.ports.release(p.hostPort);
      }
      await runtime.releasePod(uid);
      this.instances.delete(uid);
      await this.o.client.delete(PODS, pod.metadata.namespace, pod.metadata.name).catch((e) => {
        if (!isBerthError(e, 'NotFound')) throw e;
      });
      return undefined;
    }
    this.prober.sync(
      uid,
      after
        .filter((c) => c.state === 'running')
        .map((instance) => ({ instance, container: all.find((c) => c.name === instance.name) as Container }))
        .filter((x) => x.container),
    );
    for (const cs of final.status.containerStatuses ?? []) {
      if (cs.state?.waiting?.reason === 'CrashLoopBackOff')
        this.emit(
          pod,
          'Warning',
          'BackOff',
          `Back-off restarting failed container ${cs.name} in pod ${pod.metadata.name}`,
          cs.name,
        );
    }
    await this.report(pod, {
      ...final.status,
      hostIP: this.o.address,
      podIP: this.o.address,
      hostIPs: [{ ip: this.o.address }],
      podIPs: [{ ip: this.o.address }],
    });
    const waits = [
      plan.requeueAfterMs,
      final.requeueAfterMs,
      retryAt !== undefined ? retryAt - Date.now() : undefined,
    ].filter((x): x is number => x !== undefined);
    return waits.length ? Math.max(1, Math.min(...waits)) : undefined;
  }

  /** The Service variables of a namespace, pointing at this node's service proxy. */
  private async serviceEnv(namespace: string): Promise<Record<string, string>> {
    const { items } = await this.o.client.list(SERVICES, { namespace });
    return serviceEnv(items as (KubeObject & ServiceObject)[], this.o.address);
  }

  private async leaveEndpoints(pod: PodObject, limitMs: number): Promise<void> {
    const until = Date.now() + limitMs;
    const listed = (e: KubeObject) =>
      ((e as { subsets?: { addresses?: { targetRef?: { uid?: string } }[] }[] }).subsets ?? []).some((s) =>
        (s.addresses ?? []).some((a) => a.targetRef?.uid === pod.metadata.uid),
      );
    while (Date.now() < until) {
      const { items } = await this.o.client.list(ENDPOINTS, { namespace: pod.metadata.namespace ?? 'default' });
      if (!items.some(listed)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.o.log?.warn({ pod: pod.metadata.name }, 'pod still listed in endpoints; stopping it anyway');
  }

  private async report(pod: PodObject, status: NonNullable<PodObject['status']>): Promise<void> {
    const uid = pod.metadata.uid!;
    const text = JSON.stringify(status);
    if (this.written.get(uid) === text || JSON.stringify(pod.status) === text) return;
    try {
      const updated = await this.o.client.update(PODS, { ...(pod as unknown as KubeObject), status }, 'status');
      // Newer than what the watch gave, and not deleted meanwhile (the watch may be ahead of this answer).
      const known = this.pods.get(uid);
      if (known && Number(known.metadata.resourceVersion ?? 0) < Number(updated.metadata.resourceVersion))
        this.pods.set(uid, updated as unknown as PodObject);
      this.written.set(uid, text);
    } catch (e) {
      // Changed meanwhile: the watch brings the new version, and the pod is synced again.
      if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'NotFound')) throw e;
      this.queue.add(uid);
    }
  }
}
