/**
 * The scheduler's filters, scores and messages, pod requests as Kubernetes counts them, the
 * node lifecycle's conditions and taints, and the taint manager's evictions, as tables.
 */
import { describe, expect, it } from 'vitest';
import { planEvictions, planNode } from '../../src/controllers/nodelifecycle/plan.js';
import type { NodeObject, PodObject } from '../../src/controllers/objects.js';
import {
  feasibleNodesToFind,
  filterNode,
  rawScores,
  scoreCandidates,
  unschedulableMessage,
  type NodeInfo,
  type PodFacts,
} from '../../src/scheduler/filters.js';
import { hostPorts, nodeAllocatable, podRequests, portsConflict } from '../../src/scheduler/resources.js';

const node = (
  name: string,
  o: {
    cpu?: string;
    memory?: string;
    pods?: string;
    labels?: Record<string, string>;
    taints?: any[];
    unschedulable?: boolean;
    ready?: string;
  } = {},
): NodeInfo['node'] =>
  ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110' },
      conditions: [{ type: 'Ready', status: (o.ready ?? 'True') as 'True' }],
    },
  }) as NodeInfo['node'];

const info = (
  n: NodeInfo['node'],
  used: { cpu?: number; memory?: number; pods?: number; ports?: string[]; owners?: [string, number][] } = {},
): NodeInfo => ({
  node: n,
  allocatable: nodeAllocatable(n),
  requested: { cpu: used.cpu ?? 0, memory: used.memory ?? 0, pods: used.pods ?? 0 },
  ports: used.ports ?? [],
  owners: new Map(used.owners ?? []),
});

const pod = (spec: Record<string, unknown> = {}, requests?: Record<string, string>): PodFacts['pod'] =>
  ({
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'i', ...(requests ? { resources: { requests } } : {}) }], ...spec },
  }) as PodFacts['pod'];

const facts = (p: PodFacts['pod'], extra: Partial<PodFacts> = {}): PodFacts => ({
  pod: p,
  requests: podRequests(p),
  ports: hostPorts(p),
  ...extra,
});

describe('pod requests', () => {
  it('sums containers, takes the larger init container, adds overhead', () => {
    const p = pod({
      containers: [
        { name: 'a', image: 'i', resources: { requests: { cpu: '250m', memory: '64Mi' } } },
        { name: 'b', image: 'i', resources: { requests: { cpu: '0.5', memory: '1Gi' } } },
      ],
      initContainers: [{ name: 'init', image: 'i', resources: { requests: { cpu: '2', memory: '100Mi' } } }],
      overhead: { cpu: '10m' },
    });
    expect(podRequests(p)).toEqual({ cpu: 2010, memory: 64 * 2 ** 20 + 2 ** 30, pods: 1 });
  });

  it('host ports conflict on the same protocol and port unless both bind different addresses', () => {
    expect(portsConflict('TCP/0.0.0.0/80', 'TCP/127.0.0.1/80')).toBe(true);
    expect(portsConflict('TCP/10.0.0.1/80', 'TCP/10.0.0.2/80')).toBe(false);
    expect(portsConflict('TCP/0.0.0.0/80', 'UDP/0.0.0.0/80')).toBe(false);
  });
});

describe('filters', () => {
  it.each([
    ['fits', node('n'), {}, facts(pod({}, { cpu: '1' })), []],
    ['unschedulable node', node('n', { unschedulable: true }), {}, facts(pod()), ['node(s) were unschedulable']],
    [
      'untolerated taint',
      node('n', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
      {},
      facts(pod()),
      ['node(s) had untolerated taint {dedicated: db}'],
    ],
    [
      'tolerated taint',
      node('n', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
      {},
      facts(pod({ tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] })),
      [],
    ],
    [
      'PreferNoSchedule never filters',
      node('n', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }),
      {},
      facts(pod()),
      [],
    ],
    [
      'not ready',
      node('n', { ready: 'False' }),
      {},
      facts(pod()),
      ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'],
    ],
    [
      'node selector',
      node('n', { labels: { disk: 'hdd' } }),
      {},
      facts(pod({ nodeSelector: { disk: 'ssd' } })),
      ["node(s) didn't match Pod's node affinity/selector"],
    ],
    [
      'host port taken',
      node('n'),
      { ports: ['TCP/0.0.0.0/8080'] },
      facts(pod({ containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080 }] }] })),
      ["node(s) didn't have free ports for the requested pod ports"],
    ],
    [
      'cpu and memory',
      node('n', { cpu: '1', memory: '1Gi' }),
      { cpu: 900, memory: 2 ** 30 },
      facts(pod({}, { cpu: '200m', memory: '1Mi' })),
      ['Insufficient cpu', 'Insufficient memory'],
    ],
    ['pod count', node('n', { pods: '2' }), { pods: 2 }, facts(pod()), ['Too many pods']],
    [
      'a claim pinned elsewhere',
      node('n'),
      {},
      facts(pod(), { claimNode: 'm' }),
      ['node(s) had volume node affinity conflict'],
    ],
    ['nodeName', node('n'), {}, facts(pod({ nodeName: 'm' })), ["node(s) didn't match the requested node name"]],
  ] as [string, NodeInfo['node'], Parameters<typeof info>[1], PodFacts, string[]][])(
    '%s',
    (_why, n, used, f, reasons) => {
      expect(filterNode(f, info(n, used))).toEqual(reasons);
    },
  );

  it('the unschedulable message counts reasons over all nodes, sorted as kube-scheduler sorts them', () => {
    const reasons = new Map([
      ['Insufficient cpu', 2],
      ['node(s) had untolerated taint {k: v}', 1],
    ]);
    expect(unschedulableMessage(3, reasons)).toBe(
      '0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.',
    );
    expect(unschedulableMessage(0, new Map())).toBe('no nodes available to schedule pods');
  });

  it('filters a share of large clusters, as percentageOfNodesToScore', () => {
    expect([feasibleNodesToFind(50), feasibleNodesToFind(500), feasibleNodesToFind(5000)]).toEqual([50, 230, 500]);
  });
});

describe('scores', () => {
  const best = (f: PodFacts, infos: NodeInfo[]) => {
    const s = scoreCandidates(infos.map((i) => rawScores(f, i)));
    return infos[s.indexOf(Math.max(...s))]!.node.metadata.name;
  };

  it('prefers the least allocated node', () => {
    expect(
      best(facts(pod({}, { cpu: '1', memory: '1Gi' })), [
        info(node('busy'), { cpu: 3000, memory: 6 * 2 ** 30 }),
        info(node('idle')),
      ]),
    ).toBe('idle');
  });

  it('spreads pods of one owner', () => {
    const f = facts(pod(), { owner: 'rs-1' });
    expect(
      best(f, [info(node('has-two'), { owners: [['rs-1', 2]] }), info(node('has-one'), { owners: [['rs-1', 1]] })]),
    ).toBe('has-one');
  });

  it('follows preferred node affinity and avoids PreferNoSchedule taints', () => {
    const preferSsd = facts(
      pod({
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 50, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
            ],
          },
        },
      }),
    );
    expect(
      best(preferSsd, [info(node('hdd', { labels: { disk: 'hdd' } })), info(node('ssd', { labels: { disk: 'ssd' } }))]),
    ).toBe('ssd');
    expect(
      best(facts(pod()), [
        info(node('soft', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] })),
        info(node('clean')),
      ]),
    ).toBe('clean');
  });

  it('balances cpu against memory', () => {
    const f = facts(pod({}, { cpu: '1', memory: '1Gi' }));
    const s = [
      rawScores(f, info(node('a'), { cpu: 2000 })),
      rawScores(f, info(node('b'), { cpu: 1000, memory: 2 * 2 ** 30 })),
    ];
    expect(s[1]!.balanced).toBeGreaterThan(s[0]!.balanced);
  });
});

const T = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('node lifecycle', () => {
  const n = (o: { ready?: string; taints?: any[]; unschedulable?: boolean } = {}): NodeObject =>
    ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n' },
      spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
      status: { conditions: [{ type: 'Ready', status: (o.ready ?? 'True') as 'True' }] },
    }) as NodeObject;

  it('a lease older than the grace period: Ready=Unknown, unreachable taints; fresh again: Ready, untainted', () => {
    const lost = planNode(n(), { renewTime: T - 11_000 }, T, 10_000);
    expect(lost.alive).toBe(false);
    expect(lost.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
    });
    expect(lost.taints).toEqual([
      { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: iso(T) },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: iso(T) },
    ]);
    const back = planNode(n({ ready: 'Unknown', taints: lost.taints }), { renewTime: T + 500 }, T + 1000, 10_000);
    expect(back.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(back.taints).toEqual([]);
    expect(back.requeueAfterMs).toBe(9_550);
  });

  it('a fresh lease changes nothing; a cordoned node carries the unschedulable taint', () => {
    expect(planNode(n(), { renewTime: T - 1000 }, T)).toMatchObject({ alive: true });
    expect(planNode(n(), { renewTime: T - 1000 }, T).taints).toBeUndefined();
    expect(planNode(n({ unschedulable: true }), { renewTime: T }, T).taints).toEqual([
      { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: iso(T) },
    ]);
  });

  it('evicts pods that do not tolerate NoExecute taints, those with tolerationSeconds when it runs out', () => {
    const taints = [
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const, timeAdded: iso(T - 20_000) },
    ];
    const p = (name: string, tolerations: any[] = []) =>
      ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { containers: [], tolerations },
        status: { phase: 'Running' },
      }) as unknown as PodObject;
    const plan = planEvictions(
      taints,
      [
        p('plain'),
        p('forever', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }]),
        p('10s', [
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
        ]),
        p('60s', [
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
        ]),
      ],
      T,
    );
    expect(plan.evict.map((x) => x.metadata.name)).toEqual(['plain', '10s']);
    expect(plan.requeueAfterMs).toBe(40_000);
  });
});
