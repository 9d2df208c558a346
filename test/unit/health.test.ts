import { describe, expect, it } from 'vitest';
import { healthOf, worst } from '../../src/health/index.js';

const dep = (spec: object, status: object, generation = 2) => ({
  kind: 'Deployment',
  metadata: { name: 'web', generation },
  spec: { replicas: 3, ...spec },
  status: { observedGeneration: 2, ...status },
});

describe('health', () => {
  it.each<[string, any, string]>([
    ['deployment rolled out', dep({}, { replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), 'Healthy'],
    ['deployment not yet observed', dep({}, { observedGeneration: 1 }), 'Progressing'],
    ['deployment updating', dep({}, { replicas: 3, updatedReplicas: 1, availableReplicas: 3 }), 'Progressing'],
    [
      'deployment with old replicas left',
      dep({}, { replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
      'Progressing',
    ],
    [
      'deployment past its deadline',
      dep({}, { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }),
      'Degraded',
    ],
    ['deployment paused', dep({ paused: true }, {}), 'Suspended'],
    [
      'statefulset ready',
      {
        kind: 'StatefulSet',
        metadata: { generation: 1 },
        spec: { replicas: 2 },
        status: { observedGeneration: 1, readyReplicas: 2, currentRevision: 'a', updateRevision: 'a' },
      },
      'Healthy',
    ],
    [
      'statefulset updating',
      {
        kind: 'StatefulSet',
        metadata: { generation: 1 },
        spec: { replicas: 2 },
        status: { observedGeneration: 1, readyReplicas: 2, currentRevision: 'a', updateRevision: 'b' },
      },
      'Progressing',
    ],
    [
      'daemonset rolled out',
      {
        kind: 'DaemonSet',
        metadata: { generation: 1 },
        spec: {},
        status: { observedGeneration: 1, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 },
      },
      'Healthy',
    ],
    [
      'job complete',
      { kind: 'Job', metadata: {}, status: { conditions: [{ type: 'Complete', status: 'True' }] } },
      'Healthy',
    ],
    [
      'job failed',
      {
        kind: 'Job',
        metadata: {},
        status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] },
      },
      'Degraded',
    ],
    ['job running', { kind: 'Job', metadata: {}, status: { active: 1 } }, 'Progressing'],
    [
      'pod crash looping',
      {
        kind: 'Pod',
        metadata: {},
        status: {
          phase: 'Running',
          containerStatuses: [{ name: 'c', ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
        },
      },
      'Degraded',
    ],
    [
      'pod ready',
      { kind: 'Pod', metadata: {}, status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: true }] } },
      'Healthy',
    ],
    ['pod pending', { kind: 'Pod', metadata: {}, status: { phase: 'Pending' } }, 'Progressing'],
    [
      'load balancer without address',
      { kind: 'Service', metadata: {}, spec: { type: 'LoadBalancer' }, status: { loadBalancer: {} } },
      'Progressing',
    ],
    ['cluster IP service', { kind: 'Service', metadata: {}, spec: { type: 'ClusterIP' }, status: {} }, 'Healthy'],
    ['bound claim', { kind: 'PersistentVolumeClaim', metadata: {}, status: { phase: 'Bound' } }, 'Healthy'],
    ['config map', { kind: 'ConfigMap', metadata: {} }, 'Healthy'],
    ['missing object', undefined, 'Missing'],
  ])('%s → %s', (_, obj, status) => {
    expect(healthOf(obj).status).toBe(status);
  });

  it('an app is as healthy as its worst resource', () => {
    expect(worst([{ status: 'Healthy' }, { status: 'Progressing', message: 'p' }, { status: 'Suspended' }])).toEqual({
      status: 'Progressing',
      message: 'p',
    });
    expect(worst([{ status: 'Healthy' }, { status: 'Degraded', message: 'd' }, { status: 'Missing' }]).status).toBe(
      'Degraded',
    );
    expect(worst([]).status).toBe('Healthy');
  });
});
