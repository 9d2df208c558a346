/**
 * The Docker runtime (the only module that imports dockerode). A pod of several containers gets a
 * sandbox container that holds its network namespace and publishes its ports on the node's
 * address (as Kubernetes' pause container); its containers join it, so they reach each other on
 * localhost. A pod of one container publishes its own ports. Every
 * container is labelled with the agent's node, the pod's uid, the container's name and restart
 * count, so that an agent started again finds them. Volumes are bind mounts of the agent's
 * directories; limits become memory and CPU limits, the cpu request CPU shares; `Init` gives
 * PID 1 a signal-forwarding init (a shell as PID 1 ignores SIGTERM).
 */
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import type {
  ContainerRuntime,
  ContainerSpec,
  ExecResult,
  ExecSession,
  LogOptions,
  PortBinding,
  RuntimeContainer,
} from '../runtime.js';
import { StartError } from '../runtime.js';
import { dockerNfsVolume, mountFailure } from '../nfs.js';
import type { Usage } from '../usage.js';

const LABEL = {
  node: 'berth.dev/node',
  pod: 'berth.dev/pod-uid',
  podName: 'berth.dev/pod-name',
  namespace: 'berth.dev/namespace',
  container: 'berth.dev/container',
  restart: 'berth.dev/restart-count',
  ports: 'berth.dev/ports',
  sandbox: 'berth.dev/sandbox',
} as const;

export interface DockerRuntimeOptions {
  node: string;
  /** The image the sandbox runs (`sleep`), which the node must have. */
  sandboxImage: string;
  socketPath?: string;
}

/** The part of Docker's stats the sampler reads. */
interface DockerStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}

export class DockerRuntime implements ContainerRuntime {
  readonly name = 'docker' as const;
  private readonly docker: Docker;
  /** Inspections of exited containers do not change: kept. */
  private readonly finished = new Map<string, { exitCode: number; startedAt: number; finishedAt: number }>();
  private readonly started = new Map<string, number>();

  constructor(private readonly o: DockerRuntimeOptions) {
    this.docker = new Docker(o.socketPath ? { socketPath: o.socketPath } : {});
  }

  /** Whether a Docker daemon answers (for --runtime auto). */
  static async reachable(socketPath?: string): Promise<boolean> {
    try {
      await new Docker(socketPath ? { socketPath } : {}).ping();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The gateway address of Docker's default bridge (172.17.0.1): an address of this machine that
   * containers reach, where cluster DNS listens when the node's own address is a loopback one.
   */
  async bridgeGateway(): Promise<string | undefined> {
    try {
      const bridge = await this.docker.getNetwork('bridge').inspect();
      return (bridge.IPAM?.Config ?? [])
        .map((c: { Gateway?: string }) => c.Gateway)
        .find((g: string | undefined) => g && !g.includes(':'));
    } catch {
      return undefined;
    }
  }

  check(spec: ContainerSpec): string | undefined {
    if (!spec.image) return `container ${spec.name}: an image is required`;
    const nfsSubPath = spec.mounts.find((m) => m.nfs?.subPath);
    if (nfsSubPath)
      return `container ${spec.name}: the docker runtime mounts an NFS volume whole (volume ${nfsSubPath.volume} with subPath ${nfsSubPath.nfs!.subPath})`;
    return undefined;
  }

  /** The Docker volumes (local driver, type nfs) the container's NFS shares mount through, made as needed. */
  private async nfsMounts(spec: ContainerSpec): Promise<Docker.MountSettings[]> {
    const out: Docker.MountSettings[] = [];
    for (const m of spec.mounts) {
      if (!m.nfs) continue;
      const name = `berth-${spec.podUid}-${m.volume}`;
      const wanted = dockerNfsVolume(name, m.nfs, m.readOnly, {
        [LABEL.node]: this.o.node,
        [LABEL.pod]: spec.podUid,
        [LABEL.namespace]: spec.namespace,
      });
      const existing = await this.docker
        .getVolume(name)
        .inspect()
        .catch(() => undefined);
      // Options changed (the volume's spec did): made again.
      if (existing && JSON.stringify(existing.Options ?? {}) !== JSON.stringify(wanted.DriverOpts))
        await this.docker.getVolume(name).remove();
      if (!existing || JSON.stringify(existing.Options ?? {}) !== JSON.stringify(wanted.DriverOpts))
        await this.docker.createVolume(wanted);
      out.push({ Type: 'volume', Source: name, Target: m.mountPath, ReadOnly: m.readOnly });
    }
    return out;
  }

  private async ensureImage(
    image: string,
    policy: ContainerSpec['imagePullPolicy'],
    progress?: (reason: 'Pulling' | 'Pulled', message: string) => void,
  ): Promise<void> {
    const present = await this.docker
      .getImage(image)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    const pull = policy === 'Always' || (!present && policy !== 'Never');
    if (!pull) {
      if (!present)
        throw new StartError(
          'ErrImageNeverPull',
          `container image "${image}" is not present with pull policy of Never`,
        );
      return;
    }
    const t = Date.now();
    progress?.('Pulling', `Pulling image "${image}"`);
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
      );
      progress?.('Pulled', `Successfully pulled image "${image}" in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    } catch (e) {
      // Always with the image present: use what is there when the registry cannot be reached.
      if (present) return;
      throw new StartError('ErrImagePull', `failed to pull image "${image}": ${(e as Error).message}`);
    }
  }

  /** What publishes the pod's ports on the node's address. */
  private publishing(
    ports: PortBinding[],
    address: string,
  ): { ExposedPorts: Record<string, object>; PortBindings: Record<string, { HostIp: string; HostPort: string }[]> } {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of ports) {
      const key = `${p.containerPort}/${p.protocol.toLowerCase()}`;
      exposed[key] = {};
      bindings[key] = [{ HostIp: address, HostPort: String(p.hostPort) }];
    }
    return { ExposedPorts: exposed, PortBindings: bindings };
  }

  private async sandbox(spec: ContainerSpec): Promise<Docker.Container> {
    const existing = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.pod}=${spec.podUid}`, `${LABEL.sandbox}=true`] },
    });
    const found = existing[0];
    if (found) {
      const c = this.docker.getContainer(found.Id);
      if (found.State !== 'running') await c.start().catch(() => {});
      return c;
    }
    await this.ensureImage(this.o.sandboxImage, 'IfNotPresent');
    const { ExposedPorts, PortBindings } = this.publishing(spec.podPorts, spec.address);
    const c = await this.docker.createContainer({
      name: `berth-sandbox-${spec.namespace}-${spec.podName}-${spec.podUid.slice(0, 8)}`,
      Image: this.o.sandboxImage,
      Cmd: ['sleep', '2147483647'],
      Hostname: spec.podName,
      ExposedPorts,
      Labels: {
        [LABEL.node]: this.o.node,
        [LABEL.pod]: spec.podUid,
        [LABEL.podName]: spec.podName,
        [LABEL.namespace]: spec.namespace,
        [LABEL.sandbox]: 'true',
      },
      HostConfig: { PortBindings, Init: true, ...resolverConfig(spec) },
    });
    await c.start();
    return c;
  }

  async start(
    spec: ContainerSpec,
    progress?: (reason: 'Pulling' | 'Pulled', message: string) => void,
  ): Promise<RuntimeContainer> {
    await this.ensureImage(spec.image, spec.imagePullPolicy, progress);
    // A pod of one container needs no sandbox: it publishes its own ports (half the work for Docker).
    const sandbox = spec.sharedNetwork && !spec.hostNetwork ? await this.sandbox(spec) : undefined;
    const own = sandbox || spec.hostNetwork ? undefined : this.publishing(spec.ports, spec.address);
    const binds = spec.mounts.filter((m) => !m.nfs).map((m) => `${m.source}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
    const volumeMounts = await this.nfsMounts(spec);
    const name = `berth-${spec.namespace}-${spec.podName}-${spec.name}-${spec.restartCount}-${spec.podUid.slice(0, 8)}`;
    // This instance exists already (a start that failed half-way, or one not yet seen): running, it
    // is the one; otherwise it goes and is made again.
    const existing = await this.docker
      .getContainer(name)
      .inspect()
      .catch(() => undefined);
    if (existing?.State.Running) {
      const startedAt = Date.parse(existing.State.StartedAt);
      this.started.set(existing.Id, startedAt);
      return {
        id: existing.Id,
        podUid: spec.podUid,
        name: spec.name,
        restartCount: spec.restartCount,
        state: 'running',
        startedAt,
        ports: spec.ports,
        image: spec.image,
      };
    }
    if (existing) await this.remove(existing.Id);
    const c = await this.docker.createContainer({
      name,
      Image: spec.image,
      ...(own ? { ExposedPorts: own.ExposedPorts, Hostname: spec.podName } : {}),
      ...(spec.command.length ? { Entrypoint: spec.command } : {}),
      ...(spec.args.length ? { Cmd: spec.args } : {}),
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
      ...(spec.runAsUser !== undefined
        ? { User: `${spec.runAsUser}${spec.runAsGroup !== undefined ? `:${spec.runAsGroup}` : ''}` }
        : {}),
      Labels: {
        [LABEL.node]: this.o.node,
        [LABEL.pod]: spec.podUid,
        [LABEL.podName]: spec.podName,
        [LABEL.namespace]: spec.namespace,
        [LABEL.container]: spec.name,
        [LABEL.restart]: String(spec.restartCount),
        [LABEL.ports]: JSON.stringify(spec.ports),
      },
      HostConfig: {
        ...(spec.hostNetwork
          ? { NetworkMode: 'host' }
          : sandbox
            ? { NetworkMode: `container:${sandbox.id}` }
            : { PortBindings: own!.PortBindings, ...resolverConfig(spec) }),
        Binds: binds,
        ...(volumeMounts.length ? { Mounts: volumeMounts } : {}),
        Init: true,
        ...(spec.readOnlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
        ...(spec.privileged ? { Privileged: true } : {}),
        ...(spec.limits?.memoryBytes ? { Memory: spec.limits.memoryBytes } : {}),
        ...(spec.limits?.cpuMillis ? { NanoCpus: spec.limits.cpuMillis * 1_000_000 } : {}),
        // As the kubelet: 1024 shares per cpu requested, at least 2.
        ...(spec.cpuRequestMillis ? { CpuShares: Math.max(2, Math.floor((spec.cpuRequestMillis * 1024) / 1000)) } : {}),
      },
    });
    await c.start().catch(async (e: Error) => {
      // Docker mounts a volume as it starts the container: a share it cannot reach fails here.
      // The volume is named in Docker's message; a mount error that names none is the pod's only share's.
      const shares = spec.mounts.filter((m) => m.nfs);
      const share =
        shares.find((m) => e.message.includes(`berth-${spec.podUid}-${m.volume}`)) ??
        (shares.length === 1 && /mount/i.test(e.message) ? shares[0] : undefined);
      if (!share?.nfs) throw e;
      // The container never ran: gone, so that it is not read back as one that exited (128) and
      // the pod waits with FailedMount, retried, as the kubelet's does.
      await c.remove({ force: true }).catch(() => undefined);
      throw mountFailure(share.volume, share.nfs, e.message);
    });
    // Docker's own start time, which a restarted agent reads back too.
    const startedAt = Date.parse((await c.inspect()).State.StartedAt);
    this.started.set(c.id, startedAt);
    return {
      id: c.id,
      podUid: spec.podUid,
      name: spec.name,
      restartCount: spec.restartCount,
      state: 'running',
      startedAt,
      ports: spec.ports,
      image: spec.image,
    };
  }

  async list(): Promise<RuntimeContainer[]> {
    const all = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.node}=${this.o.node}`] } });
    const out: RuntimeContainer[] = [];
    for (const info of all) {
      const labels = info.Labels ?? {};
      if (labels[LABEL.sandbox] === 'true') continue;
      const base = {
        id: info.Id,
        podUid: labels[LABEL.pod] ?? '',
        name: labels[LABEL.container] ?? '',
        restartCount: Number(labels[LABEL.restart] ?? 0),
        ports: JSON.parse(labels[LABEL.ports] ?? '[]') as PortBinding[],
        image: info.Image,
      };
      // Removed between the listing and a look at it: not there.
      const inspect = () =>
        this.docker
          .getContainer(info.Id)
          .inspect()
          .catch((e: { statusCode?: number }) => {
            if (e.statusCode === 404) return undefined;
            throw e;
          });
      if (info.State === 'running') {
        let startedAt = this.started.get(info.Id);
        if (startedAt === undefined) {
          const i = await inspect();
          if (!i) continue;
          startedAt = Date.parse(i.State.StartedAt);
          this.started.set(info.Id, startedAt);
        }
        out.push({ ...base, state: 'running', startedAt });
        continue;
      }
      let done = this.finished.get(info.Id);
      if (!done) {
        const i = await inspect();
        if (!i) continue;
        const s = i.State;
        done = {
          exitCode: s.ExitCode,
          startedAt: Date.parse(s.StartedAt) || Date.parse(s.FinishedAt),
          finishedAt: Date.parse(s.FinishedAt),
        };
        if (info.State === 'exited' || info.State === 'dead') this.finished.set(info.Id, done);
      }
      out.push({
        ...base,
        state: 'exited',
        exitCode: done.exitCode,
        startedAt: done.startedAt,
        finishedAt: done.finishedAt,
      });
    }
    return out;
  }

  async stop(id: string, graceMs: number): Promise<void> {
    await this.docker
      .getContainer(id)
      .stop({ t: Math.ceil(graceMs / 1000) })
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 304 && e.statusCode !== 404) throw e;
      });
  }

  async remove(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true })
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
    this.finished.delete(id);
    this.started.delete(id);
  }

  /**
   * Docker's stats, one reading each (one-shot: no second sample waited for; the sampler takes the
   * rate between its own readings): cumulative CPU time, and memory less the inactive file cache
   * (cgroup v2; v1's total_inactive_file), as the kubelet's working set.
   */
  async usage(ids: string[]): Promise<Map<string, Usage>> {
    const out = new Map<string, Usage>();
    await Promise.all(
      ids.map(async (id) => {
        const oneShot = { stream: false, 'one-shot': true } as { stream: false };
        const stats = (await this.docker
          .getContainer(id)
          .stats(oneShot)
          .catch(() => undefined)) as unknown as DockerStats | undefined;
        const cpu = stats?.cpu_stats?.cpu_usage?.total_usage;
        // A container that is not running answers an empty reading, read at the zero time.
        if (cpu === undefined || !stats!.read || stats!.read.startsWith('0001-')) return;
        const m = stats!.memory_stats ?? {};
        const inactive = m.stats?.inactive_file ?? m.stats?.total_inactive_file ?? 0;
        out.set(id, { cpuNanos: cpu, memoryBytes: Math.max(0, (m.usage ?? 0) - inactive) });
      }),
    );
    return out;
  }

  async releasePod(podUid: string): Promise<void> {
    for (const c of await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.pod}=${podUid}`] } }))
      await this.remove(c.Id);
    const { Volumes } = await this.docker.listVolumes({ filters: { label: [`${LABEL.pod}=${podUid}`] } });
    for (const v of Volumes ?? [])
      await this.docker
        .getVolume(v.Name)
        .remove()
        .catch(() => undefined);
  }

  async *logs(id: string, options: LogOptions = {}): AsyncIterable<string> {
    const container = this.docker.getContainer(id);
    const common = {
      stdout: true,
      stderr: true,
      timestamps: options.timestamps ?? false,
      ...(options.tailLines !== undefined ? { tail: options.tailLines } : {}),
      ...(options.sinceMs !== undefined ? { since: Math.floor(options.sinceMs / 1000) } : {}),
    };
    const out = new PassThrough();
    if (options.follow) {
      const stream = await container.logs({ ...common, follow: true });
      this.docker.modem.demuxStream(stream, out, out);
      stream.on('end', () => out.end());
      options.signal?.addEventListener(
        'abort',
        () => {
          (stream as unknown as { destroy(): void }).destroy();
          out.end();
        },
        { once: true },
      );
    } else {
      const buffer = await container.logs({ ...common, follow: false });
      const demux = new PassThrough();
      this.docker.modem.demuxStream(demux, out, out);
      demux.end(buffer);
      demux.on('end', () => setImmediate(() => out.end()));
    }
    let partial = '';
    for await (const chunk of out) {
      const parts = (partial + (chunk as Buffer).toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) yield `${line}\n`;
    }
    if (partial) yield partial;
  }

  async exec(id: string, command: string[], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const exec = await this.docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    this.docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`exec timed out after ${options.timeoutMs ?? 60_000} ms`)),
        options.timeoutMs ?? 60_000,
      );
      stream.on('end', () => {
        clearTimeout(timer);
        resolve();
      });
      stream.on('error', reject);
    });
    const { ExitCode } = await exec.inspect();
    return { stdout: out, stderr: err, exitCode: ExitCode ?? 0 };
  }

  async openExec(id: string, command: string[], options: { tty: boolean }): Promise<ExecSession> {
    const exec = await this.docker
      .getContainer(id)
      .exec({ Cmd: command, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: options.tty });
    const stream = await exec.start({ hijack: true, stdin: true, Tty: options.tty });
    const stdin = new PassThrough();
    stdin.pipe(stream); // ending stdin half-closes the exec's connection: the command reads EOF
    stream.on('error', () => undefined);
    let stdout: PassThrough | import('node:stream').Duplex = stream;
    let stderr: PassThrough | undefined;
    if (!options.tty) {
      // Without a terminal, Docker multiplexes stdout and stderr on the one connection.
      const out = new PassThrough();
      const err = new PassThrough();
      this.docker.modem.demuxStream(stream, out, err);
      stream.on('end', () => {
        out.end();
        err.end();
      });
      stdout = out;
      stderr = err;
    }
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
    });
    return {
      stdin,
      stdout,
      ...(stderr ? { stderr } : {}),
      resize: (cols, rows) => void exec.resize({ w: cols, h: rows }).catch(() => undefined),
      exited: ended.then(() => this.execExitCode(exec)),
      kill: () => stream.destroy(),
    };
  }

  /** Docker may still report the exec running just after its stream ends: asked again briefly. */
  private async execExitCode(exec: Docker.Exec): Promise<number> {
    for (let tries = 0; ; tries++) {
      const state = await exec.inspect().catch(() => undefined);
      if (!state) return 1;
      if (!state.Running || tries >= 40) return state.ExitCode ?? 1;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The pod's resolver as Docker takes it (it writes the container's resolv.conf and hosts from
 * these): on the container that owns the pod's network, the sandbox when there is one.
 */
function resolverConfig(spec: ContainerSpec): {
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  ExtraHosts?: string[];
} {
  return {
    ...(spec.dns ? { Dns: spec.dns.nameservers, DnsSearch: spec.dns.searches, DnsOptions: spec.dns.options } : {}),
    ...(spec.hostAliases
      ? { ExtraHosts: spec.hostAliases.flatMap((a) => a.hostnames.map((h) => `${h}:${a.ip}`)) }
      : {}),
  };
}
