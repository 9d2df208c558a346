/**
 * The route table against the Kubernetes Ingress documentation's path-matching examples
 * (concepts/services-networking/ingress, "Examples"), plus hosts, wildcards, defaultBackend,
 * classes and TLS lookup.
 */
import { describe, expect, it } from 'vitest';
import { buildRouteTable, matchRoute, normalizeHost, tlsFor, type IngressObject } from '../../src/network/routes.js';

type PathSpec = { path: string; pathType: 'Exact' | 'Prefix' | 'ImplementationSpecific' };
const svcOf = (p: PathSpec) => `${p.pathType}:${p.path}`;
function ingress(
  name: string,
  spec: IngressObject['spec'],
  created = '2026-01-01T00:00:00Z',
  extra: Record<string, unknown> = {},
): IngressObject {
  return { metadata: { name, namespace: 'default', creationTimestamp: created, ...extra }, spec } as IngressObject;
}
function table(paths: PathSpec[], host?: string) {
  return buildRouteTable([
    ingress('i', {
      rules: [
        {
          ...(host ? { host } : {}),
          http: {
            paths: paths.map((p) => ({
              ...p,
              backend: { service: { name: svcOf(p), port: { number: 80 } } },
            })) as never,
          },
        },
      ],
    }),
  ]);
}

// kind, paths, request, the rule that matches (undefined: none, the default backend's)
const DOCS: [string, PathSpec[], string, string | undefined][] = [
  ['Prefix', [{ path: '/', pathType: 'Prefix' }], '/anything/at/all', 'Prefix:/'],
  ['Exact', [{ path: '/foo', pathType: 'Exact' }], '/foo', 'Exact:/foo'],
  ['Exact', [{ path: '/foo', pathType: 'Exact' }], '/bar', undefined],
  ['Exact', [{ path: '/foo', pathType: 'Exact' }], '/foo/', undefined],
  ['Exact', [{ path: '/foo/', pathType: 'Exact' }], '/foo', undefined],
  ['Prefix', [{ path: '/foo', pathType: 'Prefix' }], '/foo', 'Prefix:/foo'],
  ['Prefix', [{ path: '/foo', pathType: 'Prefix' }], '/foo/', 'Prefix:/foo'],
  ['Prefix', [{ path: '/foo/', pathType: 'Prefix' }], '/foo', 'Prefix:/foo/'],
  ['Prefix', [{ path: '/foo/', pathType: 'Prefix' }], '/foo/', 'Prefix:/foo/'],
  ['Prefix', [{ path: '/aaa/bb', pathType: 'Prefix' }], '/aaa/bbb', undefined],
  ['Prefix', [{ path: '/aaa/bbb', pathType: 'Prefix' }], '/aaa/bbb', 'Prefix:/aaa/bbb'],
  ['Prefix', [{ path: '/aaa/bbb/', pathType: 'Prefix' }], '/aaa/bbb', 'Prefix:/aaa/bbb/'],
  ['Prefix', [{ path: '/aaa/bbb', pathType: 'Prefix' }], '/aaa/bbb/', 'Prefix:/aaa/bbb'],
  ['Prefix', [{ path: '/aaa/bbb', pathType: 'Prefix' }], '/aaa/bbb/ccc', 'Prefix:/aaa/bbb'],
  ['Prefix', [{ path: '/aaa/bbb', pathType: 'Prefix' }], '/aaa/bbbxyz', undefined],
  [
    'Prefix',
    [
      { path: '/', pathType: 'Prefix' },
      { path: '/aaa', pathType: 'Prefix' },
    ],
    '/aaa/ccc',
    'Prefix:/aaa',
  ],
  [
    'Prefix',
    [
      { path: '/', pathType: 'Prefix' },
      { path: '/aaa', pathType: 'Prefix' },
      { path: '/aaa/bbb', pathType: 'Prefix' },
    ],
    '/aaa/bbb',
    'Prefix:/aaa/bbb',
  ],
  [
    'Prefix',
    [
      { path: '/', pathType: 'Prefix' },
      { path: '/aaa', pathType: 'Prefix' },
      { path: '/aaa/bbb', pathType: 'Prefix' },
    ],
    '/ccc',
    'Prefix:/',
  ],
  ['Prefix', [{ path: '/aaa', pathType: 'Prefix' }], '/ccc', undefined],
  [
    'Mixed',
    [
      { path: '/foo', pathType: 'Prefix' },
      { path: '/foo', pathType: 'Exact' },
    ],
    '/foo',
    'Exact:/foo',
  ],
  [
    'Mixed',
    [
      { path: '/foo', pathType: 'Exact' },
      { path: '/foo', pathType: 'Prefix' },
    ],
    '/foo/x',
    'Prefix:/foo',
  ],
  [
    'ImplementationSpecific (= Prefix)',
    [{ path: '/app', pathType: 'ImplementationSpecific' }],
    '/app/x',
    'ImplementationSpecific:/app',
  ],
  ['ImplementationSpecific (= Prefix)', [{ path: '/app', pathType: 'ImplementationSpecific' }], '/apps', undefined],
];

describe('Ingress path matching (the Kubernetes documentation examples)', () => {
  it.each(DOCS)('%s %j: request %s → %s', (_kind, paths, request, expected) => {
    expect(matchRoute(table(paths), 'example.com', request)?.backend.service).toBe(expected);
  });
});

describe('hosts', () => {
  const routes = buildRouteTable([
    ingress('exact', {
      rules: [
        {
          host: 'foo.bar.com',
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'exact', port: { number: 80 } } } }],
          },
        },
      ],
    }),
    ingress('wild', {
      rules: [
        {
          host: '*.bar.com',
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'wild', port: { name: 'http' } } } }],
          },
        },
      ],
    }),
    ingress('any', {
      rules: [
        {
          http: {
            paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'any', port: { number: 80 } } } }],
          },
        },
      ],
    }),
    ingress('dflt', { defaultBackend: { service: { name: 'fallback', port: { number: 80 } } } }),
  ]);
  it.each([
    ['foo.bar.com', '/', 'exact'],
    ['FOO.bar.com', '/x', 'exact'],
    ['baz.bar.com', '/', 'wild'],
    // A wildcard covers exactly one label.
    ['baz.foo.bar.com', '/api/v1', 'any'],
    ['bar.com', '/', 'fallback'],
    ['other.example', '/api', 'any'],
    ['other.example', '/', 'fallback'],
  ])('%s%s → %s', (host, path, service) => {
    expect(matchRoute(routes, normalizeHost(host), path)?.backend.service).toBe(service);
  });
  it('keeps a backend port by name', () => {
    expect(matchRoute(routes, 'x.bar.com', '/')?.backend.port).toBe('http');
  });
  it('serves only its class (berth, or none) and lets the older Ingress win a tie', () => {
    const t = buildRouteTable([
      ingress(
        'newer',
        {
          rules: [
            {
              host: 'a.com',
              http: {
                paths: [
                  { path: '/', pathType: 'Prefix', backend: { service: { name: 'newer', port: { number: 80 } } } },
                ],
              },
            },
          ],
        },
        '2026-02-01T00:00:00Z',
      ),
      ingress(
        'older',
        {
          rules: [
            {
              host: 'a.com',
              http: {
                paths: [
                  { path: '/', pathType: 'Prefix', backend: { service: { name: 'older', port: { number: 80 } } } },
                ],
              },
            },
          ],
        },
        '2026-01-01T00:00:00Z',
      ),
      ingress('nginx', {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'b.com',
            http: {
              paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'n', port: { number: 80 } } } }],
            },
          },
        ],
      }),
      ingress('berth', {
        ingressClassName: 'berth',
        rules: [
          {
            host: 'c.com',
            http: {
              paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'c', port: { number: 80 } } } }],
            },
          },
        ],
      }),
    ]);
    expect(matchRoute(t, 'a.com', '/')?.backend.service).toBe('older');
    expect(matchRoute(t, 'b.com', '/')).toBeUndefined();
    expect(matchRoute(t, 'c.com', '/')?.backend.service).toBe('c');
  });
  it('finds TLS certificates by SNI name, exact before wildcard', () => {
    const t = buildRouteTable([
      ingress('tls', {
        tls: [
          { hosts: ['a.example.com'], secretName: 'a-cert' },
          { hosts: ['*.example.com'], secretName: 'wild-cert' },
        ],
        rules: [],
      }),
    ]);
    expect(tlsFor(t, 'a.example.com')?.secretName).toBe('a-cert');
    expect(tlsFor(t, 'b.example.com')?.secretName).toBe('wild-cert');
    expect(tlsFor(t, 'b.other.com')).toBeUndefined();
  });
});
