/**
 * The node's part of local-path provisioning (what rancher's local-path-provisioner does with its
 * helper pod): a local-path volume on this node that is being deleted — the volume controller
 * deletes a Released one whose reclaim policy is Delete — has its directory removed, then the
 * LOCAL_PATH_CLEANUP finalizer taken off, so that it goes. Nothing else of the data directory is
 * ever removed: only a path inside this node's claims folder that no other volume uses.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { isBerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import { pathWithin } from '../api/pod-security.js';
import { LOCAL_PATH_CLEANUP, claimsFolder, volumeNodeOf } from '../api/storage.js';
import type { PersistentVolume } from '../api/types.gen.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { Informer } from '../informer/index.js';

const VOLUMES = kindInfo('PersistentVolume')!;

export type VolumeObject = KubeObject & Pick<PersistentVolume, 'spec' | 'status'>;

const finalizersOf = (v: VolumeObject): string[] => (v.metadata.finalizers as string[] | undefined) ?? [];

export type Cleanup =
  | { action: 'none' }
  | { action: 'wait'; reason: string }
  /** Remove `path` (when given), then take the finalizer off. */
  | { action: 'release'; path?: string };

/**
 * What this node does for `volume`, pure. Only a volume of this node, being deleted and holding
 * the finalizer, is its business; it waits while the volume is still Bound (deleted under a claim
 * that is still there); Retain keeps the data (the finalizer goes, the directory stays); a path
 * outside the claims folder, or one another volume still uses (a new claim of the same name), is
 * never removed.
 */
export function cleanupOf(
  volume: VolumeObject,
  node: string,
  dataDir: string,
  volumes: readonly VolumeObject[],
): Cleanup {
  if (!volume.metadata.deletionTimestamp || !finalizersOf(volume).includes(LOCAL_PATH_CLEANUP))
    return { action: 'none' };
  if (volumeNodeOf(volume) !== node) return { action: 'none' };
  if (volume.status?.phase === 'Bound') return { action: 'wait', reason: 'still bound to its claim' };
  if ((volume.spec?.persistentVolumeReclaimPolicy ?? 'Retain') !== 'Delete') return { action: 'release' };
  const path = volume.spec?.hostPath?.path ?? volume.spec?.local?.path;
  const folder = claimsFolder(dataDir);
  if (!path || !pathWithin(path, folder) || pathWithin(folder, path)) return { action: 'release' };
  const sharedWith = volumes.find(
    (v) =>
      v.metadata.name !== volume.metadata.name &&
      !v.metadata.deletionTimestamp &&
      (v.spec?.hostPath?.path ?? v.spec?.local?.path) === path,
  );
  if (sharedWith) return { action: 'release' };
  return { action: 'release', path };
}

/** A failed clean-up (the server away, a disk error) is tried again this often. */
const RETRY_MS = 10_000;

export class LocalVolumeCleaner {
  private readonly working = new Set<string>();

  constructor(private readonly o: { client: BerthClient; node: string; dataDir: string; log?: Logger }) {}

  /** Follows the volumes until `signal` aborts, cleaning up as cleanupOf says. */
  async run(signal: AbortSignal): Promise<void> {
    const informer = new Informer<VolumeObject>(
      this.o.client.listWatch<VolumeObject>(VOLUMES),
      { group: VOLUMES.group, kind: VOLUMES.kind },
      (err) => this.o.log?.warn({ err }, 'volume watch failed; listing again'),
    );
    const look = (volume: VolumeObject) => {
      const name = volume.metadata.name;
      if (this.working.has(name)) return;
      const plan = cleanupOf(volume, this.o.node, this.o.dataDir, informer.list());
      if (plan.action !== 'release') return;
      this.working.add(name);
      void this.release(volume, plan.path).finally(() => this.working.delete(name));
    };
    informer.on((e) => {
      if (e.type !== 'DELETED') look(e.object);
    });
    const retry = setInterval(() => informer.list().forEach(look), RETRY_MS);
    try {
      await informer.start(signal);
    } finally {
      clearInterval(retry);
    }
  }

  private async release(volume: VolumeObject, path: string | undefined): Promise<void> {
    const name = volume.metadata.name;
    try {
      if (path) {
        await rm(path, { recursive: true, force: true });
        this.o.log?.info({ volume: name, path }, 'removed the directory of a deleted local-path volume');
      }
      await this.o.client.update(VOLUMES, {
        ...volume,
        metadata: {
          ...volume.metadata,
          finalizers: finalizersOf(volume).filter((f) => f !== LOCAL_PATH_CLEANUP),
        },
      });
    } catch (err) {
      // Gone or changed meanwhile: the watch brings what is there now.
      if (isBerthError(err, 'NotFound') || isBerthError(err, 'Conflict')) return;
      this.o.log?.warn({ err, volume: name }, 'could not clean up a deleted local-path volume; trying again');
    }
  }
}
