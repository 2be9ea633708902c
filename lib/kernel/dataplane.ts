// The overlay's entries in and out of the kernel over netlink, for the daemon's reconcile and
// twillctl doctor alike: one dump each of links, routes, neighbours and FDB entries, and a
// plan's operations written as one netlink batch (thousands of entries in a few sends, every
// failure reported with its errno). No process is spawned.
import type { ActualEntries, ActualFdb, ActualNeigh, ActualRoute } from '../dataplane/entries.js';
import type { DataplaneOp } from '../dataplane/plan.js';
import { Cidr, Ip } from '../ip/cidr.js';
import { Mac } from '../ip/mac.js';
import type { Lease } from '../schema/lease.js';
import type { NetworkConfig } from '../schema/network-config.js';
import { opText } from '../dataplane/plan.js';
import {
  AF_BRIDGE, AF_INET, AF_INET6, NDA_DST, NDA_LLADDR, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE, NTF_SELF, NUD_NOARP, NUD_PERMANENT,
  RTA_DST, RTA_GATEWAY, RTA_OIF, RTM_DELNEIGH, RTM_DELROUTE, RTM_NEWNEIGH, RTM_NEWROUTE, RTN_UNICAST, RTNH_F_ONLINK, RTPROT_BOOT,
  RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
} from './netlink/constants.js';
import { decodeNeigh, NlLink, NlNeigh, NlRoute } from './netlink/decode.js';
import { ENOENT, errnoName } from './netlink/errors.js';
import { dumpLinksOn, dumpRoutesOn } from './netlink/query.js';
import { dumpFdb, dumpNeighs } from './netlink/requests.js';
import { attr, attrU32, ndmsg, rtmsg } from './netlink/wire.js';
import type { NetlinkSocket, Request } from './netlink/socket.js';

export const ESRCH = 3;

export interface KernelDataplane {
  links: NlLink[];
  /** main-table routes of both families, each with its device's name */
  routes: (NlRoute & { dev?: string })[];
  /** neighbours (not FDB) of the given devices, with the device's name */
  neighs: (NlNeigh & { dev: string })[];
  /** bridge FDB entries of the given devices */
  fdb: (NlNeigh & { dev: string })[];
}

/** Everything reconcile or doctor needs to see, in five dumps on one socket. */
export function readKernelDataplane(s: NetlinkSocket, devices: readonly string[], ipv6: boolean): KernelDataplane {
  const links = dumpLinksOn(s);
  const names = new Map(links.map((l) => [l.ifindex, l.ifname]));
  const ours = new Map(links.filter((l) => devices.includes(l.ifname)).map((l) => [l.ifindex, l.ifname]));
  const routes = [...dumpRoutesOn(s, AF_INET), ...(ipv6 ? dumpRoutesOn(s, AF_INET6) : [])]
    .map((r) => ({ ...r, ...(r.oif !== undefined && names.has(r.oif) ? { dev: names.get(r.oif) } : {}) }));
  const onOurs = (family?: number) => (msgs: ReturnType<NetlinkSocket['dump']>) => msgs
    .filter((m) => m.type === RTM_NEWNEIGH).map(decodeNeigh)
    .filter((n) => ours.has(n.ifindex) && (family === undefined ? n.family !== AF_BRIDGE : n.family === family))
    .map((n) => ({ ...n, dev: ours.get(n.ifindex)! }));
  const neighs = ours.size ? onOurs()(s.dump(dumpNeighs())) : [];
  const fdb = ours.size ? onOurs(AF_BRIDGE)(s.dump(dumpFdb())) : [];
  return { links, routes, neighs, fdb };
}

export interface OpFailure {
  /** the operation as an `ip`/`bridge` command */
  op: string;
  errno: number;
  code: string;
  message: string;
}

/** An address's network-order bytes straight from its value (no text round trip). */
function ipBytesOf(ip: Ip): Buffer {
  if (ip.family === 4) {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(Number(ip.value), 0);
    return b;
  }
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(ip.value >> 64n, 0);
  b.writeBigUInt64BE(ip.value & 0xffffffffffffffffn, 8);
  return b;
}

/**
 * The netlink request of one typed operation on the device with that ifindex: the same
 * messages as lib/kernel/netlink/requests.ts's replaceRoute/delRoute, replaceNeigh/delNeigh
 * and setFdb/delFdb (the unit tests hold the two to the same bytes), encoded from the typed
 * values directly, since a pass may carry tens of thousands. The `ip` spelling is made only
 * when an error asks for it.
 */
export function opRequest(o: DataplaneOp, index: number): Request {
  const lazyOp = { get op() { return opText(o).replace(/^(ip|bridge) /, ''); } };
  switch (o.kind) {
    case 'route': {
      const e = o.entry;
      const v6 = e.dst.family === 6;
      const del = o.op === 'del';
      const attrs = [
        ...(e.dst.prefix > 0 ? [attr(RTA_DST, ipBytesOf(e.dst.first))] : []),
        ...(e.via ? [attr(RTA_GATEWAY, ipBytesOf(e.via))] : []),
        attrU32(RTA_OIF, index),
      ];
      return Object.assign(lazyOp, {
        type: del ? RTM_DELROUTE : RTM_NEWROUTE,
        flags: del ? 0 : NLM_F_CREATE | NLM_F_REPLACE,
        header: rtmsg({
          family: v6 ? AF_INET6 : AF_INET,
          dstLen: e.dst.prefix,
          table: RT_TABLE_MAIN,
          protocol: del ? 0 : RTPROT_BOOT,
          scope: del ? (v6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE) : e.via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
          type: del ? 0 : RTN_UNICAST,
          flags: e.onlink && !del ? RTNH_F_ONLINK : 0,
        }),
        attrs,
      });
    }
    case 'neigh': {
      const e = o.entry;
      const family = e.dst.family === 6 ? AF_INET6 : AF_INET;
      if (o.op === 'del') {
        return Object.assign(lazyOp, { type: RTM_DELNEIGH, flags: 0, header: ndmsg({ family, index }), attrs: [attr(NDA_DST, ipBytesOf(e.dst))] });
      }
      return Object.assign(lazyOp, {
        type: RTM_NEWNEIGH,
        flags: NLM_F_CREATE | NLM_F_REPLACE,
        header: ndmsg({ family, index, state: NUD_PERMANENT }),
        attrs: [attr(NDA_DST, ipBytesOf(e.dst)), attr(NDA_LLADDR, Buffer.from(o.entry.lladdr.bytes))],
      });
    }
    case 'fdb': {
      const e = o.entry;
      const del = o.op === 'del';
      return Object.assign(lazyOp, {
        type: del ? RTM_DELNEIGH : RTM_NEWNEIGH,
        flags: del ? 0 : NLM_F_CREATE | (o.op === 'append' ? NLM_F_APPEND : NLM_F_REPLACE),
        header: ndmsg({ family: AF_BRIDGE, index, ...(del ? {} : { state: NUD_PERMANENT }), flags: NTF_SELF }),
        attrs: [attr(NDA_LLADDR, Buffer.from(e.mac.bytes)), attr(NDA_DST, ipBytesOf(e.dst))],
      });
    }
  }
}

/**
 * Writes the operations in order as one batch. A deletion of what is already gone has
 * reached its goal and is no failure; everything else that fails is returned.
 */
export function applyDataplaneOps(s: NetlinkSocket, ops: readonly DataplaneOp[], ifindex: (dev: string) => number | undefined): OpFailure[] {
  const failures: OpFailure[] = [];
  const sent: DataplaneOp[] = [];
  const requests: Request[] = [];
  for (const o of ops) {
    const index = ifindex(o.entry.dev);
    if (index === undefined) {
      failures.push({ op: opText(o), errno: 19, code: 'ENODEV', message: `${opText(o)}: no device ${o.entry.dev}` });
      continue;
    }
    sent.push(o);
    requests.push(opRequest(o, index));
  }
  s.batch(requests).forEach((outcome, i) => {
    const e = outcome.error;
    if (!e) return;
    if (sent[i].op === 'del' && (e.errno === ENOENT || e.errno === ESRCH)) return;
    failures.push({ op: opText(sent[i]), errno: e.errno, code: errnoName(e.errno), message: e.message });
  });
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
    routes.push({ dst: c, via: r.gateway ? Ip.tryParse(r.gateway) : undefined, dev: r.dev, onlink: r.flags.includes('onlink') });
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
  return { routes, neighs, fdb };
}
