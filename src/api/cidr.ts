/**
 * IPv4 ranges as the service CIDR needs them: parse, contain, the n-th address, and the names
 * reverse lookups (PTR) use. IPv6 service ranges are refused by name (Berth is single-stack IPv4).
 */
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
/** A dotted-quad IPv4 address (as node:net's isIPv4, which a pure module does not import). */
export const isIPv4 = (s: string): boolean => IPV4.test(s);

export interface Cidr {
  /** As given, normalised to its network address: `10.96.0.0/12`. */
  text: string;
  /** The network address as an unsigned 32-bit number. */
  base: number;
  bits: number;
  /** How many addresses the range holds. */
  size: number;
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.96.0.0/12`; throws a message naming what is wrong. */
export function parseCidr(text: string): Cidr {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(text.trim());
  if (!m) throw new Error(`${JSON.stringify(text)} is not a CIDR (address/prefix, e.g. 10.96.0.0/12)`);
  const [, address, prefix] = m;
  if (address!.includes(':'))
    throw new Error(`${text}: IPv6 service ranges are not supported (Berth's Services are single-stack IPv4)`);
  if (!isIPv4(address!)) throw new Error(`${text}: ${address} is not an IPv4 address`);
  const bits = Number(prefix);
  // Kubernetes wants room for at least a few Services: /30 and smaller are refused too.
  if (bits < 8 || bits > 28) throw new Error(`${text}: the prefix must be between /8 and /28`);
  const size = 2 ** (32 - bits);
  const base = ipToNumber(address!) - (ipToNumber(address!) % size);
  return { text: `${numberToIp(base)}/${bits}`, base, bits, size };
}

export function contains(cidr: Cidr, ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipToNumber(ip);
  return n >= cidr.base && n < cidr.base + cidr.size;
}

/** The address `offset` places into the range. */
export const addressAt = (cidr: Cidr, offset: number): string => numberToIp(cidr.base + offset);

/** `10.96.0.10` → `10.0.96.10.in-addr.arpa`. */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** `10.0.96.10.in-addr.arpa` → `10.96.0.10`, or undefined for any other name. */
export function addressOfReverseName(name: string): string | undefined {
  const m = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.in-addr\.arpa\.?$/i.exec(name);
  if (!m) return undefined;
  const ip = [m[4], m[3], m[2], m[1]].join('.');
  return isIPv4(ip) ? ip : undefined;
}
