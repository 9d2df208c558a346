/**
 * The PersistentVolume controller's binding rules, as tables from the Kubernetes documentation's
 * examples (Persistent Volumes: Binding, Class, Access Modes, Selector, Reserving a
 * PersistentVolume; Storage Classes: the default class, WaitForFirstConsumer).
 */
import { describe, expect, it } from 'vitest';
import {
  classOf,
  findVolume,
  planClaim,
  volumePhase,
  type Claim,
  type Class,
  type Volume,
} from '../../src/controllers/volume/plan.js';

const pv = (
  name: string,
  storage: string,
  o: {
    cls?: string;
    modes?: string[];
    labels?: Record<string, string>;
    claimRef?: string;
    phase?: string;
    mode?: string;
  } = {},
): Volume =>
  ({
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      capacity: { storage },
      accessModes: o.modes ?? ['ReadWriteOnce'],
      ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
      ...(o.mode ? { volumeMode: o.mode } : {}),
      ...(o.claimRef ? { claimRef: { namespace: 'default', name: o.claimRef } } : {}),
      hostPath: { path: `/mnt/${name}` },
    },
    ...(o.phase ? { status: { phase: o.phase } } : {}),
  }) as unknown as Volume;

const pvc = (
  storage: string,
  o: {
    cls?: string;
    modes?: string[];
    selector?: Record<string, string>;
    volumeName?: string;
    node?: string;
    mode?: string;
    phase?: string;
  } = {},
): Claim =>
  ({
    metadata: {
      name: 'data',
      namespace: 'default',
      uid: 'u1',
      ...(o.node ? { annotations: { 'volume.kubernetes.io/selected-node': o.node } } : {}),
    },
    spec: {
      accessModes: o.modes ?? ['ReadWriteOnce'],
      resources: { requests: { storage } },
      ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
      ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.volumeName ? { volumeName: o.volumeName } : {}),
      ...(o.mode ? { volumeMode: o.mode } : {}),
    },
    ...(o.phase ? { status: { phase: o.phase } } : {}),
  }) as unknown as Claim;

const localPath: Class = {
  metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
  provisioner: 'berth.dev/local-path',
  volumeBindingMode: 'WaitForFirstConsumer',
  reclaimPolicy: 'Delete',
};
const slow: Class = { metadata: { name: 'slow' }, provisioner: 'kubernetes.io/no-provisioner' };

describe('static binding', () => {
  const cases: { name: string; claim: Claim; volumes: Volume[]; want: string | undefined }[] = [
    {
      name: 'the smallest volume that is large enough (8Gi claim: 10Gi, not 20Gi; 5Gi is too small)',
      claim: pvc('8Gi', { cls: '' }),
      volumes: [pv('big', '20Gi', { cls: '' }), pv('small', '5Gi', { cls: '' }), pv('fits', '10Gi', { cls: '' })],
      want: 'fits',
    },
    {
      name: 'quantities compare by value (1Gi > 1G)',
      claim: pvc('1Gi', { cls: '' }),
      volumes: [pv('decimal', '1G', { cls: '' }), pv('binary', '1Gi', { cls: '' })],
      want: 'binary',
    },
    {
      name: 'only volumes of the claim’s class ("" is no class)',
      claim: pvc('1Gi', { cls: 'slow' }),
      volumes: [pv('classless', '1Gi', { cls: '' }), pv('slow-one', '5Gi', { cls: 'slow' })],
      want: 'slow-one',
    },
    {
      name: 'a claim with no class at all gets the default class: a classless volume is not for it',
      claim: pvc('1Gi'),
      volumes: [pv('classless', '1Gi', { cls: '' })],
      want: undefined,
    },
    {
      name: 'every access mode the claim asks for (ReadWriteMany is not on a ReadWriteOnce volume)',
      claim: pvc('1Gi', { cls: '', modes: ['ReadWriteMany'] }),
      volumes: [
        pv('rwo', '1Gi', { cls: '' }),
        pv('rwx', '2Gi', { cls: '', modes: ['ReadWriteOnce', 'ReadWriteMany'] }),
      ],
      want: 'rwx',
    },
    {
      name: 'the selector: only a volume with the labels (release: stable)',
      claim: pvc('1Gi', { cls: '', selector: { release: 'stable' } }),
      volumes: [pv('plain', '1Gi', { cls: '' }), pv('stable', '3Gi', { cls: '', labels: { release: 'stable' } })],
      want: 'stable',
    },
    {
      name: 'the same volume mode (Block is not Filesystem)',
      claim: pvc('1Gi', { cls: '', mode: 'Block' }),
      volumes: [pv('fs', '1Gi', { cls: '' }), pv('block', '1Gi', { cls: '', mode: 'Block' })],
      want: 'block',
    },
    {
      name: 'a volume reserved for another claim by claimRef is not taken',
      claim: pvc('1Gi', { cls: '' }),
      volumes: [pv('reserved', '1Gi', { cls: '', claimRef: 'other' })],
      want: undefined,
    },
    {
      name: 'a volume reserved for this claim by claimRef is its own, before smaller free ones',
      claim: pvc('1Gi', { cls: '' }),
      volumes: [pv('free', '1Gi', { cls: '' }), pv('mine', '5Gi', { cls: '', claimRef: 'data' })],
      want: 'mine',
    },
    {
      name: 'a claim naming its volume gets that one only',
      claim: pvc('1Gi', { cls: '', volumeName: 'chosen' }),
      volumes: [pv('free', '1Gi', { cls: '' }), pv('chosen', '9Gi', { cls: '' })],
      want: 'chosen',
    },
    {
      name: 'a Released volume is not bound again (its data is someone’s)',
      claim: pvc('1Gi', { cls: '' }),
      volumes: [pv('released', '1Gi', { cls: '', phase: 'Released' })],
      want: undefined,
    },
  ];
  it.each(cases)('$name', ({ claim, volumes, want }) => {
    expect(findVolume(claim, volumes, classOf(claim, [localPath, slow]))?.metadata.name).toBe(want);
  });
});

describe('what a claim waits for, or gets made', () => {
  it.each([
    {
      name: 'local-path waits for its first consumer',
      claim: pvc('1Gi'),
      want: { action: 'wait', reason: 'WaitForFirstConsumer' },
    },
    {
      name: "local-path provisions on the node chosen for the first pod, with the class's reclaim policy",
      claim: pvc('1Gi', { node: 'n2' }),
      want: { action: 'provision', node: 'n2', className: 'local-path', reclaimPolicy: 'Delete' },
    },
    {
      name: 'a class without a provisioner Berth runs: no volume, the reason said',
      claim: pvc('1Gi', { cls: 'slow' }),
      want: { action: 'wait', reason: 'FailedBinding' },
    },
    {
      name: 'no class and no volume',
      claim: pvc('1Gi', { cls: '' }),
      want: { action: 'wait', reason: 'FailedBinding' },
    },
    {
      name: 'a class that does not exist',
      claim: pvc('1Gi', { cls: 'fast' }),
      want: { action: 'wait', reason: 'ProvisioningFailed', message: 'storageclass.storage.k8s.io "fast" not found' },
    },
    {
      name: 'a bound claim whose volume is gone is Lost',
      claim: pvc('1Gi', { cls: '', volumeName: 'gone', phase: 'Bound' }),
      want: { action: 'lost' },
    },
  ])('$name', ({ claim, want }) => {
    expect(planClaim(claim, [], [localPath, slow])).toMatchObject(want);
  });
});

describe('volume phases', () => {
  const bound = pv('v', '1Gi', { claimRef: 'data' });
  bound.spec!.claimRef!.uid = 'u1';
  it.each([
    { name: 'no claimRef: Available', volume: pv('v', '1Gi'), exists: false, want: 'Available' },
    { name: 'its claim exists: Bound', volume: bound, exists: true, want: 'Bound' },
    { name: 'its claim is gone: Released', volume: bound, exists: false, want: 'Released' },
    {
      name: 'reserved (claimRef without uid) for a claim still to come: Available, not Released',
      volume: pv('v', '1Gi', { claimRef: 'data' }),
      exists: false,
      want: 'Available',
    },
  ])('$name', ({ volume, exists, want }) => {
    expect(volumePhase(volume, () => exists)).toBe(want);
  });
});
