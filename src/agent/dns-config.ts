/**
 * A pod's /etc/resolv.conf and /etc/hosts as the kubelet writes them (pkg/kubelet/network/dns and
 * the managed hosts file). dnsPolicy: ClusterFirst (the default) points at the node's cluster DNS
 * with the search path `<ns>.svc.<domain> svc.<domain> <domain>` and `ndots:5`; a hostNetwork pod
 * gets that only with ClusterFirstWithHostNet; Default is the node's own resolv.conf; None is
 * dnsConfig alone. dnsConfig's nameservers and searches are added, its options override by name.
 * With no cluster DNS on the node, ClusterFirst falls back to Default, as the kubelet does.
 * Pure: the agent hands the result to the runtime.
 */
import type { PodObject } from './resolve.js';

export interface PodDns {
  nameservers: string[];
  searches: string[];
  options: string[];
}

export interface NodeDns {
  /** The cluster DNS address pods on this node use (absent: the node serves none pods can reach). */
  nameserver?: string;
  domain: string;
  /** The node's own resolv.conf, for Default and the host's search domains. */
  hostResolvConf: string;
}

/** Kubernetes' limits (kubelet validation): 3 nameservers, 32 search domains. */
const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;

export function parseResolvConf(text: string): PodDns {
  const out: PodDns = { nameservers: [], searches: [], options: [] };
  for (const line of text.split('\n')) {
    const [key, ...values] = line
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (key === 'nameserver' && values[0]) out.nameservers.push(values[0]);
    else if (key === 'search' || key === 'domain') out.searches = values;
    else if (key === 'options') out.options.push(...values);
  }
  return out;
}

/** The pod's resolver settings; undefined when the pod simply uses the node's (Default, nothing added). */
export function podDns(pod: PodObject, node: NodeDns): PodDns | undefined {
  const spec = pod.spec ?? ({} as NonNullable<PodObject['spec']>);
  const policy = spec.dnsPolicy ?? 'ClusterFirst';
  const host = parseResolvConf(node.hostResolvConf);
  const clusterFirst =
    node.nameserver !== undefined &&
    (policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !spec.hostNetwork));
  let base: PodDns;
  if (policy === 'None') base = { nameservers: [], searches: [], options: [] };
  else if (clusterFirst) {
    const ns = pod.metadata.namespace ?? 'default';
    base = {
      nameservers: [node.nameserver!],
      searches: [`${ns}.svc.${node.domain}`, `svc.${node.domain}`, node.domain, ...host.searches],
      options: ['ndots:5'],
    };
  } else if (!spec.dnsConfig) return undefined;
  else base = host;
  const config = spec.dnsConfig ?? {};
  const options = new Map(base.options.map((o) => [o.split(':')[0]!, o]));
  for (const o of config.options ?? [])
    if (o.name) options.set(o.name, o.value !== undefined ? `${o.name}:${o.value}` : o.name);
  return {
    nameservers: unique([...base.nameservers, ...(config.nameservers ?? [])]).slice(0, MAX_NAMESERVERS),
    searches: unique([...base.searches, ...(config.searches ?? [])]).slice(0, MAX_SEARCHES),
    options: [...options.values()],
  };
}

export function renderResolvConf(dns: PodDns): string {
  return (
    [
      ...(dns.searches.length ? [`search ${dns.searches.join(' ')}`] : []),
      ...dns.nameservers.map((n) => `nameserver ${n}`),
      ...(dns.options.length ? [`options ${dns.options.join(' ')}`] : []),
    ].join('\n') + '\n'
  );
}

/** The kubelet's managed /etc/hosts: localhost, the pod's own name (FQDN when it has a subdomain), hostAliases. */
export function podHosts(pod: PodObject, podIP: string, domain: string): string {
  const spec = pod.spec ?? ({} as NonNullable<PodObject['spec']>);
  const hostname = spec.hostname ?? pod.metadata.name;
  const ns = pod.metadata.namespace ?? 'default';
  const self = spec.subdomain
    ? `${podIP}\t${hostname}.${spec.subdomain}.${ns}.svc.${domain}\t${hostname}`
    : `${podIP}\t${hostname}`;
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    self,
  ];
  const aliases = hostAliasesOf(pod);
  if (aliases.length)
    lines.push('', '# Entries added by HostAliases.', ...aliases.map((a) => `${a.ip}\t${a.hostnames.join('\t')}`));
  return `${lines.join('\n')}\n`;
}

/** spec.hostAliases that name an address and at least one host. */
export function hostAliasesOf(pod: PodObject): { ip: string; hostnames: string[] }[] {
  return (pod.spec?.hostAliases ?? [])
    .filter((a) => a.ip && a.hostnames?.length)
    .map((a) => ({ ip: a.ip!, hostnames: a.hostnames! }));
}

const unique = (list: string[]): string[] => [...new Set(list)];
