/**
 * The size of a Git blob read from its header, without reading the blob: a loose object's zlib
 * header ("blob <size>\0"), or a packed object's entry header (and, for a delta, the result size
 * at the start of the delta data). A 100 MB file in a commit is then refused by its size, before
 * anything inflates it (isomorphic-git has no call for this: it reads whole objects).
 *
 * Pack index format v2: magic, version, 256-entry fan-out, sorted object names, CRCs, 31-bit
 * offsets (the high bit pointing into a table of 64-bit ones).
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { constants, inflateSync } from 'node:zlib';

const IDX_MAGIC = 0xff744f63;
const OFS_DELTA = 6;
const REF_DELTA = 7;

interface PackIndex {
  pack: string;
  idx: Buffer;
  count: number;
  /** The pack, opened at its first look-up of a batch (closed by forget()). */
  fd?: number;
}

export class BlobSizes {
  private packs: PackIndex[] | undefined;
  /** Parsed indexes by file name: a pack's index never changes once it is named. */
  private readonly indexes = new Map<string, PackIndex | undefined>();

  constructor(private readonly gitdir: string) {}

  /**
   * Before each batch of reads (a fetch or gc may have come between): the pack folder is listed
   * again at the next look-up, and the packs held open for the last batch are closed.
   */
  forget(): void {
    this.packs = undefined;
    for (const p of this.indexes.values()) {
      if (p?.fd === undefined) continue;
      fs.closeSync(p.fd);
      p.fd = undefined;
    }
  }

  /** The blob's size in bytes, or undefined when it cannot be told from its header. */
  sizeOf(oid: string): number | undefined {
    try {
      // Packed first: a look-up in memory, where a loose one costs a failed open per packed object.
      return this.packedSize(oid) ?? this.looseSize(oid);
    } catch {
      return undefined;
    }
  }

  private looseSize(oid: string): number | undefined {
    const file = path.join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const header = inflatePrefix(fd, 0, (out) => out.indexOf(0) !== -1);
      const m = /^[a-z]+ (\d+)$/.exec(header.subarray(0, header.indexOf(0)).toString('latin1'));
      return m ? Number(m[1]) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  private packedSize(oid: string): number | undefined {
    const name = Buffer.from(oid, 'hex');
    for (const p of this.listPacks()) {
      const at = findOffset(p, name);
      if (at === undefined) continue;
      p.fd ??= fs.openSync(p.pack, 'r');
      return entrySize(p.fd, at);
    }
    return undefined;
  }

  private listPacks(): PackIndex[] {
    if (this.packs) return this.packs;
    const dir = path.join(this.gitdir, 'objects', 'pack');
    const names = new Set(fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.idx')) : []);
    for (const [known, p] of this.indexes) {
      if (names.has(known)) continue;
      if (p?.fd !== undefined) fs.closeSync(p.fd);
      this.indexes.delete(known);
    }
    for (const f of names) if (!this.indexes.has(f)) this.indexes.set(f, readIndex(path.join(dir, f)));
    this.packs = [...this.indexes.values()].filter((p): p is PackIndex => p !== undefined);
    return this.packs;
  }
}

function readIndex(file: string): PackIndex | undefined {
  const idx = fs.readFileSync(file);
  if (idx.length < 8 + 256 * 4 || idx.readUInt32BE(0) !== IDX_MAGIC || idx.readUInt32BE(4) !== 2) return undefined;
  return { pack: file.replace(/\.idx$/, '.pack'), idx, count: idx.readUInt32BE(8 + 255 * 4) };
}

/** The pack offset of an object named in an index, by binary search within its fan-out bucket. */
function findOffset(p: PackIndex, name: Buffer): number | undefined {
  const fanout = 8;
  const names = fanout + 256 * 4;
  let lo = name[0] === 0 ? 0 : p.idx.readUInt32BE(fanout + (name[0]! - 1) * 4);
  let hi = p.idx.readUInt32BE(fanout + name[0]! * 4);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cmp = p.idx.compare(name, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (cmp === 0) {
      const offsets = names + p.count * 20 + p.count * 4;
      const small = p.idx.readUInt32BE(offsets + mid * 4);
      if (!(small & 0x80000000)) return small;
      const large = offsets + p.count * 4 + (small & 0x7fffffff) * 8;
      return Number(p.idx.readBigUInt64BE(large));
    }
    if (cmp > 0) hi = mid;
    else lo = mid + 1;
  }
  return undefined;
}

/** The size of the object at `offset`: its header's, or for a delta the size it resolves to. */
function entrySize(fd: number, offset: number): number | undefined {
  const head = Buffer.alloc(32);
  const n = fs.readSync(fd, head, 0, head.length, offset);
  let i = 0;
  let byte = head[i++]!;
  const type = (byte >> 4) & 7;
  let size = byte & 15;
  for (let shift = 4; byte & 0x80 && i < n; shift += 7) {
    byte = head[i++]!;
    size += (byte & 0x7f) * 2 ** shift;
  }
  if (type !== OFS_DELTA && type !== REF_DELTA) return size;
  if (type === OFS_DELTA) while (head[i++]! & 0x80 && i < n);
  else i += 20;
  // The delta data opens with two varints: the base's size, then the result's.
  const delta = inflatePrefix(fd, offset + i, (out) => countVarints(out) >= 2);
  let at = 0;
  readVarint(delta, () => at++);
  return readVarint(delta.subarray(at), () => {});
}

function countVarints(b: Buffer): number {
  let count = 0;
  for (const x of b) if (!(x & 0x80)) count++;
  return count;
}

function readVarint(b: Buffer, step: () => void): number {
  let value = 0;
  for (let i = 0, shift = 0; i < b.length; i++, shift += 7) {
    step();
    value += (b[i]! & 0x7f) * 2 ** shift;
    if (!(b[i]! & 0x80)) break;
  }
  return value;
}

/** Inflates the start of a zlib stream at `position`, reading more until `enough` says so (64 KiB at most). */
function inflatePrefix(fd: number, position: number, enough: (out: Buffer) => boolean): Buffer {
  for (let length = 512; ; length *= 4) {
    const input = Buffer.alloc(length);
    const n = fs.readSync(fd, input, 0, length, position);
    // Z_SYNC_FLUSH: what the bytes read so far decode to, without wanting the stream's end.
    const out = inflateSync(input.subarray(0, n), {
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: 1024 * 1024,
    });
    if (enough(out) || n < length || length >= 64 * 1024) return out;
  }
}
