/** What a node's agent does with a deleted local-path volume (agent/local-volumes.ts cleanupOf), as a table. */
import { describe, expect, it } from 'vitest';
import { cleanupOf, type VolumeObject } from '../../src/agent/local-volumes.js';

const DATA = '/var/lib/berth/agent-n1';
const volume = (
  name: string,
  o: { node?: string; path?: string; deleting?: boolean; finalizer?: boolean; phase?: string; policy?: string } = {},
): VolumeObject =>
  ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name,
      ...(o.deleting !== false ? { deletionTimestamp: '2026-12-07T09:00:00Z' } : {}),
      ...(o.finalizer !== false ? { finalizers: ['berth.dev/local-path-cleanup'] } : {}),
    },
    spec: {
      persistentVolumeReclaimPolicy: o.policy ?? 'Delete',
      hostPath: { path: o.path ?? `${DATA}/claims/default/${name}` },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node ?? 'n1'] }] },
          ],
        },
      },
    },
    status: { phase: o.phase ?? 'Released' },
  }) as VolumeObject;

describe('cleanupOf', () => {
  const rows: [string, VolumeObject, VolumeObject[], ReturnType<typeof cleanupOf>][] = [
    ['not being deleted: none', volume('a', { deleting: false }), [], { action: 'none' }],
    ['without the finalizer: none', volume('a', { finalizer: false }), [], { action: 'none' }],
    ["another node's: none", volume('a', { node: 'n2' }), [], { action: 'none' }],
    ['still Bound: waits', volume('a', { phase: 'Bound' }), [], { action: 'wait', reason: 'still bound to its claim' }],
    ['Released, Delete: its directory goes', volume('a'), [], { action: 'release', path: `${DATA}/claims/default/a` }],
    ['Retain: the finalizer goes, the data stays', volume('a', { policy: 'Retain' }), [], { action: 'release' }],
    [
      'a path outside the claims folder is never removed',
      volume('a', { path: `${DATA}/node.token` }),
      [],
      { action: 'release' },
    ],
    ['nor one that climbs out of it', volume('a', { path: `${DATA}/claims/../pods` }), [], { action: 'release' }],
    ['nor the claims folder itself', volume('a', { path: `${DATA}/claims/` }), [], { action: 'release' }],
    [
      'nor a path a new volume of the same claim name uses',
      volume('old', { path: `${DATA}/claims/default/data` }),
      [volume('new', { path: `${DATA}/claims/default/data`, deleting: false, phase: 'Bound' })],
      { action: 'release' },
    ],
    [
      'another deleted volume on the same path does not keep it',
      volume('old', { path: `${DATA}/claims/default/data` }),
      [volume('older', { path: `${DATA}/claims/default/data` })],
      { action: 'release', path: `${DATA}/claims/default/data` },
    ],
  ];
  it.each(rows)('%s', (_name, v, others, expected) => {
    expect(cleanupOf(v, 'n1', DATA, [v, ...others])).toEqual(expected);
  });
});
