/**
 * NFS volumes, as the kubelet mounts them: on the process runtime the agent mounts the share on
 * the node (`mount -t nfs`, root only) at the volume's directory in the pod's folder; on Docker a
 * named volume of Docker's `local` driver (type=nfs) mounts it when the container starts. The
 * options are Kubernetes': the volume's mountOptions (a PersistentVolume's), NFS version 4 unless
 * they name one, `ro` for a read-only volume.
 */
import { StartError } from './runtime.js';

export interface NfsShare {
  server: string;
  path: string;
  /** A PersistentVolume's spec.mountOptions (nfsvers=4.1, hard, …). */
  mountOptions?: string[];
}

/** The mount options: the volume's own, nfsvers=4 unless they say a version, ro when read-only. */
export function nfsOptions(share: NfsShare, readOnly: boolean): string[] {
  const own = share.mountOptions ?? [];
  const version = own.some((o) => /^(nfs)?vers=/.test(o)) ? [] : ['nfsvers=4'];
  return [...version, ...own, ...(readOnly && !own.includes('ro') ? ['ro'] : [])];
}

/** The arguments of the `mount` the process runtime runs for a share at `target`. */
export function nfsMountArgs(share: NfsShare, target: string, readOnly: boolean): string[] {
  return ['-t', 'nfs', '-o', nfsOptions(share, readOnly).join(','), `${share.server}:${share.path}`, target];
}

/** The Docker volume (driver `local`, type nfs) a container on the docker runtime mounts a share through. */
export function dockerNfsVolume(
  name: string,
  share: NfsShare,
  readOnly: boolean,
  labels: Record<string, string>,
): { Name: string; Driver: 'local'; DriverOpts: Record<string, string>; Labels: Record<string, string> } {
  return {
    Name: name,
    Driver: 'local',
    DriverOpts: {
      type: 'nfs',
      o: [`addr=${share.server}`, ...nfsOptions(share, readOnly)].join(','),
      device: `:${share.path}`,
    },
    Labels: labels,
  };
}

/** A share that could not be mounted, as the pod's status and Events say it (the kubelet's FailedMount). */
export function mountFailure(volume: string, share: NfsShare, detail: string): StartError {
  return new StartError(
    'FailedMount',
    `MountVolume.SetUp failed for volume "${volume}" (nfs ${share.server}:${share.path}): ${detail.trim()}`,
  );
}
