/**
 * Cluster DNS records, as CoreDNS' kubernetes plugin serves them, from Services and Endpoints:
 *   <svc>.<ns>.svc.<domain>            A: the ClusterIP; headless: the ready endpoints' addresses;
 *                                      ExternalName: a CNAME to its externalName
 *   <host>.<svc>.<ns>.svc.<domain>     A of one endpoint of a headless Service: its hostname (a
 *                                      StatefulSet's pod-0) or its address with dashes (10-0-0-1)
 *   _<port>._<proto>.<svc>.<ns>.svc…   SRV for named ports (port and target); <svc>… SRV: all ports
 *   <a-b-c-d>.<ns>.pod.<domain>        A: a.b.c.d (CoreDNS' "pods insecure")
 *   <reverse>.in-addr.arpa             PTR: a ClusterIP's Service, a named endpoint's name
 * Pure: an index built from the cluster view, asked one question at a time. Names outside the
 * cluster domain (and reverse names it does not know) are the forwarder's.
 */
import { addressOfReverseName } from '../api/cidr.js';
import { clusterIPOf, isHeadless, type ServiceObject } from '../api/services.js';
import type { Endpoints } from '../api/types.gen.js';

/** CoreDNS' kubernetes plugin answers with a TTL of 5 seconds. */
export const RECORD_TTL = 5;
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

export type DnsRecord =
  | { type: 'A'; name: string; ttl: number; data: string }
  | { type: 'CNAME'; name: string; ttl: number; data: string }
  | { type: 'PTR'; name: string; ttl: number; data: string }
  | { type: 'SRV'; name: string; ttl: number; data: { priority: number; weight: number; port: number; target: string } }
  | {
      type: 'SOA';
      name: string;
      ttl: number;
      data: {
        mname: string;
        rname: string;
        serial: number;
        refresh: number;
        retry: number;
        expire: number;
        minimum: number;
      };
    };

export type DnsAnswer =
  | {
      kind: 'answer';
      rcode: 'NOERROR' | 'NXDOMAIN';
      answers: DnsRecord[];
      additionals: DnsRecord[];
      authorities: DnsRecord[];
      /** An external CNAME target whose addresses are to be looked up and added. */ chase?: string;
    }
  | { kind: 'forward' };

type ServiceRecord = ServiceObject & { metadata: { name: string; namespace?: string } };
type EndpointsRecord = Pick<Endpoints, 'subsets'> & { metadata: { name: string; namespace?: string } };

interface Srv {
  port: number;
  target: string;
}

/** The records of one cluster view, by lower-case name without the trailing dot. */
export class DnsIndex {
  private readonly a = new Map<string, string[]>();
  private readonly cname = new Map<string, string>();
  private readonly srv = new Map<string, Srv[]>();
  private readonly ptr = new Map<string, string[]>();
  /** Names that exist with no record of their own (empty non-terminals: `ns.svc.domain`). */
  private readonly names = new Set<string>();

  constructor(
    readonly domain: string,
    services: Iterable<ServiceRecord>,
    endpoints: ReadonlyMap<string, EndpointsRecord>,
  ) {
    this.domain = domain.toLowerCase().replace(/\.$/, '');
    for (const zone of [this.domain, `svc.${this.domain}`, `pod.${this.domain}`]) this.names.add(zone);
    for (const s of services)
      this.addService(s, endpoints.get(`${s.metadata.namespace ?? 'default'}/${s.metadata.name}`));
  }

  private addService(s: ServiceRecord, endpoints: EndpointsRecord | undefined): void {
    const ns = s.metadata.namespace ?? 'default';
    const base = `${s.metadata.name}.${ns}.svc.${this.domain}`.toLowerCase();
    this.names.add(`${ns}.svc.${this.domain}`.toLowerCase());
    this.names.add(`${ns}.pod.${this.domain}`.toLowerCase());
    if (s.spec?.type === 'ExternalName') {
      if (s.spec.externalName) this.cname.set(base, s.spec.externalName.toLowerCase().replace(/\.$/, ''));
      return;
    }
    const ip = clusterIPOf(s);
    if (ip) {
      this.push(this.a, base, ip);
      this.push(this.ptr, ip, base);
      for (const p of s.spec?.ports ?? [])
        this.addSrv(base, p.name, p.protocol ?? 'TCP', { port: p.port, target: base });
      return;
    }
    if (!isHeadless(s)) return;
    for (const subset of endpoints?.subsets ?? []) {
      for (const address of subset.addresses ?? []) {
        const target = `${(address.hostname ?? address.ip.replace(/\./g, '-')).toLowerCase()}.${base}`;
        this.push(this.a, base, address.ip);
        this.push(this.a, target, address.ip);
        if (address.hostname) this.push(this.ptr, address.ip, target);
        for (const p of subset.ports ?? []) this.addSrv(base, p.name, p.protocol ?? 'TCP', { port: p.port, target });
      }
    }
  }

  private addSrv(base: string, portName: string | undefined, protocol: string, record: Srv): void {
    const all = this.srv.get(base) ?? [];
    if (!all.some((r) => r.port === record.port && r.target === record.target)) all.push(record);
    this.srv.set(base, all);
    if (portName) {
      const named = `_${portName}._${protocol}.${base}`.toLowerCase();
      this.names.add(`_${protocol}.${base}`.toLowerCase());
      this.srv.set(named, [...(this.srv.get(named) ?? []), record]);
    }
  }

  private push(map: Map<string, string[]>, key: string, value: string): void {
    const list = map.get(key);
    if (!list) map.set(key, [value]);
    else if (!list.includes(value)) list.push(value);
  }

  /** The answer to one question (name and type as they arrived). */
  answer(name: string, type: string): DnsAnswer {
    const q = name.toLowerCase().replace(/\.$/, '');
    if (q.endsWith('.in-addr.arpa')) return this.reverse(name, q, type);
    if (q !== this.domain && !q.endsWith(`.${this.domain}`)) return { kind: 'forward' };
    const answers: DnsRecord[] = [];
    const additionals: DnsRecord[] = [];
    const cname = this.cname.get(q);
    if (cname) {
      answers.push({ type: 'CNAME', name, ttl: RECORD_TTL, data: cname });
      if (type === 'CNAME') return this.found(answers, additionals);
      // A target inside the cluster is answered here; one outside is looked up by the forwarder.
      const inside = cname === this.domain || cname.endsWith(`.${this.domain}`);
      if (!inside) return { kind: 'answer', rcode: 'NOERROR', answers, additionals, authorities: [], chase: cname };
      const followed = this.answer(cname, type);
      if (followed.kind === 'answer') answers.push(...followed.answers);
      return this.found(answers, additionals);
    }
    const pod = this.podAddress(q);
    if ((type === 'A' || type === 'ANY') && (this.a.has(q) || pod)) {
      for (const ip of this.a.get(q) ?? [pod!]) answers.push({ type: 'A', name, ttl: RECORD_TTL, data: ip });
    }
    const srv = type === 'SRV' || type === 'ANY' ? this.srv.get(q) : undefined;
    if (srv) {
      // CoreDNS' weights: 100 shared by the records of one priority.
      const weight = Math.floor(100 / srv.length);
      for (const r of srv) {
        answers.push({
          type: 'SRV',
          name,
          ttl: RECORD_TTL,
          data: { priority: 0, weight, port: r.port, target: r.target },
        });
        for (const ip of this.a.get(r.target) ?? [])
          if (!additionals.some((x) => x.name === r.target && x.data === ip))
            additionals.push({ type: 'A', name: r.target, ttl: RECORD_TTL, data: ip });
      }
    }
    if (answers.length) return this.found(answers, additionals);
    const exists = this.a.has(q) || this.srv.has(q) || this.names.has(q) || Boolean(pod);
    return {
      kind: 'answer',
      rcode: exists ? 'NOERROR' : 'NXDOMAIN',
      answers: [],
      additionals: [],
      authorities: [this.soa()],
    };
  }

  private reverse(name: string, q: string, type: string): DnsAnswer {
    const ip = addressOfReverseName(q);
    const names = ip ? this.ptr.get(ip) : undefined;
    if (!names) return { kind: 'forward' };
    if (type !== 'PTR' && type !== 'ANY')
      return { kind: 'answer', rcode: 'NOERROR', answers: [], additionals: [], authorities: [this.soa()] };
    return this.found(
      names.map((data) => ({ type: 'PTR' as const, name, ttl: RECORD_TTL, data })),
      [],
    );
  }

  /** `10-1-2-3.<ns>.pod.<domain>` → 10.1.2.3. */
  private podAddress(q: string): string | undefined {
    const m = /^([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})\.([a-z0-9-]+)\.pod\./.exec(q);
    if (!m || q !== `${m[0]}${this.domain}`) return undefined;
    const octets = m.slice(1, 5).map(Number);
    return octets.every((o) => o <= 255) ? octets.join('.') : undefined;
  }

  private found(answers: DnsRecord[], additionals: DnsRecord[]): Extract<DnsAnswer, { kind: 'answer' }> {
    return { kind: 'answer', rcode: 'NOERROR', answers, additionals, authorities: [] };
  }

  /** The zone's SOA, as CoreDNS writes it, in negative answers. */
  soa(): DnsRecord {
    return {
      type: 'SOA',
      name: this.domain,
      ttl: RECORD_TTL,
      data: {
        mname: `ns.dns.${this.domain}`,
        rname: `hostmaster.${this.domain}`,
        serial: 1,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: RECORD_TTL,
      },
    };
  }
}
