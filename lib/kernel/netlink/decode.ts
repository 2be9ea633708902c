// Reads rtnetlink answers (and events, which are the same messages) into the same shapes
// `ip -json` gives (lib/kernel/ip.ts Link, AddrInfo, Route), plus neighbour/FDB entries.
import type { Link, Route } from '../ip.js';
import {
  AF_INET6, IFA_ADDRESS, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, IFF_NAMES, IFLA_ADDRESS, IFLA_BRPORT_MODE, IFLA_IFNAME,
  IFLA_INFO_KIND, IFLA_INFO_SLAVE_DATA, IFLA_INFO_SLAVE_KIND, IFLA_LINKINFO, IFLA_LINK_NETNSID, IFLA_MASTER,
  IFLA_MTU, IFLA_OPERSTATE, IFLA_INFO_DATA, IFLA_VXLAN_ID, IFLA_VXLAN_LEARNING, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6, IFLA_VXLAN_PORT, NDA_DST, NDA_LLADDR, NDA_MASTER, OPERSTATES, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_NH_ID, RTA_PREFSRC, RTA_TABLE, RTNH_F_ONLINK, NHA_GATEWAY, NHA_ID, NHA_OIF,
} from './constants.js';
import { formatIp, formatMac, parseAttrs, RawMessage, readString } from './wire.js';

/** A Link plus the numbers `ip` would have turned into names. */
export interface NlLink extends Link {
  masterIndex?: number;
}

export function decodeLink(m: RawMessage): NlLink {
  const p = m.payload;
  const index = p.readInt32LE(4);
  const flags = p.readUInt32LE(8);
  const a = parseAttrs(p.subarray(16));
  const link: NlLink = {
    ifindex: index,
    ifname: readString(a.get(IFLA_IFNAME)) ?? '',
    flags: IFF_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n),
    mtu: a.get(IFLA_MTU)?.readUInt32LE(0) ?? 0,
    operstate: OPERSTATES[a.get(IFLA_OPERSTATE)?.readUInt8(0) ?? 0] ?? 'UNKNOWN',
  };
  const mac = a.get(IFLA_ADDRESS);
  if (mac) link.address = formatMac(mac);
  const master = a.get(IFLA_MASTER);
  if (master) link.masterIndex = master.readUInt32LE(0);
  const netnsid = a.get(IFLA_LINK_NETNSID);
  if (netnsid) link.link_netnsid = netnsid.readInt32LE(0);
  const info = a.get(IFLA_LINKINFO);
  if (info) link.linkinfo = decodeLinkInfo(info);
  return link;
}

function decodeLinkInfo(b: Buffer): NonNullable<Link['linkinfo']> {
  const a = parseAttrs(b);
  const out: NonNullable<Link['linkinfo']> = {};
  const kind = readString(a.get(IFLA_INFO_KIND));
  if (kind) out.info_kind = kind;
  const data = a.get(IFLA_INFO_DATA);
  if (data && kind === 'vxlan') out.info_data = decodeVxlanData(data);
  const slaveKind = readString(a.get(IFLA_INFO_SLAVE_KIND));
  if (slaveKind) out.info_slave_kind = slaveKind;
  const slaveData = a.get(IFLA_INFO_SLAVE_DATA);
  if (slaveData && slaveKind === 'bridge') {
    const mode = parseAttrs(slaveData).get(IFLA_BRPORT_MODE);
    if (mode) out.info_slave_data = { hairpin: mode.readUInt8(0) === 1 };
  }
  return out;
}

/**
 * A vxlan link's parameters under the names `ip -d -json` uses (id, local, local6, port,
 * learning), except that the underlay link is its ifindex, as `linkIndex` (`ip` prints
 * its name as `link`).
 */
function decodeVxlanData(b: Buffer): Record<string, unknown> {
  const a = parseAttrs(b);
  const out: Record<string, unknown> = {};
  const id = a.get(IFLA_VXLAN_ID);
  if (id) out.id = id.readUInt32LE(0);
  const link = a.get(IFLA_VXLAN_LINK);
  if (link) out.linkIndex = link.readUInt32LE(0);
  const local = a.get(IFLA_VXLAN_LOCAL);
  if (local) out.local = formatIp(local);
  const local6 = a.get(IFLA_VXLAN_LOCAL6);
  if (local6) out.local6 = formatIp(local6);
  const port = a.get(IFLA_VXLAN_PORT);
  if (port) out.port = port.readUInt16BE(0);
  const learning = a.get(IFLA_VXLAN_LEARNING);
  if (learning) out.learning = learning.readUInt8(0) !== 0;
  return out;
}

/** Fills in `master` by name from the same dump, as `ip link show` does. */
export function nameMasters(links: NlLink[]): NlLink[] {
  const byIndex = new Map(links.map((l) => [l.ifindex, l.ifname]));
  for (const l of links) if (l.masterIndex !== undefined && byIndex.has(l.masterIndex)) l.master = byIndex.get(l.masterIndex);
  return links;
}

export interface NlAddr {
  ifindex: number;
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  label?: string;
  /** IFA_F_* (IFA_FLAGS when the kernel sent it, else the header's 8 bits): tentative, dadfailed, nodad */
  flags: number;
  /** RT_SCOPE_*: 0 global, 253 link, 254 host */
  scope: number;
}

export function decodeAddr(m: RawMessage): NlAddr {
  const p = m.payload;
  const a = parseAttrs(p.subarray(8));
  const raw = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  return {
    ifindex: p.readUInt32LE(4),
    family: p.readUInt8(0) === AF_INET6 ? 'inet6' : 'inet',
    local: raw ? formatIp(raw) : '',
    prefixlen: p.readUInt8(1),
    flags: a.get(IFA_FLAGS)?.readUInt32LE(0) ?? p.readUInt8(2),
    scope: p.readUInt8(3),
    ...(a.has(IFA_LABEL) ? { label: readString(a.get(IFA_LABEL)) } : {}),
  };
}

export interface NlRoute extends Route {
  table: number;
  oif?: number;
  /** the nexthop object the route uses (RTA_NH_ID); the kernel still reports its gateway and device */
  nhid?: number;
}

const PROTOCOLS: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static' };
const SCOPES: Record<number, string> = { 0: 'global', 253: 'link', 254: 'host' };
const TYPES: Record<number, string> = { 1: 'unicast', 2: 'local', 3: 'broadcast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };

/** dst as `ip` prints it: "default", a bare address for a host route, else a CIDR. */
export function decodeRoute(m: RawMessage): NlRoute {
  const p = m.payload;
  const family = p.readUInt8(0);
  const dstLen = p.readUInt8(1);
  const a = parseAttrs(p.subarray(12));
  const table = a.get(RTA_TABLE)?.readUInt32LE(0) ?? p.readUInt8(4);
  const dstRaw = a.get(RTA_DST);
  const hostLen = family === AF_INET6 ? 128 : 32;
  const dst = dstLen === 0 || !dstRaw ? 'default' : dstLen === hostLen ? formatIp(dstRaw) : `${formatIp(dstRaw)}/${dstLen}`;
  const flags = p.readUInt32LE(8);
  const route: NlRoute = {
    dst,
    table,
    flags: flags & RTNH_F_ONLINK ? ['onlink'] : [],
    protocol: PROTOCOLS[p.readUInt8(5)] ?? String(p.readUInt8(5)),
    scope: SCOPES[p.readUInt8(6)] ?? String(p.readUInt8(6)),
    type: TYPES[p.readUInt8(7)] ?? String(p.readUInt8(7)),
  };
  const gw = a.get(RTA_GATEWAY);
  if (gw) route.gateway = formatIp(gw);
  const oif = a.get(RTA_OIF);
  if (oif) route.oif = oif.readUInt32LE(0);
  const src = a.get(RTA_PREFSRC);
  if (src) route.prefsrc = formatIp(src);
  const nhid = a.get(RTA_NH_ID);
  if (nhid) route.nhid = nhid.readUInt32LE(0);
  return route;
}

/** A nexthop object (`ip nexthop`): a single gateway on a device; groups and blackholes have neither. */
export interface NlNexthop {
  id: number;
  family: number;
  oif?: number;
  gateway?: string;
  /** RTNH_F_* bits (onlink) */
  flags: number;
  protocol: number;
}

export function decodeNexthop(m: RawMessage): NlNexthop {
  const p = m.payload;
  const a = parseAttrs(p.subarray(8));
  const nh: NlNexthop = { id: a.get(NHA_ID)?.readUInt32LE(0) ?? 0, family: p.readUInt8(0), flags: p.readUInt32LE(4), protocol: p.readUInt8(2) };
  const oif = a.get(NHA_OIF);
  if (oif) nh.oif = oif.readUInt32LE(0);
  const gw = a.get(NHA_GATEWAY);
  if (gw && (gw.length === 4 || gw.length === 16)) nh.gateway = formatIp(gw);
  return nh;
}

/** A neighbour (ARP/ND) entry or, with family AF_BRIDGE, an FDB entry: the same ndmsg. */
export interface NlNeigh {
  family: number;
  ifindex: number;
  /** NUD_* bits */
  state: number;
  /** NTF_* bits */
  flags: number;
  /** NDA_DST: the neighbour's address, or an FDB entry's remote VTEP */
  dst?: string;
  /** NDA_LLADDR */
  lladdr?: string;
  /** NDA_MASTER: the bridge of an FDB entry learnt on a port */
  master?: number;
}

export function decodeNeigh(m: RawMessage): NlNeigh {
  const p = m.payload;
  const a = parseAttrs(p.subarray(12));
  const n: NlNeigh = { family: p.readUInt8(0), ifindex: p.readInt32LE(4), state: p.readUInt16LE(8), flags: p.readUInt8(10) };
  const dst = a.get(NDA_DST);
  if (dst && (dst.length === 4 || dst.length === 16)) n.dst = formatIp(dst);
  const ll = a.get(NDA_LLADDR);
  if (ll && ll.length === 6) n.lladdr = formatMac(ll);
  const master = a.get(NDA_MASTER);
  if (master) n.master = master.readUInt32LE(0);
  return n;
}
