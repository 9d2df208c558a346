/**
 * The PR plan's pure cores, as tables: the scheduler as a simulation (new, grown and moved pods on
 * today's nodes, kube-scheduler's messages), Ingress rules two owners claim, the images a revision
 * changes, and how the plan reads in the comment and on a terminal.
 */
import { describe, expect, it } from 'vitest';
import {
  diffReport,
  imageChanges,
  plan,
  renderMarkdown,
  renderText,
  type ObjectLike,
  type PlanChecks,
} from '../../src/diff/index.js';
import { routeConflicts, type IngressObject } from '../../src/network/routes.js';
import { nodeInfos, simulatePlacement, type PlacedPod } from '../../src/scheduler/index.js';

const node = (name: string, cpu: string, o: { taint?: boolean; labels?: Record<string, string> } = {}) =>
  ({
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: o.taint ? { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } : {},
    status: {
      allocatable: { cpu, memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  }) as never;

const pod = (cpu: string, extra: Record<string, unknown> = {}, nodeName?: string): PlacedPod =>
  ({
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'c', image: 'x', resources: { requests: { cpu } } }],
      ...extra,
    },
  }) as PlacedPod;

describe('the scheduler as a simulation', () => {
  const nodes = [node('n1', '2'), node('n2', '2')];
  const cases: {
    name: string;
    running: PlacedPod[];
    requests: Parameters<typeof simulatePlacement>[1];
    want: { wanted: number; placed: number; message?: string }[];
  }[] = [
    {
      name: 'pods that fit are all placed',
      running: [],
      requests: [{ id: 'Deployment/default/web', template: pod('500m'), count: 6 }],
      want: [{ wanted: 6, placed: 6 }],
    },
    {
      name: "what running pods take is counted: the third 1-cpu pod on two half-full nodes does not fit, in kube-scheduler's words",
      running: [pod('1', {}, 'n1'), pod('1', {}, 'n2')],
      requests: [{ id: 'Deployment/default/web', template: pod('1'), count: 3 }],
      want: [{ wanted: 3, placed: 2, message: '0/2 nodes are available: 2 Insufficient cpu.' }],
    },
    {
      name: "a request's pods count against the next request's",
      running: [],
      requests: [
        { id: 'Deployment/default/a', template: pod('1500m'), count: 2 },
        { id: 'Deployment/default/b', template: pod('1'), count: 1 },
      ],
      want: [
        { wanted: 2, placed: 2 },
        { wanted: 1, placed: 0, message: '0/2 nodes are available: 2 Insufficient cpu.' },
      ],
    },
    {
      name: 'a nodeSelector no node matches',
      running: [],
      requests: [{ id: 'Deployment/default/gpu', template: pod('100m', { nodeSelector: { gpu: 'yes' } }), count: 1 }],
      want: [
        {
          wanted: 1,
          placed: 0,
          message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
        },
      ],
    },
    {
      name: 'finished pods take nothing',
      running: [{ ...pod('2', {}, 'n1'), status: { phase: 'Succeeded' } }, pod('2', {}, 'n2')],
      requests: [{ id: 'Job/default/j', template: pod('2'), count: 1 }],
      want: [{ wanted: 1, placed: 1 }],
    },
  ];
  it.each(cases)('$name', ({ running, requests, want }) => {
    const got = simulatePlacement(nodeInfos(nodes, running), requests);
    expect(got.map(({ id: _id, ...p }) => p)).toEqual(want);
  });

  it('a DaemonSet wants a pod on each node it tolerates, and names the node its pod does not fit on', () => {
    const three = [node('n1', '2'), node('n2', '2'), node('db', '2', { taint: true })];
    const [got] = simulatePlacement(nodeInfos(three, [pod('1500m', {}, 'n2')]), [
      { id: 'DaemonSet/default/agent', template: pod('1'), count: 0, perNode: true },
    ]);
    expect(got).toEqual({
      id: 'DaemonSet/default/agent',
      wanted: 2,
      placed: 1,
      message: 'node n2: Insufficient cpu',
    });
  });

  it('leaves the nodes it was given as they were', () => {
    const infos = nodeInfos(nodes, []);
    simulatePlacement(infos, [{ id: 'Deployment/default/web', template: pod('1'), count: 4 }]);
    expect(infos.map((i) => i.requested.cpu)).toEqual([0, 0]);
  });
});

const ingress = (
  namespace: string,
  name: string,
  rules: { host?: string; path: string; pathType?: string }[],
  o: { created?: string; defaultBackend?: boolean; className?: string } = {},
): IngressObject =>
  ({
    metadata: { name, namespace, ...(o.created ? { creationTimestamp: o.created } : {}) },
    spec: {
      ...(o.className ? { ingressClassName: o.className } : {}),
      ...(o.defaultBackend ? { defaultBackend: { service: { name: 'svc', port: { number: 80 } } } } : {}),
      rules: rules.map((r) => ({
        ...(r.host ? { host: r.host } : {}),
        http: {
          paths: [
            {
              path: r.path,
              pathType: r.pathType ?? 'Prefix',
              backend: { service: { name: 'svc', port: { number: 80 } } },
            },
          ],
        },
      })),
    },
  }) as IngressObject;

describe('Ingress rules two owners claim', () => {
  const theirs = ingress('shop', 'front', [{ host: 'a.example.com', path: '/api' }], {
    created: '2026-01-01T00:00:00Z',
  });
  const cases: { name: string; ours: IngressObject[]; others: IngressObject[]; want: unknown[] }[] = [
    {
      name: 'the same host and Prefix path (element-wise: /api/ is /api): the older, theirs, serves',
      ours: [ingress('web', 'web', [{ host: 'a.example.com', path: '/api/' }])],
      others: [theirs],
      want: [{ host: 'a.example.com', path: '/api/', ours: 'web/web', theirs: 'shop/front', serving: 'shop/front' }],
    },
    {
      name: 'another path on the host, an Exact path beside a Prefix one, another host: no conflict',
      ours: [
        ingress('web', 'web', [
          { host: 'a.example.com', path: '/shop' },
          { host: 'a.example.com', path: '/api', pathType: 'Exact' },
          { host: 'b.example.com', path: '/api' },
        ]),
      ],
      others: [theirs],
      want: [],
    },
    {
      name: 'an Ingress of another class is not served here: no conflict',
      ours: [ingress('web', 'web', [{ host: 'a.example.com', path: '/api' }])],
      others: [{ ...theirs, spec: { ...theirs.spec, ingressClassName: 'nginx' } }],
      want: [],
    },
    {
      name: 'ours is older (it exists already): ours serves',
      ours: [ingress('web', 'web', [{ host: 'a.example.com', path: '/api' }], { created: '2025-01-01T00:00:00Z' })],
      others: [theirs],
      want: [{ host: 'a.example.com', path: '/api', ours: 'web/web', theirs: 'shop/front', serving: 'web/web' }],
    },
    {
      name: 'two defaultBackends: only the oldest counts',
      ours: [ingress('web', 'web', [], { defaultBackend: true })],
      others: [ingress('shop', 'catch-all', [], { defaultBackend: true, created: '2026-01-01T00:00:00Z' })],
      want: [
        { host: '*', path: 'defaultBackend', ours: 'web/web', theirs: 'shop/catch-all', serving: 'shop/catch-all' },
      ],
    },
    {
      name: 'the live copy of our own Ingress is not a conflict',
      ours: [ingress('web', 'web', [{ host: 'a.example.com', path: '/api' }])],
      others: [ingress('web', 'web', [{ host: 'a.example.com', path: '/api' }], { created: '2025-01-01T00:00:00Z' })],
      want: [],
    },
  ];
  it.each(cases)('$name', ({ ours, others, want }) => {
    expect(routeConflicts(ours, others)).toEqual(want);
  });
});

const deployment = (name: string, images: Record<string, string>, replicas = 1): ObjectLike => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: Object.entries(images).map(([c, image]) => ({ name: c, image })) },
    },
  },
});

describe('the images a revision changes', () => {
  it('a bumped tag, an added sidecar, a removed container, a new and a removed workload; unchanged ones not at all', () => {
    expect(
      imageChanges([
        {
          before: deployment('web', { web: 'web:1.0', old: 'log:1' }),
          after: deployment('web', { web: 'web:1.1', proxy: 'envoy:1.30' }),
        },
        { before: deployment('same', { c: 'x:1' }), after: deployment('same', { c: 'x:1' }, 3) },
        { after: deployment('new', { c: 'new:1' }) },
        { before: deployment('gone', { c: 'gone:1' }) },
        { after: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } } },
      ]),
    ).toEqual([
      { kind: 'Deployment', namespace: 'default', name: 'web', container: 'web', from: 'web:1.0', to: 'web:1.1' },
      { kind: 'Deployment', namespace: 'default', name: 'web', container: 'proxy', to: 'envoy:1.30' },
      { kind: 'Deployment', namespace: 'default', name: 'web', container: 'old', from: 'log:1' },
      { kind: 'Deployment', namespace: 'default', name: 'new', container: 'c', to: 'new:1' },
      { kind: 'Deployment', namespace: 'default', name: 'gone', container: 'c', from: 'gone:1' },
    ]);
  });
});

describe('the plan in the PR comment and on a terminal', () => {
  const report = {
    ...diffReport(
      plan({ namespace: 'default', name: 'shop' }, [deployment('web', { web: 'web:1.1' }, 3)], [], { prune: true }),
      'abcdef1234',
    ),
  };
  const checks: PlanChecks = {
    refusals: [],
    nodes: 2,
    scheduling: [
      {
        kind: 'Deployment',
        namespace: 'default',
        name: 'web',
        wanted: 3,
        placed: 2,
        message: '0/2 nodes are available: 2 Insufficient cpu.',
      },
    ],
    ingressConflicts: [
      {
        host: 'a.example.com',
        path: '/api',
        ours: 'default/web',
        theirs: 'shop/front',
        theirApp: 'shop',
        serving: 'shop/front',
      },
    ],
    images: [
      { kind: 'Deployment', namespace: 'default', name: 'web', container: 'web', from: 'web:1.0', to: 'web:1.1' },
    ],
  };

  it('warns of pods that would not be scheduled and of claimed Ingress rules, and tables the images, under the summary', () => {
    const md = renderMarkdown({ ...report, checks }, 'shop');
    const plan = md.slice(md.indexOf('```\n\n') + 5, md.indexOf('<details>'));
    expect(plan).toBe(
      [
        '> [!WARNING]',
        '> - Deployment/web (default): 1 of 3 new pods would not be scheduled: 0/2 nodes are available: 2 Insufficient cpu.',
        '> - Ingress default/web claims host `a.example.com` path `/api` that shop/front (Application shop) claims too: shop/front serves it (the older Ingress)',
        '',
        'Images:',
        '',
        '| Workload | Container | Now | After |',
        '| --- | --- | --- | --- |',
        '| `Deployment/web (default)` | web | `web:1.0` | `web:1.1` |',
        '',
        '',
      ].join('\n'),
    );
  });

  it('says the sync would refuse the revision, with each violation; and what is fine, when it is', () => {
    const md = renderMarkdown(
      {
        ...report,
        checks: {
          ...checks,
          refusals: [
            'apps/web.yaml:3: Deployment/web: violates PodSecurity "baseline:latest": hostPath volumes (volume "root")',
          ],
          scheduling: [{ ...checks.scheduling[0]!, placed: 3 }],
          ingressConflicts: [],
          images: [],
        },
      },
      'shop',
    );
    expect(md).toContain(
      '> [!CAUTION]\n> **The sync would refuse this revision: nothing of it would be applied (1 violation).**\n>\n> - apps/web.yaml:3: Deployment/web',
    );
    expect(md).toContain("- 3 new pods fit on today's 2 nodes\n- no Ingress host or path that someone else serves\n");
  });

  it('prints the plan after the diff on a terminal', () => {
    const text = renderText({ ...report, checks });
    expect(text.split('\n').slice(-5)).toEqual([
      '1 created, 0 changed, 0 pruned at abcdef1',
      'warning: Deployment/web (default): 1 of 3 new pods would not be scheduled: 0/2 nodes are available: 2 Insufficient cpu.',
      'warning: Ingress default/web claims host a.example.com path /api that shop/front (Application shop) claims too: shop/front serves it (the older Ingress)',
      'image: Deployment/web (default) web: web:1.0 -> web:1.1',
      '',
    ]);
  });
});
