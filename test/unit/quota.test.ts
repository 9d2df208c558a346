/** ResourceQuota usage and verdicts, and LimitRange defaults and bounds, in Kubernetes' words. */
import { describe, expect, it } from 'vitest';
import { parseQuantity } from '../../src/api/quantity.js';
import {
  applyLimitRangeDefaults,
  exceededQuota,
  kindUsesResource,
  limitRangeViolations,
  missingForQuota,
  quotaStatus,
  usageOf,
  type LimitRangeItem,
} from '../../src/api/quota.js';

const pod = (containers: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'team' },
  spec: { containers, ...extra },
});
const c = (name: string, requests?: Record<string, string>, limits?: Record<string, string>) => ({
  name,
  image: 'i',
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
});
const quota = (hard: Record<string, string>) => ({ metadata: { name: 'compute' }, spec: { hard } });
const show = (u: Record<string, bigint>) =>
  quotaStatus(quota(Object.fromEntries(Object.keys(u).map((k) => [k, '0']))), u).used;

describe('quota usage', () => {
  it.each([
    ['pods', 'Pod', true],
    ['requests.cpu', 'Pod', true],
    ['limits.memory', 'Pod', true],
    ['ephemeral-storage', 'Pod', true],
    ['count/pods', 'Pod', true],
    ['requests.storage', 'Pod', false],
    ['services', 'Service', true],
    ['services.nodeports', 'Service', true],
    ['services.loadbalancers', 'Service', true],
    ['pods', 'Service', false],
    ['persistentvolumeclaims', 'PersistentVolumeClaim', true],
    ['requests.storage', 'PersistentVolumeClaim', true],
    ['configmaps', 'ConfigMap', true],
    ['secrets', 'Secret', true],
    ['resourcequotas', 'ResourceQuota', true],
    ['count/deployments.apps', 'Deployment', true],
    ['count/deployments', 'Deployment', false],
    ['deployments', 'Deployment', false],
  ])('a quota on %s is counted from %s objects: %s', (resource, kind, uses) => {
    const plural = `${kind.toLowerCase()}s`;
    const group = kind === 'Deployment' ? 'apps' : '';
    expect(kindUsesResource(resource, { kind, plural, group })).toBe(uses);
  });
  it('counts a pod: requests (init containers by their largest), limits, pods', () => {
    const p = pod([c('a', { cpu: '250m', memory: '64Mi' }, { cpu: '500m' }), c('b', { cpu: '250m' })], {
      initContainers: [c('init', { cpu: '1' })],
    });
    const u = usageOf(p, 'pods');
    expect({
      pods: u.pods,
      cpu: u['requests.cpu'],
      limits: u['limits.cpu'],
      memory: u['requests.memory'],
      count: u['count/pods'],
    }).toEqual({
      pods: 1_000_000_000n,
      cpu: 1_000_000_000n,
      limits: 500_000_000n,
      memory: 64n * 1024n * 1024n * 1_000_000_000n,
      count: 1_000_000_000n,
    });
  });
  it('a finished pod uses nothing; a NodePort Service uses its ports', () => {
    expect(usageOf({ ...pod([c('a', { cpu: '1' })]), status: { phase: 'Succeeded' } }, 'pods')).toEqual({});
    const svc = usageOf(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's' },
        spec: { type: 'NodePort', ports: [{ port: 80 }, { port: 443 }] },
      },
      'services',
    );
    expect(show(svc)).toMatchObject({ services: '1', 'services.nodeports': '2', 'count/services': '1' });
    expect(
      show(usageOf({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }, 'deployments')),
    ).toEqual({ 'count/deployments.apps': '1' });
  });

  it.each([
    [{ pods: '2' }, { pods: '1' }, { pods: '1' }, undefined],
    [
      { pods: '2' },
      { pods: '2' },
      { pods: '1' },
      'exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2',
    ],
    [
      { 'requests.cpu': '1', 'requests.memory': '1Gi' },
      { 'requests.cpu': '800m', 'requests.memory': '1Gi' },
      { 'requests.cpu': '500m', 'requests.memory': '1Mi' },
      'exceeded quota: compute, requested: requests.cpu=500m,requests.memory=1Mi, used: requests.cpu=800m,requests.memory=1Gi, limited: requests.cpu=1,requests.memory=1Gi',
    ],
    [{ 'requests.cpu': '1' }, {}, { pods: '5' }, undefined],
  ])('hard %j, used %j, asking %j', (hard, used, asking, message) => {
    const q = (m: Record<string, string>) =>
      Object.fromEntries(Object.entries(m).map(([k, v]) => [k, parseQuantity(v).nanos]));
    expect(exceededQuota(quota(hard), q(used), q(asking))).toBe(message);
  });

  it('a quota on requests or limits needs every container to state them', () => {
    expect(
      missingForQuota(quota({ 'limits.cpu': '2', 'requests.memory': '1Gi' }), pod([c('a', { memory: '1Mi' }), c('b')])),
    ).toBe('failed quota: compute: must specify requests.memory for: b; limits.cpu for: a,b');
    expect(missingForQuota(quota({ pods: '2' }), pod([c('a')]))).toBeUndefined();
  });
});

describe('limit ranges', () => {
  const range: LimitRangeItem[] = [
    {
      type: 'Container',
      default: { cpu: '500m', memory: '256Mi' },
      defaultRequest: { cpu: '100m' },
      max: { cpu: '1' },
      min: { memory: '64Mi' },
    },
  ];
  it('defaults requests and limits a container leaves out', () => {
    const p = applyLimitRangeDefaults(pod([c('a'), c('b', { memory: '128Mi' }, { cpu: '800m' })]), range);
    expect(p.spec.containers.map((x: any) => x.resources)).toEqual([
      { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '256Mi' } },
      { requests: { memory: '128Mi', cpu: '100m' }, limits: { cpu: '800m', memory: '256Mi' } },
    ]);
    expect(limitRangeViolations(p, range)).toEqual([]);
  });
  it.each([
    [
      pod([c('a', { cpu: '100m', memory: '128Mi' }, { cpu: '2', memory: '128Mi' })]),
      'maximum cpu usage per Container is 1, but limit is 2',
    ],
    [
      pod([c('a', { cpu: '100m', memory: '32Mi' }, { cpu: '1', memory: '128Mi' })]),
      'minimum memory usage per Container is 64Mi, but request is 32Mi',
    ],
    [
      pod([c('a', { memory: '128Mi' }, { memory: '128Mi' })]),
      'maximum cpu usage per Container is 1.  No limit is specified',
    ],
  ])('refuses %#', (p, message) => {
    expect(limitRangeViolations(p, range)).toEqual([message]);
  });
  it('checks the limit-to-request ratio', () => {
    const ratio: LimitRangeItem[] = [{ type: 'Container', maxLimitRequestRatio: { cpu: '2' } }];
    expect(limitRangeViolations(pod([c('a', { cpu: '100m' }, { cpu: '300m' })]), ratio)).toEqual([
      'cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000',
    ]);
    expect(limitRangeViolations(pod([c('a', { cpu: '100m' }, { cpu: '200m' })]), ratio)).toEqual([]);
  });
});
