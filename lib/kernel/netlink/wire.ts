// The rtnetlink wire format: a 16-byte nlmsghdr, a fixed family header (ifinfomsg,
// ifaddrmsg, rtmsg), then type-length-value attributes, each padded to 4 bytes. Host byte
// order (little-endian on every machine twill ships for). Pure functions, no I/O.
import { Ip } from '../../ip/cidr.js';
import { NLA_F_NESTED, NLA_TYPE_MASK } from './constants.js';

const align4 = (n: number): number => (n + 3) & ~3;

/** An attribute, encoded once; nested attributes are built from encoded children. */
export type Attr = Buffer;

// The encoders below take their small buffers from Node's shared pool (allocUnsafe) and write
// every byte, padding included, themselves, rather than a zero-filled Buffer.alloc of their
// own filled by native copy calls. (A reconcile pass's thousands of operations do not come
// through here: lib/kernel/dataplane.ts encodes them straight into one buffer per batch.)

/** Little-endian u16/u32 into b at off, without the range checks of writeUInt*LE. */
function put16(b: Buffer, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}
function put32(b: Buffer, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** A buffer of n bytes from the pool, its last (padding) bytes from `from` on zeroed. */
function pooled(n: number, from: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = from; i < n; i++) b[i] = 0;
  return b;
}

export function attr(type: number, payload: Buffer): Attr {
  const len = 4 + payload.length;
  const b = pooled(align4(len), len);
  put16(b, 0, len);
  put16(b, 2, type);
  b.set(payload, 4);
  return b;
}

export const attrU8 = (type: number, v: number): Attr => attr(type, Buffer.from([v]));
export function attrU32(type: number, v: number): Attr {
  const b = Buffer.allocUnsafe(8);
  put16(b, 0, 8);
  put16(b, 2, type);
  put32(b, 4, v >>> 0);
  return b;
}
/** NUL-terminated, as the kernel expects for names and kinds. */
export const attrString = (type: number, s: string): Attr => attr(type, Buffer.from(`${s}\0`, 'utf8'));
export const attrNested = (type: number, children: Attr[]): Attr => attr(type | NLA_F_NESTED, Buffer.concat(children));

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC address "${mac}"`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export interface IfInfo {
  family?: number;
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

export function ifinfomsg(i: IfInfo = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(i.family ?? 0, 0);
  b.writeUInt16LE(i.type ?? 0, 2);
  b.writeInt32LE(i.index ?? 0, 4);
  b.writeUInt32LE((i.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((i.change ?? 0) >>> 0, 12);
  return b;
}

export interface IfAddr {
  family: number;
  prefixlen: number;
  flags?: number;
  scope?: number;
  index: number;
}

export function ifaddrmsg(a: IfAddr): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(a.family, 0);
  b.writeUInt8(a.prefixlen, 1);
  b.writeUInt8(a.flags ?? 0, 2);
  b.writeUInt8(a.scope ?? 0, 3);
  b.writeUInt32LE(a.index, 4);
  return b;
}

export interface RtMsg {
  family: number;
  dstLen?: number;
  srcLen?: number;
  tos?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}

export function rtmsg(r: RtMsg): Buffer {
  const b = Buffer.allocUnsafe(12);
  b[0] = r.family;
  b[1] = r.dstLen ?? 0;
  b[2] = r.srcLen ?? 0;
  b[3] = r.tos ?? 0;
  b[4] = r.table ?? 0;
  b[5] = r.protocol ?? 0;
  b[6] = r.scope ?? 0;
  b[7] = r.type ?? 0;
  put32(b, 8, (r.flags ?? 0) >>> 0);
  return b;
}

export interface NhMsg {
  family: number;
  scope?: number;
  protocol?: number;
  /** RTNH_F_* (onlink) */
  flags?: number;
}

/** struct nhmsg: family, scope, protocol, a reserved byte, flags (u32): 8 bytes. */
export function nhmsg(n: NhMsg): Buffer {
  const b = pooled(8, 8); // every byte is written below
  b[0] = n.family;
  b[1] = n.scope ?? 0;
  b[2] = n.protocol ?? 0;
  b[3] = 0;
  put32(b, 4, (n.flags ?? 0) >>> 0);
  return b;
}

export interface NdMsg {
  family: number;
  index: number;
  /** NUD_* */
  state?: number;
  /** NTF_* */
  flags?: number;
  type?: number;
}

/** struct ndmsg: family, 3 pad bytes, ifindex, state (u16), flags (u8), type (u8): 12 bytes. */
export function ndmsg(n: NdMsg): Buffer {
  const b = pooled(12, 1); // bytes 1-3 are padding
  b[0] = n.family;
  put32(b, 4, n.index);
  put16(b, 8, n.state ?? 0);
  b[10] = n.flags ?? 0;
  b[11] = n.type ?? 0;
  return b;
}

/** nlmsghdr + family header + attributes; port id 0 lets the kernel fill in ours. */
export function message(type: number, flags: number, seq: number, header: Buffer, attrs: Attr[] = []): Buffer {
  const body = Buffer.concat([header, ...attrs]);
  const len = 16 + body.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
  body.copy(b, 16);
  return b;
}

export interface RawMessage {
  type: number;
  flags: number;
  seq: number;
  /** everything after the 16-byte header */
  payload: Buffer;
}

/** Splits a receive buffer into messages; a truncated tail is an error, not silently dropped. */
export function parseMessages(buf: Buffer): RawMessage[] {
  const out: RawMessage[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) throw new Error(`netlink: truncated message at byte ${off} (length ${len}, buffer ${buf.length})`);
    out.push({ type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), payload: buf.subarray(off + 16, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (flags stripped); a repeated type keeps the first, as iproute2 does. */
/**
 * Where the wanted attributes' values are in `p` (from `from` on), found without a map or a
 * Buffer per attribute (parseAttrs's walk, for hot loops over thousands of dumped messages):
 * at[2i] is the start of wanted[i]'s value, at[2i+1] its end, -1 when absent.
 */
export function findAttrs(p: Buffer, from: number, wanted: readonly number[], at: Int32Array): void {
  at.fill(-1);
  let off = from;
  while (off + 4 <= p.length) {
    const len = p.readUInt16LE(off);
    if (len < 4 || off + len > p.length) break;
    const i = wanted.indexOf(p.readUInt16LE(off + 2) & NLA_TYPE_MASK);
    if (i >= 0 && at[2 * i] < 0) {
      at[2 * i] = off + 4;
      at[2 * i + 1] = off + len;
    }
    off += align4(len);
  }
}

export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (!out.has(type)) out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export function readString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

export function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 says.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Dotted IPv4 to its 4 network-order bytes. */
export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address "${ip}"`);
  return Buffer.from(parts);
}

/** Colon-hex IPv6 to its 16 network-order bytes (RFC 4291 text, as lib/ip/cidr.ts reads it). */
export function ipv6Bytes(ip: string): Buffer {
  const parsed = Ip.tryParse(ip);
  if (!parsed || parsed.family !== 6) throw new Error(`bad IPv6 address "${ip}"`);
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(parsed.value >> 64n, 0);
  b.writeBigUInt64BE(parsed.value & 0xffffffffffffffffn, 8);
  return b;
}

/** Either family: an address with a colon is IPv6, anything else must be dotted IPv4. */
export function ipBytes(ip: string): Buffer {
  return ip.includes(':') ? ipv6Bytes(ip) : ipv4Bytes(ip);
}
