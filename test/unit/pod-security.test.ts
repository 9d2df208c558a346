/**
 * Pod Security Standards as Kubernetes' Pod Security Admission words them (its policy checks at
 * "latest"), table-tested: each level, each check, the order, the data-directory rule.
 */
import { describe, expect, it } from 'vitest';
import {
  checkPodSecurity,
  enforcedLevel,
  podSecurityMessage,
  protectedHostPaths,
  type PodSecurityLevel,
} from '../../src/api/pod-security.js';

const c = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: 'busybox', ...extra });
/** A container the restricted level accepts. */
const hardened = (name: string) =>
  c(name, {
    securityContext: {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  });

describe('Pod Security Admission', () => {
  it.each<[string, PodSecurityLevel, Record<string, unknown>, string | undefined]>([
    ['a plain pod at baseline', 'baseline', { containers: [c('app')] }, undefined],
    [
      'hostPath at baseline',
      'baseline',
      { containers: [c('app')], volumes: [{ name: 'root', hostPath: { path: '/' } }] },
      'violates PodSecurity "baseline:latest": hostPath volumes (volume "root")',
    ],
    [
      'two hostPaths',
      'baseline',
      {
        containers: [c('app')],
        volumes: [
          { name: 'a', hostPath: { path: '/a' } },
          { name: 'b', hostPath: { path: '/b' } },
        ],
      },
      'violates PodSecurity "baseline:latest": hostPath volumes (volumes "a", "b")',
    ],
    [
      'host namespaces',
      'baseline',
      { hostNetwork: true, hostPID: true, containers: [c('app')] },
      'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true)',
    ],
    [
      'privileged and a host port, in check order',
      'baseline',
      {
        containers: [
          c('app', { securityContext: { privileged: true }, ports: [{ containerPort: 80, hostPort: 8080 }] }),
        ],
      },
      'violates PodSecurity "baseline:latest": hostPort (container "app" uses hostPort 8080), privileged (container "app" must not set securityContext.privileged=true)',
    ],
    [
      'non-default capabilities',
      'baseline',
      { containers: [c('app', { securityContext: { capabilities: { add: ['NET_ADMIN', 'CHOWN', 'SYS_ADMIN'] } } })] },
      'violates PodSecurity "baseline:latest": non-default capabilities (container "app" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add)',
    ],
    [
      'an unsafe sysctl',
      'baseline',
      {
        securityContext: {
          sysctls: [
            { name: 'net.core.somaxconn', value: '1024' },
            { name: 'net.ipv4.tcp_syncookies', value: '1' },
          ],
        },
        containers: [c('app')],
      },
      'violates PodSecurity "baseline:latest": forbidden sysctls (net.core.somaxconn)',
    ],
    [
      'Unconfined seccomp',
      'baseline',
      { securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [c('app')] },
      'violates PodSecurity "baseline:latest": seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ],
    [
      'an unmasked /proc',
      'baseline',
      { containers: [c('app', { securityContext: { procMount: 'Unmasked' } })] },
      'violates PodSecurity "baseline:latest": procMount (container "app" must not set securityContext.procMount to "Unmasked")',
    ],
    [
      'anything at privileged',
      'privileged',
      {
        hostNetwork: true,
        containers: [c('app', { securityContext: { privileged: true } })],
        volumes: [{ name: 'root', hostPath: { path: '/' } }],
      },
      undefined,
    ],
    [
      'a plain pod at restricted',
      'restricted',
      { containers: [c('app')] },
      'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    ],
    [
      'a hardened pod at restricted',
      'restricted',
      { containers: [hardened('app')], volumes: [{ name: 'cfg', configMap: { name: 'c' } }] },
      undefined,
    ],
    [
      'restricted volume types and root',
      'restricted',
      {
        securityContext: { runAsUser: 0 },
        containers: [hardened('app')],
        volumes: [{ name: 'data', nfs: { server: 's', path: '/' } }],
      },
      'violates PodSecurity "restricted:latest": restricted volume types (volume "data" uses restricted volume type "nfs"), runAsUser=0 (pod must not set runAsUser=0)',
    ],
    [
      'init containers count',
      'restricted',
      { initContainers: [c('init')], containers: [hardened('app')] },
      'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "init" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "init" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "init" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "init" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    ],
  ])('%s', (_, level, spec, message) => {
    const failures = checkPodSecurity(level, {}, spec);
    expect(failures.length ? podSecurityMessage(level, failures) : undefined).toBe(message);
  });

  it.each([
    [undefined, 'baseline', 'baseline'],
    [{ 'pod-security.kubernetes.io/enforce': 'privileged' }, 'baseline', 'privileged'],
    [{ 'pod-security.kubernetes.io/enforce': 'restricted' }, 'privileged', 'restricted'],
    [{ 'pod-security.kubernetes.io/enforce': 'bogus' }, 'privileged', 'restricted'],
  ] as const)('namespace labels %j with default %s → %s', (labels, fallback, level) => {
    expect(enforcedLevel(labels, fallback)).toBe(level);
  });

  it.each([
    ['/', true],
    ['/var', true],
    ['/var/lib/berth', true],
    ['/var/lib/berth/', true],
    ['/var/lib/berth/pki', true],
    ['/var/lib/../lib/berth', true],
    ['/var/lib/berthx', false],
    ['/srv/data', false],
  ])('hostPath %s reaches the data directory: %s', (p, reaches) => {
    expect(protectedHostPaths({ volumes: [{ name: 'v', hostPath: { path: p } }] }, ['/var/lib/berth']).length > 0).toBe(
      reaches,
    );
  });
});
