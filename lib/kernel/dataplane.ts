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
import { AF_BRIDGE, AF_INET, AF_INET6, NUD_NOARP, NUD_PERMANENT, RTM_NEWNEIGH } from './netlink/constants.js';
import { decodeNeigh, NlLink, NlNeigh, NlRoute } from './netlink/decode.js';
import { ENOENT, errnoName } from './netlink/errors.js';
import { dumpLinksOn, dumpRoutesOn } from './netlink/query.js';
import { delFdb, delNeigh, delRoute, dumpFdb, dumpNeighs, replaceNeigh, replaceRoute, setFdb } from './netlink/requests.js';
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

/** The netlink request of one typed operation, given the devices' ifindexes. */
export function opRequest(o: DataplaneOp, index: number): Request {
  switch (o.kind) {
    case 'route': {
      const r = { dst: o.entry.dst.toString(), gw: o.entry.via?.toString(), oif: index, dev: o.entry.dev, onlink: o.entry.onlink };
      return o.op === 'del' ? delRoute(r) : replaceRoute(r);
    }
    case 'neigh':
      return o.op === 'del'
        ? delNeigh({ index, dev: o.entry.dev, dst: o.entry.dst.toString() })
        : replaceNeigh({ index, dev: o.entry.dev, dst: o.entry.dst.toString(), lladdr: o.entry.lladdr.toString() });
    case 'fdb': {
      const f = { index, dev: o.entry.dev, mac: o.entry.mac.toString(), dst: o.entry.dst.toString() };
      return o.op === 'del' ? delFdb(f) : setFdb(f, o.op);
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
