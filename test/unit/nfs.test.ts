/** How a node mounts an NFS share (agent/nfs.ts): the mount the process runtime runs, the Docker volume it asks for. */
import { describe, expect, it } from 'vitest';
import { dockerNfsVolume, mountFailure, nfsMountArgs, nfsOptions } from '../../src/agent/nfs.js';

describe('NFS mounts', () => {
  it.each([
    ['version 4 by default', {}, false, ['nfsvers=4']],
    ['read-only adds ro', {}, true, ['nfsvers=4', 'ro']],
    [
      "the volume's mountOptions follow",
      { mountOptions: ['hard', 'timeo=600'] },
      false,
      ['nfsvers=4', 'hard', 'timeo=600'],
    ],
    ['a version of its own replaces 4', { mountOptions: ['nfsvers=4.1'] }, false, ['nfsvers=4.1']],
    ['vers= counts as a version too', { mountOptions: ['vers=3'] }, true, ['vers=3', 'ro']],
    ['ro given once', { mountOptions: ['ro'] }, true, ['nfsvers=4', 'ro']],
  ])('%s', (_name, extra, readOnly, expected) => {
    expect(nfsOptions({ server: 'nas', path: '/exports', ...extra }, readOnly)).toEqual(expected);
  });

  it('the process runtime runs mount -t nfs at the volume directory', () => {
    expect(nfsMountArgs({ server: '10.0.0.5', path: '/srv/share' }, '/data/pods/u1/volumes/share', true)).toEqual([
      '-t',
      'nfs',
      '-o',
      'nfsvers=4,ro',
      '10.0.0.5:/srv/share',
      '/data/pods/u1/volumes/share',
    ]);
  });

  it("the docker runtime asks for a volume of Docker's local driver, type nfs", () => {
    expect(
      dockerNfsVolume('berth-u1-share', { server: 'nas.lan', path: '/srv', mountOptions: ['hard'] }, false, {
        'berth.dev/pod': 'u1',
      }),
    ).toEqual({
      Name: 'berth-u1-share',
      Driver: 'local',
      DriverOpts: { type: 'nfs', o: 'addr=nas.lan,nfsvers=4,hard', device: ':/srv' },
      Labels: { 'berth.dev/pod': 'u1' },
    });
  });

  it('a failed mount reads as the kubelet says it', () => {
    const e = mountFailure('share', { server: 'nas', path: '/srv' }, 'mount: unknown filesystem type nfs\n');
    expect({ reason: e.reason, message: e.message }).toEqual({
      reason: 'FailedMount',
      message: 'MountVolume.SetUp failed for volume "share" (nfs nas:/srv): mount: unknown filesystem type nfs',
    });
  });
});
