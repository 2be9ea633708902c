// The overlay's entries in and out of the kernel over netlink, for the daemon's reconcile and
// twillctl doctor alike: one dump each of links, routes, neighbours and FDB entries, and a
// plan's operations written as one netlink batch (thousands of entries in a few sends, every
// failure reported with its errno). No process is spawned.
import type { DataplaneOp } from '../dataplane/plan.js';
import { opText } from '../dataplane/plan.js';
import { AF_BRIDGE, AF_INET, AF_INET6, RTM_NEWNEIGH } from './netlink/constants.js';
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
