/**
 * The metrics pipeline's pure parts: /proc parsing (a command with spaces and parentheses), the
 * node's busy time, cores between two readings, metrics.k8s.io objects, kubectl's TARGETS column,
 * the HPA's validation, and which workloads the sync leaves to an HPA.
 */
import { describe, expect, it } from 'vitest';
import { coresBetween, nodeUsage, parseProcStat } from '../../src/agent/usage.js';
import { podMetricsObject } from '../../src/api/metrics.js';
import { autoscaledWorkloads } from '../../src/diff/index.js';
import { normalizeObject } from '../../src/manifest/normalize.js';
import { checkSemantics } from '../../src/manifest/semantic.js';
import { toTable } from '../../src/server/tables.js';

describe('reading /proc', () => {
  it('a stat line whose command holds spaces and parentheses', () => {
    const line =
      '4242 (sh -c (x) y) S 1 4242 4242 0 -1 4194560 120 0 0 0 150 25 7 3 20 0 1 0 12345 4861952 226 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    expect(parseProcStat(line)).toEqual({ pid: 4242, pgrp: 4242, cpuTicks: 150 + 25 + 7 + 3, rssPages: 226 });
  });
  it("the node's busy time leaves idle and iowait out; memory is total less available", () => {
    const stat = 'cpu  100 5 50 1000 40 3 2 1 0 0\ncpu0 50 2 25 500 20 1 1 0 0 0\n';
    const meminfo = 'MemTotal:       16000 kB\nMemFree:         1000 kB\nMemAvailable:    6000 kB\n';
    expect(nodeUsage(stat, meminfo)).toEqual({ cpuNanos: (100 + 5 + 50 + 3 + 2 + 1) * 1e7, memoryBytes: 10000 * 1024 });
  });
  it('cores between two readings; none across a restart', () => {
    expect(coresBetween({ cpuNanos: 0, at: 0 }, { cpuNanos: 1.5e9, at: 2000 })).toBe(0.75);
    expect(coresBetween({ cpuNanos: 5e9, at: 0 }, { cpuNanos: 1e9, at: 2000 })).toBeUndefined();
    expect(coresBetween({ cpuNanos: 0, at: 1000 }, { cpuNanos: 1e9, at: 1000 })).toBeUndefined();
  });
});

describe('metrics.k8s.io objects', () => {
  it('as metrics-server writes them: nanocores, Ki, a window in seconds', () => {
    const o = podMetricsObject(
      {
        namespace: 'shop',
        name: 'web-1',
        uid: 'u',
        timestamp: Date.parse('2026-12-07T10:00:05.400Z'),
        windowMs: 10_012,
        containers: [{ name: 'app', cpuCores: 0.2505, memoryBytes: 20 * 1024 * 1024 }],
      },
      { app: 'web' },
    );
    expect(o).toMatchObject({
      kind: 'PodMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name: 'web-1', namespace: 'shop', labels: { app: 'web' } },
      timestamp: '2026-12-07T10:00:05Z',
      window: '10.012s',
      containers: [{ name: 'app', usage: { cpu: '250500000n', memory: '20480Ki' } }],
    });
  });
});

describe('kubectl get hpa', () => {
  const hpa = (metrics: unknown[], current: unknown[] = []) => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: new Date().toISOString() },
    spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 10, metrics },
    status: { currentReplicas: 3, currentMetrics: current },
  });
  const cpu = { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } };
  const rps = {
    type: 'Object',
    object: {
      describedObject: { kind: 'Ingress', name: 'main' },
      metric: { name: 'requests_per_second' },
      target: { type: 'Value', value: '100' },
    },
  };
  it.each([
    { metrics: [cpu], current: [], targets: 'cpu: <unknown>/50%' },
    {
      metrics: [cpu],
      current: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 45 } } }],
      targets: 'cpu: 45%/50%',
    },
    {
      metrics: [cpu, rps],
      current: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 45 } } },
        { type: 'Object', object: { current: { value: '120' } } },
      ],
      targets: 'cpu: 45%/50%, 120/100',
    },
    { metrics: [cpu, rps, cpu], current: [], targets: 'cpu: <unknown>/50%, <unknown>/100 + 1 more...' },
  ])('TARGETS $targets', (c) => {
    const table = toTable('HorizontalPodAutoscaler', [hpa(c.metrics, c.current) as never], {});
    expect(table.columnDefinitions.map((d) => d.name)).toEqual([
      'Name',
      'Reference',
      'Targets',
      'MinPods',
      'MaxPods',
      'Replicas',
      'Age',
    ]);
    expect(table.rows[0]!.cells.slice(0, 6)).toEqual(['web', 'Deployment/web', c.targets, 2, 10, 3]);
  });
});

describe('older HorizontalPodAutoscaler versions, as autoscaling/v2', () => {
  const convert = (o: Record<string, unknown>) =>
    normalizeObject(o, { strict: false, defaultNamespace: 'default', context: 'manifest' });
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };
  it('autoscaling/v1 (still served: no warning): its CPU percentage as a Resource metric', () => {
    const r = convert({
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web' },
      spec: { scaleTargetRef: ref, maxReplicas: 4, targetCPUUtilizationPercentage: 60 },
    });
    expect(r.findings).toEqual([]);
    expect(r.object).toMatchObject({
      apiVersion: 'autoscaling/v2',
      spec: {
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
        ],
      },
    });
  });
  it('autoscaling/v2beta1 (removed in 1.25): its targets and metric names in v2 shapes, with a warning', () => {
    const r = convert({
      apiVersion: 'autoscaling/v2beta1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web' },
      spec: {
        scaleTargetRef: ref,
        maxReplicas: 4,
        metrics: [
          { type: 'Resource', resource: { name: 'memory', targetAverageValue: '200Mi' } },
          { type: 'Pods', pods: { metricName: 'requests_in_flight', targetAverageValue: '10' } },
          {
            type: 'Object',
            object: {
              target: { kind: 'Ingress', name: 'main' },
              metricName: 'requests_per_second',
              targetValue: '100',
            },
          },
        ],
      },
    });
    expect(r.findings.map((f) => f.reason)).toEqual(['Deprecated']);
    expect((r.object as unknown as { spec: { metrics: unknown[] } }).spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '200Mi' } } },
      {
        type: 'Pods',
        pods: { metric: { name: 'requests_in_flight' }, target: { type: 'AverageValue', averageValue: '10' } },
      },
      {
        type: 'Object',
        object: {
          describedObject: { kind: 'Ingress', name: 'main' },
          metric: { name: 'requests_per_second' },
          target: { type: 'Value', value: '100' },
        },
      },
    ]);
  });
});

describe('HorizontalPodAutoscaler validation', () => {
  const check = (spec: unknown) =>
    checkSemantics(
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web' }, spec } as never,
      true,
    ).map((f) => `${f.path.join('.')}: ${f.message}`);
  it.each([
    {
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'w' }, minReplicas: 5, maxReplicas: 3 },
      error: 'spec.maxReplicas',
    },
    { spec: { scaleTargetRef: { kind: 'DaemonSet', name: 'w' }, maxReplicas: 3 }, error: 'spec.scaleTargetRef.kind' },
    {
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'w' }, maxReplicas: 3, metrics: [{ type: 'Resource' }] },
      error: 'spec.metrics.0.resource',
    },
    {
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'w' },
        maxReplicas: 3,
        metrics: [{ type: 'Pods', pods: { metric: { name: 'x' }, target: { type: 'Value', value: 1 } } }],
      },
      error: 'spec.metrics.0.pods.target.type',
    },
    {
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'w' },
        maxReplicas: 3,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization' } } }],
      },
      error: 'spec.metrics.0.resource.target.averageUtilization',
    },
  ])('refuses: $error', (c) => {
    expect(check(c.spec).join('\n')).toContain(c.error);
  });
  it('accepts a valid one', () => {
    expect(
      check({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'w' },
        minReplicas: 1,
        maxReplicas: 3,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        ],
      }),
    ).toEqual([]);
  });
});

describe('the sync and the HPA', () => {
  const deployment = (replicas?: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { ...(replicas !== undefined ? { replicas } : {}), template: {} },
  });
  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web-hpa', namespace: 'shop' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, maxReplicas: 5 },
  };
  it("an HPA's target keeps its live replicas; Git setting them is reported", () => {
    expect(autoscaledWorkloads([deployment(2), hpa])).toEqual({
      ignores: [
        { group: 'apps', kind: 'Deployment', name: 'web', namespace: 'shop', jsonPointers: ['/spec/replicas'] },
      ],
      overridden: ['Deployment shop/web (replicas: 2 in Git) is scaled by HorizontalPodAutoscaler shop/web-hpa'],
    });
    expect(autoscaledWorkloads([deployment(), hpa]).overridden).toEqual([]);
    expect(autoscaledWorkloads([deployment(2)])).toEqual({ ignores: [], overridden: [] });
  });
});
