// The overlay's entries in and out of the kernel over netlink, for the daemon's reconcile and
// twillctl doctor alike: one dump each of links, routes, neighbours, FDB entries and nexthop
// objects, and a plan's operations written as one netlink batch (thousands of entries in a
// few sends, every failure reported with its errno). No process is spawned.
import type {
  ActualEntries, ActualFdb, ActualNeigh, ActualNexthop, ActualRoute, DataplaneEntries, FdbSpec, NeighSpec, NexthopSpec, RouteSpec,
} from '../dataplane/entries.js';
import type { DataplaneOp } from '../dataplane/plan.js';
import { Cidr, Ip } from '../ip/cidr.js';
import { Mac } from '../ip/mac.js';
import type { Lease } from '../schema/lease.js';
import type { NetworkConfig } from '../schema/network-config.js';
import { opText } from '../dataplane/plan.js';
import {
  AF_BRIDGE, AF_INET, AF_INET6, AF_UNSPEC, NDA_DST, NDA_LLADDR, NHA_GATEWAY, NHA_ID, NHA_OIF, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
  NTF_SELF, NUD_NOARP, NUD_PERMANENT, RTA_DST, RTA_GATEWAY, RTA_NH_ID, RTA_OIF, RTA_TABLE, RTM_DELNEIGH, RTM_DELNEXTHOP, RTM_DELROUTE, RTM_NEWNEIGH,
  RTM_NEWNEXTHOP, RTM_NEWROUTE, RTN_UNICAST, RTNH_F_ONLINK, RTPROT_BOOT, RTPROT_KERNEL, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
} from './netlink/constants.js';
import { decodeNeigh, decodeNexthop, decodeRoute, NlLink, NlNeigh, NlNexthop, NlRoute } from './netlink/decode.js';
import { EINVAL, ENOENT, EOPNOTSUPP, errnoName, NetlinkError } from './netlink/errors.js';
import { dumpLinksOn } from './netlink/query.js';
import { dumpFdb, dumpNeighs, dumpNexthops, dumpRoutes } from './netlink/requests.js';
import { findAttrs, RawMessage } from './netlink/wire.js';
import type { NetlinkSocket } from './netlink/socket.js';

export const ESRCH = 3;

export interface KernelDataplane {
  links: NlLink[];
  /** main-table routes of both families, each with its device's name */
  routes: (NlRoute & { dev?: string })[];
  /** neighbours (not FDB) of the given devices, with the device's name */
  neighs: (NlNeigh & { dev: string })[];
  /** bridge FDB entries of the given devices */
  fdb: (NlNeigh & { dev: string })[];
  /** nexthop objects on the given devices (none where the kernel has no nexthop objects) */
  nexthops: (NlNexthop & { dev: string })[];
  /** whether the kernel has nexthop objects at all (LocalSide.nexthops) */
  nexthopObjects: boolean;
  /**
   * The desired entries (objects of the `desired` handed in) that the kernel already holds
   * exactly as they would be written; their kernel entries are not in the lists above.
   */
  held: Set<RouteSpec | NeighSpec | FdbSpec | NexthopSpec>;
}

/** The nexthop objects of the namespace; undefined when the kernel has none (before 5.3, or built without). */
function dumpNexthopsOn(s: NetlinkSocket): RawMessage[] | undefined {
  try {
    return s.dump(dumpNexthops());
  } catch (e) {
    if (e instanceof NetlinkError && (e.errno === EOPNOTSUPP || e.errno === EINVAL)) return undefined;
    throw e;
  }
}

/** Whether IPv4 tunnel routes can name nexthop objects here (lib/dataplane/entries.ts NexthopSpec). */
export function kernelHasNexthops(s: NetlinkSocket): boolean {
  return dumpNexthopsOn(s) !== undefined;
}

/**
 * Everything reconcile or doctor needs to see, in six dumps on one socket. With `desired`,
 * each dumped entry is first compared with the desired one of its key on the raw bytes: an
 * entry the kernel already holds exactly is only counted in `held`, never decoded, so a full
 * pass over thousands of unchanged peers allocates a few strings per entry instead of a dozen
 * objects. The planner skips held entries (lib/dataplane/plan.ts); whatever differs or is not
 * desired is decoded and parsed as before.
 */
export function readKernelDataplane(s: NetlinkSocket, devices: readonly string[], ipv6: boolean, desired?: DataplaneEntries): KernelDataplane {
  const links = dumpLinksOn(s);
  const names = new Map(links.map((l) => [l.ifindex, l.ifname]));
  const indexOf = new Map(links.map((l) => [l.ifname, l.ifindex]));
  const ours = new Map(links.filter((l) => devices.includes(l.ifname)).map((l) => [l.ifindex, l.ifname]));
  const held = new Set<RouteSpec | NeighSpec | FdbSpec | NexthopSpec>();
  const index = desired ? indexDesired(desired, indexOf) : undefined;
  // nexthop objects first: a route that names one may come without its gateway and device
  // (nexthop_compat_mode=0), and then has them from the object
  const nexthops: KernelDataplane['nexthops'] = [];
  // (held: the desired object itself; spelled out only for such a route, which is rare)
  const nexthopOf = new Map<number, NexthopSpec | (NlNexthop & { dev: string })>();
  const nexthopDump = dumpNexthopsOn(s);
  if (ours.size) {
    for (const m of nexthopDump ?? []) {
      if (m.type !== RTM_NEWNEXTHOP) continue;
      const want = index && nexthopHeld(m, index, indexOf);
      if (want) {
        held.add(want);
        nexthopOf.set(want.id, want);
        continue;
      }
      const h = decodeNexthop(m);
      const dev = h.oif !== undefined ? ours.get(h.oif) : undefined;
      if (dev === undefined) continue;
      const mine = Object.assign(h, { dev });
      nexthops.push(mine);
      nexthopOf.set(h.id, mine);
    }
  }
  const routes: KernelDataplane['routes'] = [];
  for (const family of ipv6 ? [AF_INET, AF_INET6] : [AF_INET]) {
    for (const m of s.dump(dumpRoutes(family))) {
      if (m.type !== RTM_NEWROUTE) continue;
      const want = index && routeHeld(m, index);
      if (want) {
        held.add(want);
        continue;
      }
      const r = decodeRoute(m);
      if (r.table !== RT_TABLE_MAIN) continue;
      const nh = r.nhid !== undefined && r.oif === undefined ? nexthopOf.get(r.nhid) : undefined;
      if (nh && 'via' in nh) { // a held one: the desired object
        r.oif = indexOf.get(nh.dev);
        r.gateway = nh.via.toString();
        if (nh.onlink) r.flags.push('onlink');
      } else if (nh) {
        r.oif = nh.oif;
        if (nh.gateway) r.gateway = nh.gateway;
        if ((nh.flags & RTNH_F_ONLINK) !== 0) r.flags.push('onlink');
      }
      routes.push(r.oif !== undefined && names.has(r.oif) ? Object.assign(r, { dev: names.get(r.oif) }) : r);
    }
  }
  const neighs: KernelDataplane['neighs'] = [];
  const fdb: KernelDataplane['fdb'] = [];
  if (ours.size) {
    for (const [request, bridge] of [[dumpNeighs(), false], [dumpFdb(), true]] as const) {
      for (const m of s.dump(request)) {
        if (m.type !== RTM_NEWNEIGH) continue;
        const ifindex = m.payload.readInt32LE(4);
        const dev = ours.get(ifindex);
        if (dev === undefined || (m.payload.readUInt8(0) === AF_BRIDGE) !== bridge) continue;
        const want = index && neighHeld(m, index);
        if (want) {
          held.add(want);
          continue;
        }
        (bridge ? fdb : neighs).push(Object.assign(decodeNeigh(m), { dev }));
      }
    }
  }
  return { links, routes, neighs, fdb, nexthops, nexthopObjects: nexthopDump !== undefined, held };
}

/** The desired entries by the key a dump's raw bytes give (hex addresses, ifindex), with what must match. */
interface DesiredIndex {
  routes: Map<string, { want: RouteSpec; via: string; oif: number }>;
  /** by id; an IPv4 gateway as its number in network byte order, read as the dump's u32 (no string made) */
  nexthops: Map<number, NexthopSpec>;
  neighs: Map<string, { want: NeighSpec; lladdr: string }>;
  fdb: Map<string, FdbSpec>;
}

// An entry's index key is made once per desired object (and again only if its device's
// ifindex changes): the daemon keeps a peer's objects for as long as its lease is unchanged,
// so later passes only look them up.
interface Spelled {
  ifindex: number;
  key: string;
  /** the route's gateway or the neighbour's lladdr, hex */
  value: string;
}
const spelled = new WeakMap<object, Spelled>();
function spell(o: RouteSpec | NeighSpec | FdbSpec, ifindex: number, make: () => [string, string]): Spelled {
  let t = spelled.get(o);
  if (!t || t.ifindex !== ifindex) {
    const [key, value] = make();
    spelled.set(o, (t = { ifindex, key, value }));
  }
  return t;
}
/** An address as the hex of its network-order bytes, what Buffer#toString('hex') makes of a dumped one. */
const hex = (ip: Ip) => ip.value.toString(16).padStart(ip.family === 4 ? 8 : 32, '0');
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const macHex = (m: Mac) => { let t = ''; for (const b of m.bytes) t += HEX_BYTE[b]; return t; };

function indexDesired(d: DataplaneEntries, indexOf: ReadonlyMap<string, number>): DesiredIndex {
  const idx: DesiredIndex = { routes: new Map(), nexthops: new Map(), neighs: new Map(), fdb: new Map() };
  for (const r of d.routes) {
    const oif = indexOf.get(r.dev);
    if (oif === undefined) continue;
    const t = spell(r, oif, () => [`${hex(r.dst.first)}/${r.dst.prefix}`, hex(r.via)]);
    idx.routes.set(t.key, { want: r, via: t.value, oif });
  }
  for (const h of d.nexthops) if (indexOf.has(h.dev)) idx.nexthops.set(h.id, h);
  for (const n of d.neighs) {
    const ifindex = indexOf.get(n.dev);
    if (ifindex === undefined) continue;
    const t = spell(n, ifindex, () => [`${ifindex}|${hex(n.dst)}`, macHex(n.lladdr)]);
    idx.neighs.set(t.key, { want: n, lladdr: t.value });
  }
  for (const f of d.fdb) {
    const ifindex = indexOf.get(f.dev);
    if (ifindex === undefined) continue;
    const t = spell(f, ifindex, () => [`${ifindex}|${macHex(f.mac)}|${hex(f.dst)}`, '']);
    idx.fdb.set(t.key, f);
  }
  return idx;
}

const hexAt = (p: Buffer, at: Int32Array, i: number) => p.toString('hex', at[2 * i], at[2 * i + 1]);
const u32At = (p: Buffer, at: Int32Array, i: number) => (at[2 * i + 1] - at[2 * i] >= 4 ? p.readUInt32LE(at[2 * i]) : -1);

// RTA_NH_ID: the nexthop object a route names (whose gateway and device the kernel reports
// on the route too, unless nexthop_compat_mode=0)
const ROUTE_ATTRS = [RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTA_NH_ID] as const;
const routeAt = new Int32Array(2 * ROUTE_ATTRS.length);

/**
 * The desired route this dumped route already is: main table, unicast, not the kernel's, and
 * either naming the desired nexthop object (where it leads is the object's, compared on its
 * own) or, for a plain route, with no object and the same next hop, device and onlink.
 */
function routeHeld(m: RawMessage, idx: DesiredIndex): RouteSpec | undefined {
  const p = m.payload;
  const dstLen = p.readUInt8(1);
  if (dstLen === 0 || p.readUInt8(7) !== RTN_UNICAST || p.readUInt8(5) === RTPROT_KERNEL) return undefined;
  findAttrs(p, 12, ROUTE_ATTRS, routeAt);
  if (routeAt[0] < 0) return undefined;
  if ((routeAt[6] >= 0 ? u32At(p, routeAt, 3) : p.readUInt8(4)) !== RT_TABLE_MAIN) return undefined;
  const d = idx.routes.get(`${hexAt(p, routeAt, 0)}/${dstLen}`);
  if (!d) return undefined;
  const nhid = routeAt[8] >= 0 ? u32At(p, routeAt, 4) : undefined;
  if (nhid !== d.want.nhid) return undefined;
  if (nhid !== undefined) return d.want;
  if (routeAt[2] < 0 || routeAt[4] < 0 || d.oif !== u32At(p, routeAt, 2) || d.via !== hexAt(p, routeAt, 1)) return undefined;
  return ((p.readUInt32LE(8) & RTNH_F_ONLINK) !== 0) === d.want.onlink ? d.want : undefined;
}

const NEXTHOP_ATTRS = [NHA_ID, NHA_OIF, NHA_GATEWAY] as const;
const nexthopAt = new Int32Array(2 * NEXTHOP_ATTRS.length);

/**
 * The desired nexthop object this dumped one already is: same id, device, gateway and onlink.
 * Only IPv4 ones are desired (tunnel routes), so the gateway compares as a number.
 */
function nexthopHeld(m: RawMessage, idx: DesiredIndex, indexOf: ReadonlyMap<string, number>): NexthopSpec | undefined {
  const p = m.payload;
  findAttrs(p, 8, NEXTHOP_ATTRS, nexthopAt);
  if (nexthopAt[0] < 0 || nexthopAt[2] < 0 || nexthopAt[5] - nexthopAt[4] !== 4) return undefined;
  const want = idx.nexthops.get(u32At(p, nexthopAt, 0));
  if (!want || want.via.family !== 4 || indexOf.get(want.dev) !== u32At(p, nexthopAt, 1)) return undefined;
  if (p.readUInt32BE(nexthopAt[4]) !== Number(want.via.value)) return undefined;
  return ((p.readUInt32LE(4) & RTNH_F_ONLINK) !== 0) === want.onlink ? want : undefined;
}

const NEIGH_ATTRS = [NDA_DST, NDA_LLADDR] as const;
const neighAt = new Int32Array(2 * NEIGH_ATTRS.length);

/** The desired neighbour or FDB entry this dumped one already is: permanent, same address(es). */
function neighHeld(m: RawMessage, idx: DesiredIndex): NeighSpec | FdbSpec | undefined {
  const p = m.payload;
  if ((p.readUInt16LE(8) & NUD_PERMANENT) === 0) return undefined;
  findAttrs(p, 12, NEIGH_ATTRS, neighAt);
  if (neighAt[0] < 0 || neighAt[2] < 0) return undefined;
  const ifindex = p.readInt32LE(4);
  if (p.readUInt8(0) === AF_BRIDGE) return idx.fdb.get(`${ifindex}|${hexAt(p, neighAt, 1)}|${hexAt(p, neighAt, 0)}`);
  const n = idx.neighs.get(`${ifindex}|${hexAt(p, neighAt, 0)}`);
  return n && n.lladdr === hexAt(p, neighAt, 1) ? n.want : undefined;
}

export interface OpFailure {
  /** the operation as an `ip`/`bridge` command */
  op: string;
  errno: number;
  code: string;
  message: string;
}

// A plan's operations are encoded straight into one buffer per batch: the same messages as
// lib/kernel/netlink/requests.ts's replaceRoute/delRoute, replaceNeigh/delNeigh, setFdb/delFdb
// and its nexthop requests (the unit tests hold the two to the same bytes), but with no Buffer
// per header and attribute in between. A start-up at 5000 peers writes 20 000 operations: as
// ~100 000 small Buffers concatenated per batch they took 100-150 ms to encode in a fresh
// process (bench, 5 rounds: 54-147 ms) and fed most of the pass's scavenges.

/** The longest message of one operation: an IPv6 plain route (nlmsghdr, rtmsg, dst, gateway, oif). */
const OP_MAX = 16 + 12 + 20 + 20 + 8;

/** Writes netlink messages into a zero-filled buffer (padding and port ids stay 0). */
class OpWriter {
  readonly buf: Buffer;
  off = 0;
  private start = 0;

  constructor(maxMessages: number) {
    this.buf = Buffer.alloc(maxMessages * OP_MAX);
  }

  begin(type: number, flags: number, seq: number): void {
    this.start = this.off;
    this.u16(this.off + 4, type);
    this.u16(this.off + 6, NLM_F_REQUEST | flags);
    this.u32(this.off + 8, seq >>> 0);
    this.off += 16;
  }

  end(): void {
    this.u32(this.start, this.off - this.start);
    this.off = (this.off + 3) & ~3;
  }

  /** struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32) */
  rtmsg(family: number, dstLen: number, protocol: number, scope: number, type: number, flags: number): void {
    const b = this.buf, o = this.off;
    b[o] = family;
    b[o + 1] = dstLen;
    b[o + 4] = RT_TABLE_MAIN;
    b[o + 5] = protocol;
    b[o + 6] = scope;
    b[o + 7] = type;
    this.u32(o + 8, flags);
    this.off += 12;
  }

  /** struct nhmsg: family, scope, protocol, reserved, flags (u32) */
  nhmsg(family: number, protocol: number, flags: number): void {
    this.buf[this.off] = family;
    this.buf[this.off + 2] = protocol;
    this.u32(this.off + 4, flags);
    this.off += 8;
  }

  /** struct ndmsg: family, 3 pad bytes, ifindex, state (u16), flags (u8), type (u8) */
  ndmsg(family: number, index: number, state: number, flags: number): void {
    this.buf[this.off] = family;
    this.u32(this.off + 4, index);
    this.u16(this.off + 8, state);
    this.buf[this.off + 10] = flags;
    this.off += 12;
  }

  attrU32(type: number, v: number): void {
    this.u16(this.off, 8);
    this.u16(this.off + 2, type);
    this.u32(this.off + 4, v >>> 0);
    this.off += 8;
  }

  /** an address in network byte order */
  attrIp(type: number, ip: Ip): void {
    const b = this.buf, o = this.off;
    if (ip.family === 4) {
      this.u16(o, 8);
      this.u16(o + 2, type);
      const n = Number(ip.value);
      b[o + 4] = n >>> 24;
      b[o + 5] = (n >>> 16) & 0xff;
      b[o + 6] = (n >>> 8) & 0xff;
      b[o + 7] = n & 0xff;
      this.off += 8;
      return;
    }
    this.u16(o, 20);
    this.u16(o + 2, type);
    b.writeBigUInt64BE(ip.value >> 64n, o + 4);
    b.writeBigUInt64BE(ip.value & 0xffffffffffffffffn, o + 12);
    this.off += 20;
  }

  /** six octets, padded to eight */
  attrMac(type: number, mac: Mac): void {
    this.u16(this.off, 10);
    this.u16(this.off + 2, type);
    mac.copyTo(this.buf, this.off + 4);
    this.off += 12;
  }

  private u16(at: number, v: number): void {
    this.buf[at] = v & 0xff;
    this.buf[at + 1] = (v >>> 8) & 0xff;
  }

  private u32(at: number, v: number): void {
    this.u16(at, v & 0xffff);
    this.u16(at + 2, v >>> 16);
  }
}

/** One typed operation on the device with that ifindex, as one netlink message. */
function writeOp(w: OpWriter, o: DataplaneOp, index: number, seq: number): void {
  switch (o.kind) {
    case 'route': {
      const e = o.entry;
      const v6 = e.dst.family === 6;
      const del = o.op === 'del';
      w.begin(del ? RTM_DELROUTE : RTM_NEWROUTE, del ? 0 : NLM_F_CREATE | NLM_F_REPLACE, seq);
      w.rtmsg(
        v6 ? AF_INET6 : AF_INET,
        e.dst.prefix,
        del ? 0 : RTPROT_BOOT,
        del ? (v6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE) : e.via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
        del ? 0 : RTN_UNICAST,
        e.onlink && !del && e.nhid === undefined ? RTNH_F_ONLINK : 0,
      );
      if (e.dst.prefix > 0) w.attrIp(RTA_DST, e.dst.first);
      if (e.nhid !== undefined) {
        // the nexthop object holds gateway, device and onlink; a delete naming a gateway
        // would match no route that uses one (the kernel answers ESRCH)
        w.attrU32(RTA_NH_ID, e.nhid);
      } else {
        if (e.via) w.attrIp(RTA_GATEWAY, e.via);
        w.attrU32(RTA_OIF, index);
      }
      break;
    }
    case 'nexthop': {
      if (o.op === 'del') {
        w.begin(RTM_DELNEXTHOP, 0, seq);
        w.nhmsg(AF_UNSPEC, 0, 0);
        w.attrU32(NHA_ID, o.entry.id);
        break;
      }
      const e = o.entry;
      w.begin(RTM_NEWNEXTHOP, NLM_F_CREATE | (o.op === 'add' ? NLM_F_EXCL : NLM_F_REPLACE), seq);
      w.nhmsg(e.via.family === 6 ? AF_INET6 : AF_INET, RTPROT_BOOT, e.onlink ? RTNH_F_ONLINK : 0);
      w.attrU32(NHA_ID, e.id);
      w.attrU32(NHA_OIF, index);
      w.attrIp(NHA_GATEWAY, e.via);
      break;
    }
    case 'neigh': {
      const e = o.entry;
      const family = e.dst.family === 6 ? AF_INET6 : AF_INET;
      if (o.op === 'del') {
        w.begin(RTM_DELNEIGH, 0, seq);
        w.ndmsg(family, index, 0, 0);
        w.attrIp(NDA_DST, e.dst);
        break;
      }
      w.begin(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, seq);
      w.ndmsg(family, index, NUD_PERMANENT, 0);
      w.attrIp(NDA_DST, e.dst);
      w.attrMac(NDA_LLADDR, o.entry.lladdr);
      break;
    }
    case 'fdb': {
      const e = o.entry;
      const del = o.op === 'del';
      w.begin(del ? RTM_DELNEIGH : RTM_NEWNEIGH, del ? 0 : NLM_F_CREATE | (o.op === 'append' ? NLM_F_APPEND : NLM_F_REPLACE), seq);
      w.ndmsg(AF_BRIDGE, index, del ? 0 : NUD_PERMANENT, NTF_SELF);
      w.attrMac(NDA_LLADDR, e.mac);
      w.attrIp(NDA_DST, e.dst);
      break;
    }
  }
  w.end();
}

/**
 * The operations as consecutive netlink messages, the i-th on the device with ifindex
 * `indexes[i]` and with sequence number firstSeq + i (what NetlinkSocket#batchEncoded sends).
 */
export function encodeOps(ops: readonly DataplaneOp[], indexes: ArrayLike<number>, firstSeq: number): Buffer {
  const w = new OpWriter(ops.length);
  for (let i = 0; i < ops.length; i++) writeOp(w, ops[i], indexes[i], firstSeq + i);
  return w.buf.subarray(0, w.off);
}

/** An operation as the error of a failed request names it: the `ip`/`bridge` words after the program. */
const opWords = (o: DataplaneOp) => opText(o).replace(/^(ip|bridge) /, '');

/**
 * How many operations are encoded and sent at a time: a start-up at 10 000 peers has 30 000,
 * and encoding them all before the first send held ~30 MB of requests at once.
 */
const CHUNK = 2048;

/**
 * Writes the operations in order, as batches of CHUNK. A deletion of what is already gone
 * has reached its goal and is no failure; everything else that fails is returned. The
 * nexthop objects a plan writes go in batches of their own, before the routes that name
 * them: a route whose nexthop could not be written is not sent (it would name a missing
 * object, or one that is someone else's), and fails with it.
 */
export function applyDataplaneOps(s: NetlinkSocket, ops: readonly DataplaneOp[], ifindex: (dev: string) => number | undefined): OpFailure[] {
  const failures: OpFailure[] = [];
  const failedNexthops = new Set<number>();
  let sent: DataplaneOp[] = [];
  let indexes: number[] = [];
  const flush = () => {
    if (!sent.length) return;
    const batch = sent;
    const at = indexes;
    s.batchEncoded(batch.length, (first) => encodeOps(batch, at, first), (i) => opWords(batch[i])).forEach((outcome, i) => {
      const e = outcome.error;
      if (!e) return;
      const o = batch[i];
      if (o.op === 'del' && (e.errno === ENOENT || e.errno === ESRCH)) return;
      if (o.kind === 'nexthop') failedNexthops.add(o.entry.id);
      failures.push({ op: opText(o), errno: e.errno, code: errnoName(e.errno), message: e.message });
    });
    sent = [];
    indexes = [];
  };
  const writesNexthop = (o: DataplaneOp) => o.kind === 'nexthop' && o.op !== 'del';
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    if (sent.length && writesNexthop(sent[sent.length - 1]) && !writesNexthop(o)) flush();
    if (o.kind === 'route' && o.op !== 'del' && o.entry.nhid !== undefined && failedNexthops.has(o.entry.nhid)) {
      failures.push({ op: opText(o), errno: ENOENT, code: 'ENOENT', message: `${opText(o)}: not written, its nexthop ${o.entry.nhid} could not be` });
      continue;
    }
    const index = ifindex(o.entry.dev);
    if (index === undefined) {
      if (o.kind === 'nexthop') failedNexthops.add(o.entry.id);
      failures.push({ op: opText(o), errno: 19, code: 'ENODEV', message: `${opText(o)}: no device ${o.entry.dev}` });
      continue;
    }
    sent.push(o);
    indexes.push(index);
    if (sent.length >= CHUNK) flush();
  }
  flush();
  return failures;
}

/** IPv6 link-local routes and neighbours belong to the kernel's own neighbour discovery. */
const LINK_LOCAL6 = Cidr.parse('fe80::/10');
const MULTICAST = [Cidr.parse('224.0.0.0/4'), Cidr.parse('ff00::/8')];

/**
 * The kernel's entries that are ours to keep right, as typed entries (twilld's reconcile and
 * twillctl doctor read them alike): routes on our devices or to another node's pod subnet
 * (never the node's own pod subnet on the bridge, nor kernel routes), neighbours and FDB
 * entries of our devices. An entry whose fields do not parse is not one we wrote: left alone.
 */
export function ourEntries(k: KernelDataplane, devs: readonly string[], config: NetworkConfig, own: Lease): ActualEntries {
  const v6 = config.EnableIPv6 && config.IPv6Network ? config.IPv6Network : undefined;
  // a route is ours when it uses one of our devices, or goes to another node's pod subnet
  const ownSubnets = [own.subnet, ...(own.subnet6 ? [own.subnet6] : [])];
  const podNetwork = (c: Cidr) => (c.family === 4 ? config.Network : v6)?.contains(c) && !ownSubnets.some((s) => s.equals(c) || s.contains(c));
  const routes: ActualRoute[] = [];
  for (const r of k.routes) {
    if (r.protocol === 'kernel' || r.dst === 'default' || !r.dev || r.type !== 'unicast') continue;
    const c = Cidr.tryParse(r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`);
    if (!c) continue;
    if (c.family === 6 && !v6) continue;
    if (!devs.includes(r.dev) && !podNetwork(c)) continue;
    if (LINK_LOCAL6.contains(c)) continue; // the kernel's link-local routes
    routes.push({ dst: c, via: r.gateway ? Ip.tryParse(r.gateway) : undefined, dev: r.dev, onlink: r.flags.includes('onlink'), ...(r.nhid !== undefined ? { nhid: r.nhid } : {}) });
  }
  const neighs: ActualNeigh[] = [];
  for (const n of k.neighs) {
    const ip = n.dst ? Ip.tryParse(n.dst) : undefined;
    // IPv6 link-local neighbours are the kernel's own (router discovery), and so are NOARP
    // ones (multicast groups such as ff02::16, on a device with IPv6 turned on), not ours
    if (!ip || LINK_LOCAL6.contains(ip) || MULTICAST.some((m) => m.contains(ip)) || (n.state & NUD_NOARP) !== 0) continue;
    if (ip.family === 6 && !v6) continue;
    const lladdr = n.lladdr ? Mac.tryParse(n.lladdr, { unicastOnly: false }) : undefined;
    neighs.push({ dst: ip, dev: n.dev, lladdr, permanent: (n.state & NUD_PERMANENT) !== 0 });
  }
  const fdb: ActualFdb[] = [];
  for (const f of k.fdb) {
    const ip = f.dst ? Ip.tryParse(f.dst) : undefined;
    // the all-zero MAC is how the kernel spells a default (flooding) entry: ours to prune too
    const mac = f.lladdr ? Mac.tryParse(f.lladdr, { unicastOnly: false }) : undefined;
    if (!ip || !mac) continue;
    fdb.push({ mac, dst: ip, dev: f.dev, permanent: (f.state & NUD_PERMANENT) !== 0 });
  }
  // every nexthop object on our devices is ours: only tunnel routes name them
  const nexthops: ActualNexthop[] = k.nexthops.map((h) => ({
    id: h.id, via: h.gateway ? Ip.tryParse(h.gateway) : undefined, dev: h.dev, onlink: (h.flags & RTNH_F_ONLINK) !== 0,
  }));
  return { routes, neighs, fdb, nexthops };
}
