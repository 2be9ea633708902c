// Builders for the rtnetlink requests twill sends, each with its `ip` (or `bridge`) spelling
// for errors and logs. Pure: they only encode; NetlinkSocket sends them.
import {
  AF_INET, AF_INET6, IFA_ADDRESS, IFA_FLAGS, IFA_F_NODAD, IFA_LOCAL, IFF_UP, IFLA_AF_SPEC, IFLA_INET6_ADDR_GEN_MODE, IFLA_ADDRESS, IFLA_BRPORT_MODE, IFLA_IFNAME, IFLA_INFO_DATA,
  IFLA_INFO_KIND, IFLA_INFO_SLAVE_DATA, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, NLM_F_CREATE,
  NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_APPEND, AF_BRIDGE, AF_UNSPEC, NDA_DST, NDA_LLADDR, NTF_SELF, NUD_PERMANENT,
  RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH, RTM_DELROUTE, RT_SCOPE_NOWHERE, RTA_DST, RTA_GATEWAY, RTA_OIF, RTM_DELLINK, RTM_GETADDR, RTM_GETLINK,
  RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK, RTNH_F_ONLINK, RTN_UNICAST, RTPROT_BOOT,
  RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, VETH_INFO_PEER, IN6_ADDR_GEN_MODE_NONE, RTM_DELADDR,
  IFLA_VXLAN_ID, IFLA_VXLAN_LEARNING, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6, IFLA_VXLAN_PORT,
  RTM_GETNEXTHOP,
} from './constants.js';
import { Request } from './socket.js';
import { attr, attrNested, attrString, attrU32, attrU8, ifaddrmsg, ifinfomsg, ipBytes, macBytes, ndmsg, nhmsg, rtmsg } from './wire.js';

/**
 * A link is named by its name, or by its index when that is already known (with its name,
 * for errors: the kernel only sees the index).
 */
export type LinkRef = string | number | { index: number; name: string };

function linkHeader(ref: LinkRef, extra: { flags?: number; change?: number; family?: number } = {}): { header: Buffer; attrs: Buffer[]; name: string } {
  if (typeof ref === 'string') return { header: ifinfomsg(extra), attrs: [attrString(IFLA_IFNAME, ref)], name: ref };
  const index = typeof ref === 'number' ? ref : ref.index;
  return { header: ifinfomsg({ index, ...extra }), attrs: [], name: typeof ref === 'number' ? `index ${ref}` : ref.name };
}

export function getLink(ref: LinkRef): Request {
  const { header, attrs, name } = linkHeader(ref);
  return { op: `link show dev ${name}`, type: RTM_GETLINK, flags: 0, header, attrs };
}

export function dumpLinks(): Request {
  return { op: 'link show', type: RTM_GETLINK, flags: NLM_F_DUMP, header: ifinfomsg() };
}

export interface BridgeSpec {
  name: string;
  mac?: string;
  mtu?: number;
}

export function addBridge(b: BridgeSpec): Request {
  return {
    op: `link add name ${b.name}${b.mac ? ` address ${b.mac}` : ''}${b.mtu ? ` mtu ${b.mtu}` : ''} type bridge`,
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: ifinfomsg(),
    attrs: [
      attrString(IFLA_IFNAME, b.name),
      ...(b.mac ? [attr(IFLA_ADDRESS, macBytes(b.mac))] : []),
      ...(b.mtu ? [attrU32(IFLA_MTU, b.mtu)] : []),
      attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, 'bridge')]),
    ],
  };
}

export interface VethEnd {
  name: string;
  mtu?: number;
  mac?: string;
}

/**
 * A veth pair whose peer is created directly inside another namespace (an open fd of its
 * nsfs file): no move afterwards, so the peer's name never exists in our namespace.
 */
export function addVeth(host: VethEnd, peer: VethEnd & { netnsFd?: number; netnsLabel?: string }): Request {
  const endAttrs = (e: VethEnd) => [
    attrString(IFLA_IFNAME, e.name),
    ...(e.mtu ? [attrU32(IFLA_MTU, e.mtu)] : []),
    ...(e.mac ? [attr(IFLA_ADDRESS, macBytes(e.mac))] : []),
  ];
  const peerAttrs = [...endAttrs(peer), ...(peer.netnsFd !== undefined ? [attrU32(IFLA_NET_NS_FD, peer.netnsFd)] : [])];
  const spell = (e: VethEnd) => `${e.name}${e.mtu ? ` mtu ${e.mtu}` : ''}${e.mac ? ` address ${e.mac}` : ''}`;
  return {
    op: `link add name ${spell(host)} type veth peer name ${spell(peer)}${peer.netnsLabel ? ` netns ${peer.netnsLabel}` : ''}`,
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: ifinfomsg(),
    attrs: [
      ...endAttrs(host),
      attrNested(IFLA_LINKINFO, [
        attrString(IFLA_INFO_KIND, 'veth'),
        // VETH_INFO_PEER is an ifinfomsg followed by attributes, not a plain nest: no NESTED flag.
        attrNested(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, Buffer.concat([ifinfomsg(), ...peerAttrs]))]),
      ]),
    ],
  };
}

export interface VxlanSpec {
  name: string;
  vni: number;
  /** the underlay address the tunnel's packets leave from (its family picks LOCAL or LOCAL6) */
  local: string;
  /** ifindex of the underlay link, and its name for messages */
  link: number;
  linkName: string;
  /** UDP destination port */
  port: number;
  mac?: string;
  mtu?: number;
}

/**
 * A VXLAN link with learning off (`ip link add X address M mtu N type vxlan id V dev D local L
 * dstport P nolearning`): the FDB holds only the entries the daemon writes.
 */
export function addVxlan(v: VxlanSpec): Request {
  if (!Number.isInteger(v.vni) || v.vni < 0 || v.vni > 0xffffff) throw new Error(`bad VNI ${v.vni}`);
  if (!Number.isInteger(v.port) || v.port < 1 || v.port > 0xffff) throw new Error(`bad UDP port ${v.port}`);
  const local = ipBytes(v.local);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(v.port, 0);
  return {
    op: `link add ${v.name}${v.mac ? ` address ${v.mac}` : ''}${v.mtu ? ` mtu ${v.mtu}` : ''} type vxlan id ${v.vni} dev ${v.linkName} local ${v.local} dstport ${v.port} nolearning`,
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: ifinfomsg(),
    attrs: [
      attrString(IFLA_IFNAME, v.name),
      ...(v.mac ? [attr(IFLA_ADDRESS, macBytes(v.mac))] : []),
      ...(v.mtu ? [attrU32(IFLA_MTU, v.mtu)] : []),
      attrNested(IFLA_LINKINFO, [
        attrString(IFLA_INFO_KIND, 'vxlan'),
        attrNested(IFLA_INFO_DATA, [
          attrU32(IFLA_VXLAN_ID, v.vni),
          attrU32(IFLA_VXLAN_LINK, v.link),
          attr(local.length === 16 ? IFLA_VXLAN_LOCAL6 : IFLA_VXLAN_LOCAL, local),
          attr(IFLA_VXLAN_PORT, port),
          attrU8(IFLA_VXLAN_LEARNING, 0),
        ]),
      ]),
    ],
  };
}

export interface LinkChanges {
  up?: boolean;
  mtu?: number;
  /** ifindex of the new master */
  master?: number;
  masterName?: string;
  mac?: string;
}

export function setLink(ref: LinkRef, c: LinkChanges): Request {
  const flagBits = c.up === undefined ? {} : { flags: c.up ? IFF_UP : 0, change: IFF_UP };
  const { header, attrs, name } = linkHeader(ref, flagBits);
  const words = [
    ...(c.master !== undefined ? [`master ${c.masterName ?? c.master}`] : []),
    ...(c.mtu ? [`mtu ${c.mtu}`] : []),
    ...(c.mac ? [`address ${c.mac}`] : []),
    ...(c.up === undefined ? [] : [c.up ? 'up' : 'down']),
  ];
  return {
    op: `link set dev ${name} ${words.join(' ')}`,
    type: RTM_SETLINK,
    flags: 0,
    header,
    attrs: [
      ...attrs,
      ...(c.mtu ? [attrU32(IFLA_MTU, c.mtu)] : []),
      ...(c.master !== undefined ? [attrU32(IFLA_MASTER, c.master)] : []),
      ...(c.mac ? [attr(IFLA_ADDRESS, macBytes(c.mac))] : []),
    ],
  };
}

/**
 * Hairpin on a bridge port, through the master's slave data (as `ip link set dev X type
 * bridge_slave hairpin on`): works by name, so no index look-up first. The port must
 * already be enslaved, i.e. this goes after the setLink that sets the master.
 */
export function setHairpin(ref: LinkRef, on: boolean): Request {
  const { header, attrs, name } = linkHeader(ref);
  return {
    op: `link set dev ${name} type bridge_slave hairpin ${on ? 'on' : 'off'}`,
    type: RTM_NEWLINK,
    flags: 0,
    header,
    attrs: [...attrs, attrNested(IFLA_LINKINFO, [attrNested(IFLA_INFO_SLAVE_DATA, [attrU8(IFLA_BRPORT_MODE, on ? 1 : 0)])])],
  };
}

export function delLink(ref: LinkRef): Request {
  const { header, attrs, name } = linkHeader(ref);
  return { op: `link del dev ${name}`, type: RTM_DELLINK, flags: 0, header, attrs };
}

export interface AddrSpec {
  /** ifindex of the link */
  index: number;
  /** for errors only */
  dev: string;
  /** IPv4 or IPv6 (the family follows the address) */
  ip: string;
  prefix: number;
  /** replace: update or add (`addr replace`); otherwise an existing address is EEXIST */
  replace?: boolean;
  /**
   * IPv6: usable at once instead of "tentative" for the length of duplicate-address
   * detection (a second or more), during which the kernel will not use it as a source.
   */
  nodad?: boolean;
}

export function addAddr(a: AddrSpec): Request {
  const bytes = ipBytes(a.ip);
  const v6 = bytes.length === 16;
  const max = v6 ? 128 : 32;
  if (!Number.isInteger(a.prefix) || a.prefix < 0 || a.prefix > max) throw new Error(`bad prefix length /${a.prefix} for ${a.ip}`);
  const flags = a.nodad ? IFA_F_NODAD : 0;
  return {
    op: `addr ${a.replace ? 'replace' : 'add'} ${a.ip}/${a.prefix} dev ${a.dev}${a.nodad ? ' nodad' : ''}`,
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | (a.replace ? NLM_F_REPLACE : NLM_F_EXCL),
    // the flag goes both in the header (what older kernels read) and as IFA_FLAGS, as `ip` does
    header: ifaddrmsg({ family: v6 ? AF_INET6 : AF_INET, prefixlen: a.prefix, index: a.index, flags }),
    attrs: [
      attr(IFA_LOCAL, bytes),
      attr(IFA_ADDRESS, bytes),
      ...(flags ? [attrU32(IFA_FLAGS, flags)] : []),
    ],
  };
}

/** `ip addr del IP/PREFIX dev X`. */
export function delAddr(a: Omit<AddrSpec, 'replace' | 'nodad'>): Request {
  const bytes = ipBytes(a.ip);
  const v6 = bytes.length === 16;
  return {
    op: `addr del ${a.ip}/${a.prefix} dev ${a.dev}`,
    type: RTM_DELADDR,
    flags: 0,
    header: ifaddrmsg({ family: v6 ? AF_INET6 : AF_INET, prefixlen: a.prefix, index: a.index }),
    attrs: [attr(IFA_LOCAL, bytes), attr(IFA_ADDRESS, bytes)],
  };
}

/**
 * `ip link set dev X addrgenmode none`: the kernel makes no IPv6 link-local address when the
 * link comes up (one it made would be tentative during DAD); the caller adds its own.
 */
export function setAddrGenModeNone(ref: LinkRef): Request {
  const { header, attrs, name } = linkHeader(ref);
  return {
    op: `link set dev ${name} addrgenmode none`,
    type: RTM_SETLINK,
    flags: 0,
    header,
    attrs: [...attrs, attrNested(IFLA_AF_SPEC, [attrNested(AF_INET6, [attrU8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE)])])],
  };
}

export function dumpAddrs(family: number = AF_INET): Request {
  return { op: 'addr show', type: RTM_GETADDR, flags: NLM_F_DUMP, header: ifaddrmsg({ family, prefixlen: 0, index: 0 }) };
}

export interface RouteSpec {
  /** "0.0.0.0/0", "::/0" (or "default", IPv4 unless `gw` is IPv6) or a CIDR or a bare address */
  dst: string;
  gw?: string;
  /** ifindex of the output link */
  oif: number;
  /** for errors only */
  dev: string;
  onlink?: boolean;
}

/** `route add`: create, and fail with EEXIST when the route is already there. */
export function addRoute(r: RouteSpec): Request {
  return routeRequest(r, 'add');
}

/** `route replace`: create or overwrite the route to that destination (one round trip, no EEXIST). */
export function replaceRoute(r: RouteSpec): Request {
  return routeRequest(r, 'replace');
}

/** `route del`: the route to that destination through that device (and gateway, when given). */
export function delRoute(r: RouteSpec): Request {
  return routeRequest(r, 'del');
}

function routeRequest(r: RouteSpec, mode: 'add' | 'replace' | 'del'): Request {
  const v6 = r.dst === 'default' ? (r.gw ?? '').includes(':') : r.dst.includes(':');
  const max = v6 ? 128 : 32;
  const [net, len] = r.dst === 'default' ? [v6 ? '::' : '0.0.0.0', '0'] : r.dst.split('/');
  const dstLen = len === undefined ? max : Number(len);
  if (!Number.isInteger(dstLen) || dstLen < 0 || dstLen > max) throw new Error(`bad route destination "${r.dst}"`);
  if (r.gw && r.gw.includes(':') !== v6) throw new Error(`route ${r.dst} via ${r.gw}: the gateway is not of the destination's family`);
  const del = mode === 'del';
  return {
    op: `route ${mode} ${dstLen === 0 ? 'default' : r.dst}${r.gw ? ` via ${r.gw}` : ''} dev ${r.dev}${r.onlink && !del ? ' onlink' : ''}`,
    type: del ? RTM_DELROUTE : RTM_NEWROUTE,
    flags: del ? 0 : NLM_F_CREATE | (mode === 'replace' ? NLM_F_REPLACE : NLM_F_EXCL),
    // a delete matches any protocol, type and (IPv4) scope, as `ip route del` does
    header: rtmsg({
      family: v6 ? AF_INET6 : AF_INET,
      dstLen,
      table: RT_TABLE_MAIN,
      protocol: del ? 0 : RTPROT_BOOT,
      scope: del ? (v6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE) : r.gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      type: del ? 0 : RTN_UNICAST,
      flags: r.onlink && !del ? RTNH_F_ONLINK : 0,
    }),
    attrs: [
      ...(dstLen > 0 ? [attr(RTA_DST, ipBytes(net))] : []),
      ...(r.gw ? [attr(RTA_GATEWAY, ipBytes(r.gw))] : []),
      attrU32(RTA_OIF, r.oif),
    ],
  };
}

export function dumpRoutes(family: number = AF_INET): Request {
  return { op: 'route show', type: RTM_GETROUTE, flags: NLM_F_DUMP, header: rtmsg({ family }) };
}

export interface NeighSpec {
  /** ifindex of the device */
  index: number;
  /** for messages only */
  dev: string;
  /** IPv4 or IPv6 (the family follows the address) */
  dst: string;
  lladdr: string;
}

/** `ip neigh replace DST lladdr MAC dev DEV nud permanent`: create or overwrite. */
export function replaceNeigh(n: NeighSpec): Request {
  const dst = ipBytes(n.dst);
  return {
    op: `neigh replace ${n.dst} lladdr ${n.lladdr} dev ${n.dev} nud permanent`,
    type: RTM_NEWNEIGH,
    flags: NLM_F_CREATE | NLM_F_REPLACE,
    header: ndmsg({ family: dst.length === 16 ? AF_INET6 : AF_INET, index: n.index, state: NUD_PERMANENT }),
    attrs: [attr(NDA_DST, dst), attr(NDA_LLADDR, macBytes(n.lladdr))],
  };
}

/** `ip neigh del DST dev DEV` */
export function delNeigh(n: Omit<NeighSpec, 'lladdr'>): Request {
  const dst = ipBytes(n.dst);
  return {
    op: `neigh del ${n.dst} dev ${n.dev}`,
    type: RTM_DELNEIGH,
    flags: 0,
    header: ndmsg({ family: dst.length === 16 ? AF_INET6 : AF_INET, index: n.index }),
    attrs: [attr(NDA_DST, dst)],
  };
}

/** Every nexthop object of the namespace (callers filter by device). */
export function dumpNexthops(): Request {
  return { op: 'nexthop show', type: RTM_GETNEXTHOP, flags: NLM_F_DUMP, header: nhmsg({ family: AF_UNSPEC }) };
}

/** Neighbours of every family and device (callers filter by ifindex). */
export function dumpNeighs(family: number = AF_UNSPEC): Request {
  return { op: 'neigh show', type: RTM_GETNEIGH, flags: NLM_F_DUMP, header: ndmsg({ family, index: 0 }) };
}

export interface FdbSpec {
  /** ifindex of the VXLAN device */
  index: number;
  dev: string;
  mac: string;
  /** the remote VTEP's underlay address */
  dst: string;
}

/**
 * `bridge fdb append|replace MAC dev DEV dst IP self permanent`. A VXLAN device keeps a list
 * of remotes per MAC: append adds this one beside the others, replace overwrites the first.
 */
export function setFdb(f: FdbSpec, mode: 'append' | 'replace' = 'append'): Request {
  return {
    op: `fdb ${mode} ${f.mac} dev ${f.dev} dst ${f.dst} self permanent`,
    type: RTM_NEWNEIGH,
    flags: NLM_F_CREATE | (mode === 'append' ? NLM_F_APPEND : NLM_F_REPLACE),
    header: ndmsg({ family: AF_BRIDGE, index: f.index, state: NUD_PERMANENT, flags: NTF_SELF }),
    attrs: [attr(NDA_LLADDR, macBytes(f.mac)), attr(NDA_DST, ipBytes(f.dst))],
  };
}

/** `bridge fdb del MAC dev DEV dst IP self`: that one remote of the MAC. */
export function delFdb(f: FdbSpec): Request {
  return {
    op: `fdb del ${f.mac} dev ${f.dev} dst ${f.dst} self`,
    type: RTM_DELNEIGH,
    flags: 0,
    header: ndmsg({ family: AF_BRIDGE, index: f.index, flags: NTF_SELF }),
    attrs: [attr(NDA_LLADDR, macBytes(f.mac)), attr(NDA_DST, ipBytes(f.dst))],
  };
}

/** Every bridge FDB entry of every device (callers filter by ifindex). */
export function dumpFdb(): Request {
  return { op: 'fdb show', type: RTM_GETNEIGH, flags: NLM_F_DUMP, header: ndmsg({ family: AF_BRIDGE, index: 0 }) };
}
