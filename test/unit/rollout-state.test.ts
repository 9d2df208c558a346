/** kubectl's rollout status messages, per kind, from one read of the object. */
import { describe, expect, it } from 'vitest';
import { parseTarget, rolloutState } from '../../src/cli/rollout.js';

const obj = (kind: string, spec: Record<string, unknown>, status: Record<string, unknown>, generation = 2) => ({
  apiVersion: 'apps/v1',
  kind,
  metadata: { name: 'x', generation },
  spec,
  status,
});

describe('rolloutState', () => {
  it.each([
    [
      'Deployment',
      { replicas: 3 },
      { observedGeneration: 1 },
      false,
      'Waiting for deployment spec update to be observed...',
    ],
    [
      'Deployment',
      { replicas: 3 },
      { observedGeneration: 2, updatedReplicas: 1 },
      false,
      'Waiting for deployment "x" rollout to finish: 1 out of 3 new replicas have been updated...',
    ],
    [
      'Deployment',
      { replicas: 3 },
      { observedGeneration: 2, updatedReplicas: 3, replicas: 4 },
      false,
      'Waiting for deployment "x" rollout to finish: 1 old replicas are pending termination...',
    ],
    [
      'Deployment',
      { replicas: 3 },
      { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 },
      false,
      'Waiting for deployment "x" rollout to finish: 2 of 3 updated replicas are available...',
    ],
    [
      'Deployment',
      { replicas: 3 },
      { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 },
      true,
      'deployment "x" successfully rolled out',
    ],
    [
      'DaemonSet',
      {},
      { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 1 },
      false,
      'Waiting for daemon set "x" rollout to finish: 1 out of 3 new pods have been updated...',
    ],
    [
      'DaemonSet',
      {},
      { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 },
      true,
      'daemon set "x" successfully rolled out',
    ],
    [
      'StatefulSet',
      { replicas: 3 },
      { observedGeneration: 2, readyReplicas: 1 },
      false,
      'Waiting for 2 pods to be ready...',
    ],
    [
      'StatefulSet',
      { replicas: 3 },
      { observedGeneration: 2, readyReplicas: 3, currentRevision: 'a', updateRevision: 'b', updatedReplicas: 1 },
      false,
      'waiting for statefulset rolling update to complete 1 pods at revision b...',
    ],
    [
      'StatefulSet',
      { replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
      { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 },
      true,
      'partitioned roll out complete: 1 new pods have been updated...',
    ],
  ])('%s %j %j → done %s: %s', (kind, spec, status, done, message) => {
    expect(rolloutState(kind, obj(kind, spec, status) as never)).toMatchObject({ done, message });
  });

  it('a progress deadline exceeded is a failure', () => {
    const s = rolloutState(
      'Deployment',
      obj(
        'Deployment',
        { replicas: 1 },
        {
          observedGeneration: 2,
          conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
        },
      ) as never,
    );
    expect(s).toEqual({ done: true, failed: true, message: 'deployment "x" exceeded its progress deadline' });
  });

  it('parses TYPE/NAME and refuses kinds a command does not handle', () => {
    expect(parseTarget('deploy/web', ['Deployment'])).toMatchObject({ name: 'web', info: { kind: 'Deployment' } });
    expect(parseTarget('statefulsets.apps/db', ['StatefulSet']).name).toBe('db');
    expect(() => parseTarget('web', ['Deployment'])).toThrow(/TYPE\/NAME/);
    expect(() => parseTarget('svc/web', ['Deployment'])).toThrow(/not supported/);
  });
});
