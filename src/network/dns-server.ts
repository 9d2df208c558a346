/**
 * The node's cluster DNS server (what CoreDNS is on Kubernetes), over UDP and TCP on one address:
 * cluster names from an index of the cluster view rebuilt on each change (answers come from memory,
 * never from a request to the API), everything else forwarded to the machine's own resolvers
 * (/etc/resolv.conf) and relayed back. UDP answers larger than the client takes (512 bytes, or its
 * EDNS size) are sent truncated, and the client asks again over TCP.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { DnsIndex, type DnsAnswer, type DnsRecord } from './dns.js';
import type { ClusterView } from './view.js';

const FORWARD_TIMEOUT_MS = 2000;
const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface DnsServerOptions {
  /** The addresses to listen on (the node's). */
  hosts: string[];
  /** Addresses to listen on as well when they can be had (Docker's bridge gateway: one agent per machine gets it). */
  optionalHosts?: string[];
  port: number;
  domain: string;
  /** Resolvers other names go to (default: the nameservers of /etc/resolv.conf, other than this server). */
  upstreams?: string[];
  log?: { warn(o: object, m: string): void };
}

/** The nameservers of a resolv.conf. */
export function nameserversOf(resolvConf: string): string[] {
  return [...resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
}

/** How often a picked port (port 0) is tried again when TCP has it taken. */
const PICK_PORT_ATTEMPTS = 10;

export class ClusterDns {
  private index: DnsIndex;
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: Server[] = [];
  private readonly connections = new Set<Socket>();
  private readonly upstreams: string[];
  /**
   * Encoded answers by the query's question bytes and RD bit, until the index changes: a repeated
   * question (most are) is answered by a copy with the query's id, without decoding or encoding.
   */
  private readonly answers = new Map<string, Buffer>();
  /** Where the server listens, once it does. */
  port = 0;
  /** The addresses it listens on. */
  readonly served: string[] = [];

  constructor(
    private readonly view: ClusterView,
    private readonly o: DnsServerOptions,
  ) {
    this.index = this.build();
    view.onChange(() => {
      this.index = this.build();
      this.answers.clear();
    });
    let fromSystem: string[] = [];
    try {
      fromSystem = nameserversOf(readFileSync('/etc/resolv.conf', 'utf8'));
    } catch {
      // no resolv.conf: cluster names only
    }
    this.upstreams = (o.upstreams ?? fromSystem).filter((ip) => !o.hosts.includes(ip));
  }

  private build(): DnsIndex {
    return new DnsIndex(this.o.domain, this.view.services.values(), this.view.endpoints);
  }

  /** Listens on every address, UDP and TCP, at one port (the first address picks it when it is 0). */
  async listen(): Promise<void> {
    // A port picked for UDP may be another program's on TCP: with port 0, pick again a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        for (const host of this.o.hosts) await this.listenOn(host);
        break;
      } catch (e) {
        await this.close();
        this.port = 0;
        const taken = (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!taken || this.o.port !== 0 || attempt >= PICK_PORT_ATTEMPTS) throw e;
      }
    }
    for (const host of this.o.optionalHosts ?? []) {
      await this.listenOn(host).catch((e: unknown) =>
        this.o.log?.warn({ err: e, host }, 'cluster DNS does not listen on this address too'),
      );
    }
  }

  private async listenOn(host: string): Promise<void> {
    const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port || this.o.port, host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const tcp = createServer((socket) => this.serveTcp(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(udp.address().port, host, () => resolve());
    }).catch(async (e: unknown) => {
      await new Promise<void>((r) => udp.close(() => r()));
      throw e;
    });
    this.port = udp.address().port;
    this.udp.push(udp);
    this.tcp.push(tcp);
    this.served.push(host);
    udp.on('error', (e) => this.o.log?.warn({ err: e }, 'cluster DNS (UDP) failed'));
    udp.on('message', (message, from) => {
      void this.respond(message, 'udp').then((reply) => reply && udp.send(reply, from.port, from.address));
    });
  }

  /** TCP: each message is prefixed by its length (two bytes); several may come on one connection. */
  private serveTcp(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        void this.respond(message, 'tcp').then((reply) => {
          if (!reply || socket.destroyed) return;
          const length = Buffer.alloc(2);
          length.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([length, reply]));
        });
      }
    });
  }

  /** The reply to one message (undefined: none, for what is not a query). */
  async respond(message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const key = questionKey(message);
    const known = key === undefined ? undefined : this.answers.get(key);
    if (known && (transport === 'tcp' || known.length <= 512)) {
      const reply = Buffer.from(known);
      message.copy(reply, 0, 0, 2);
      return reply;
    }
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    if (query.type !== 'query') return undefined;
    const question = query.questions?.[0];
    if (!question || query.questions!.length !== 1) return this.encode(query, { rcode: 'NOTIMP' }, transport);
    const answer = this.index.answer(question.name, question.type);
    if (answer.kind === 'forward') return this.forward(message, query, transport);
    if (answer.chase) {
      answer.answers.push(...(await this.chase(answer.chase, question.type)));
      return this.encode(query, answer, transport);
    }
    const reply = this.encode(query, answer, transport);
    if (key !== undefined && !(reply[2]! & 0x02)) {
      if (this.answers.size >= ANSWER_CACHE_SIZE) this.answers.clear();
      this.answers.set(key, reply);
    }
    return reply;
  }

  private encode(
    query: Packet,
    answer: Extract<DnsAnswer, { kind: 'answer' }> | { rcode: keyof typeof RCODES },
    transport: 'udp' | 'tcp',
  ): Buffer {
    const records = 'answers' in answer ? answer : { answers: [], additionals: [], authorities: [] };
    const flags =
      dnsPacket.AUTHORITATIVE_ANSWER |
      dnsPacket.RECURSION_AVAILABLE |
      ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) |
      RCODES[answer.rcode];
    const reply: Packet = {
      id: query.id ?? 0,
      type: 'response',
      flags,
      questions: query.questions ?? [],
      answers: records.answers.map(toAnswer),
      authorities: records.authorities.map(toAnswer),
      additionals: records.additionals.map(toAnswer),
    };
    const buffer = dnsPacket.encode(reply);
    const limit = transport === 'tcp' ? 65535 : udpLimit(query);
    if (buffer.length <= limit) return buffer;
    return dnsPacket.encode({
      ...reply,
      flags: flags | dnsPacket.TRUNCATED_RESPONSE,
      answers: [],
      authorities: [],
      additionals: [],
    });
  }

  /** Asks the upstreams in turn; relays the first answer (SERVFAIL when none answers). */
  private async forward(message: Buffer, query: Packet, transport: 'udp' | 'tcp'): Promise<Buffer> {
    const reply = await this.askUpstreams(message);
    if (!reply) return this.encode(query, { rcode: 'SERVFAIL' }, transport);
    return transport === 'tcp' || reply.length <= udpLimit(query) ? reply : truncated(reply);
  }

  /** The A (or AAAA) records of an ExternalName's target, named as asked for. */
  private async chase(target: string, type: string): Promise<DnsRecord[]> {
    if (type !== 'A' && type !== 'AAAA' && type !== 'ANY') return [];
    const reply = await this.askUpstreams(
      dnsPacket.encode({
        type: 'query',
        id: 1,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: type === 'ANY' ? 'A' : type, name: target }],
      }),
    );
    try {
      return reply
        ? ((dnsPacket.decode(reply).answers ?? []).filter(
            (a) => a.type === 'A' || a.type === 'AAAA' || a.type === 'CNAME',
          ) as DnsRecord[])
        : [];
    } catch {
      return [];
    }
  }

  /** The first upstream's answer to `message`, trying them in turn. */
  private async askUpstreams(message: Buffer): Promise<Buffer | undefined> {
    for (const upstream of this.upstreams) {
      const reply = await ask(upstream, message).catch(() => undefined);
      if (reply) return reply;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.served.length = 0;
    for (const s of this.connections) s.destroy();
    await Promise.all([
      ...this.udp.splice(0).map((u) => new Promise<void>((r) => u.close(() => r()))),
      ...this.tcp.splice(0).map((t) => new Promise<void>((r) => t.close(() => r()))),
    ]);
  }
}

const ANSWER_CACHE_SIZE = 10_000;

/**
 * A plain query's question as a cache key: one question, no answers, at most one additional
 * record (EDNS), opcode QUERY, the name in uncompressed labels; with the RD bit, which the answer
 * echoes. Undefined for anything else (decoded the long way).
 */
function questionKey(message: Buffer): string | undefined {
  if (
    message.length < 17 ||
    (message[2]! & 0xf8) !== 0 ||
    message.readUInt16BE(4) !== 1 ||
    message.readUInt16BE(6) !== 0 ||
    message.readUInt16BE(8) !== 0 ||
    message.readUInt16BE(10) > 1
  )
    return undefined;
  let at = 12;
  while (at < message.length && message[at] !== 0) {
    if (message[at]! >= 0x40) return undefined;
    at += message[at]! + 1;
  }
  const end = at + 5;
  if (end > message.length) return undefined;
  return `${message[2]! & 0x01}${message.toString('latin1', 12, end)}`;
}

const toAnswer = (r: DnsRecord): Answer => ({ ...r, class: 'IN' }) as Answer;

/** The largest UDP answer the client takes: its EDNS buffer size, else 512 bytes. */
function udpLimit(query: Packet): number {
  const opt = (query.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(512, Math.min(opt?.udpPayloadSize ?? 512, 4096));
}

/** An upstream's answer too big for the client's UDP: its header with TC set, no records. */
function truncated(reply: Buffer): Buffer {
  const decoded = dnsPacket.decode(reply);
  return dnsPacket.encode({
    ...decoded,
    flags: (decoded.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
    additionals: [],
  });
}

/** One question to one resolver over UDP, with its own socket (the answer is matched by socket). */
function ask(server: string, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server) ? 'udp6' : 'udp4');
    const timer = setTimeout(
      () => finish(new Error(`${server} did not answer in ${FORWARD_TIMEOUT_MS} ms`)),
      FORWARD_TIMEOUT_MS,
    );
    const finish = (error?: Error, reply?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(reply!);
    };
    socket.on('error', (e) => finish(e));
    socket.on('message', (reply) => finish(undefined, reply));
    socket.send(message, 53, server);
  });
}
