/**
 * Test hosts in network namespaces the test makes itself (`ip netns add`, joined by a veth pair),
 * each with a Docker daemon of its own (its own data and exec roots and socket): what crosses the
 * network between nodes stays inside them, never in this machine's own namespace. Processes are
 * entered with `nsenter --net` (not `ip netns exec`, which mounts a sysfs without the cgroup
 * hierarchy dockerd needs). Everything is removed by remove(), also after a failure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

export interface TestHost {
  ns: string;
  address: string;
  /** DOCKER_HOST of the host's dockerd (after startDocker). */
  dockerHost?: string;
}

export interface TestNetwork {
  hosts: TestHost[];
  /** Starts a dockerd in each host and waits until it answers. */
  startDocker(): Promise<void>;
  remove(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/** Two hosts, 10.77.0.1 and 10.77.0.2, on a veth pair; names unique to this process. */
export function createTestNetwork(dir: string): TestNetwork {
  const tag = `bt${process.pid % 100000}`;
  const hosts: TestHost[] = [
    { ns: `${tag}-a`, address: '10.77.0.1' },
    { ns: `${tag}-b`, address: '10.77.0.2' },
  ];
  const daemons: { child: ChildProcess; pidFile: string }[] = [];
  const remove = async (): Promise<void> => {
    for (const d of daemons) {
      // dockerd stops its containers and its containerd on SIGTERM.
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGTERM');
        await new Promise((r) => d.child.once('exit', r));
      }
    }
    for (const h of hosts) {
      try {
        ip('netns', 'del', h.ns);
      } catch {
        // not made
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const h of hosts) {
      ip('netns', 'add', h.ns);
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
    ip(
      'link',
      'add',
      `${tag}a`,
      'netns',
      hosts[0]!.ns,
      'type',
      'veth',
      'peer',
      'name',
      `${tag}b`,
      'netns',
      hosts[1]!.ns,
    );
    hosts.forEach((h, i) => {
      const dev = `${tag}${i === 0 ? 'a' : 'b'}`;
      ip('-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', dev);
      ip('-n', h.ns, 'link', 'set', dev, 'up');
      // What a Docker host has (dockerd runs with --iptables=false here): containers' traffic to
      // other hosts leaves with the host's address, so answers find their way back.
      execFileSync(
        'nsenter',
        [
          `--net=/run/netns/${h.ns}`,
          'iptables',
          '-t',
          'nat',
          '-A',
          'POSTROUTING',
          '-s',
          '172.17.0.0/16',
          '!',
          '-o',
          'docker0',
          '-j',
          'MASQUERADE',
        ],
        { stdio: 'pipe' },
      );
    });
  } catch (e) {
    void remove();
    throw e;
  }
  return {
    hosts,
    async startDocker() {
      for (const h of hosts) {
        const root = path.join(dir, h.ns);
        mkdirSync(root, { recursive: true });
        const socket = path.join(root, 'docker.sock');
        const pidFile = path.join(root, 'docker.pid');
        const child = spawn(
          'nsenter',
          [
            `--net=/run/netns/${h.ns}`,
            'dockerd',
            '--iptables=false',
            '--ip6tables=false',
            '--data-root',
            path.join(root, 'data'),
            '--exec-root',
            path.join(root, 'exec'),
            '--pidfile',
            pidFile,
            '-H',
            `unix://${socket}`,
          ],
          { stdio: 'ignore' },
        );
        daemons.push({ child, pidFile });
        h.dockerHost = `unix://${socket}`;
      }
      const deadline = Date.now() + 60_000;
      for (const h of hosts) {
        while (!answers(h.dockerHost!)) {
          if (Date.now() > deadline) throw new Error(`dockerd in ${h.ns} did not start`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    remove,
  };
}

function answers(dockerHost: string): boolean {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
      stdio: 'pipe',
      env: { ...process.env, DOCKER_HOST: dockerHost },
    });
    return true;
  } catch {
    return false;
  }
}

/** Whether this machine can make test hosts (root, iproute2, dockerd, nsenter). */
export function testNetworkUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/dockerd', '/usr/bin/nsenter', '/usr/sbin/iptables'])
    if (!existsSync(tool)) return `${tool} is missing`;
  return readFileSync('/proc/filesystems', 'utf8').includes('overlay')
    ? undefined
    : 'no overlay filesystem for dockerd';
}
