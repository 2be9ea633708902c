// The per-peer dataplane as a dry-run reconcile: the desired entries come from the same pure
// code twilld programs from (lib/dataplane/peer-entries.ts, peer selection included), the
// actual ones are read over netlink with the daemon's own notion of "ours" (lib/kernel/
// dataplane.ts), and the daemon's planner (lib/dataplane/plan.ts) says what a reconcile would
// change. Each planned operation becomes one finding whose fix is that operation spelled as
// its `ip`/`bridge` command: what doctor reports is what twilld would repair. IPv4 here; the
// IPv6 half is check-v6.ts.
import { vxlanDeviceName } from '../../lib/dataplane/devices.js';
import { ActualEntries, ActualRoute, DataplaneEntries, fdbKey, neighKey, routeKey } from '../../lib/dataplane/entries.js';
import { LocalSide, peerEntriesFor } from '../../lib/dataplane/peer-entries.js';
import { isPeer } from '../../lib/dataplane/peers.js';
import { DataplaneOp, opText, planDataplane } from '../../lib/dataplane/plan.js';
import { Cidr } from '../../lib/ip/cidr.js';
import { KernelDataplane, ourEntries } from '../../lib/kernel/dataplane.js';
import type { Lease } from '../../lib/schema/lease.js';
import type { DoctorInput } from './context.js';
import type { Findings } from './findings.js';

/** The uplink as twilld sees it: its name and the IPv4 prefix of its address. */
export function localSide(i: DoctorInput): LocalSide | undefined {
  if (!i.iface) return undefined;
  const infos = i.state.addrs.filter((a) => a.ifname === i.iface!.ifname).flatMap((a) => a.addr_info).filter((x) => x.family === 'inet');
  const mine = infos.find((x) => x.local === i.own.attrs.PublicIP.toString()) ?? infos[0];
  return { ifaceName: i.iface.ifname, ...(mine ? { network: Cidr.parse(`${mine.local}/${mine.prefixlen}`) } : {}) };
}

const describeRoute = (r: ActualRoute) => `${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;
const peerSubject = (p: Lease) => `${p.subnet} (node ${p.attrs.PublicIP})`;

export interface DataplanePlan {
  peers: number;
  ops: DataplaneOp[];
}

/** What twilld's next full reconcile would change on this node (IPv4 entries). */
export function planNode(i: DoctorInput, kernel: KernelDataplane): { plan: DataplanePlan; peerOf: Map<string, Lease>; actual: ActualEntries } {
  const local = localSide(i) ?? { ifaceName: '' };
  const devices = i.config.Backend.Type === 'vxlan' ? [vxlanDeviceName(i.config.Backend.VNI)] : [];
  const desired: DataplaneEntries = { routes: [], neighs: [], fdb: [] };
  const peerOf = new Map<string, Lease>();
  let peers = 0;
  const v4 = { ...i.config, EnableIPv6: false };
  for (const p of i.peers) {
    if (!isPeer(i.own, p)) continue;
    const e = peerEntriesFor(v4, local, p);
    if (!e) continue;
    peers++;
    for (const r of e.routes) { desired.routes.push(r); peerOf.set(`route|${routeKey(r)}`, p); }
    for (const n of e.neighs) { desired.neighs.push(n); peerOf.set(`neigh|${neighKey(n)}`, p); }
    for (const f of e.fdb) { desired.fdb.push(f); peerOf.set(`fdb|${fdbKey(f)}`, p); }
  }
  const all = ourEntries(kernel, devices, v4, i.own);
  const actual: ActualEntries = {
    routes: all.routes.filter((r) => r.dst.family === 4),
    neighs: all.neighs.filter((n) => n.dst.family === 4),
    fdb: all.fdb.filter((f) => f.dst.family === 4),
  };
  return { plan: { peers, ops: planDataplane(desired, actual).ops }, peerOf, actual };
}

/** One finding per planned operation, in the planner's order (deletions first). */
export function explainPlan(i: DoctorInput, kernel: KernelDataplane, f: Findings): number {
  const { plan, peerOf, actual } = planNode(i, kernel);
  for (const o of plan.ops) {
    const fix = opText(o);
    const peer = peerOf.get(`${o.kind}|${o.key}`);
    const subject = peer ? peerSubject(peer) : o.key;
    switch (o.kind) {
      case 'route':
        if (o.op === 'del') f.error('stale-route', o.entry.dst.toString(), `route "${describeRoute(o.entry)}" leads to a subnet no node holds`, fix);
        else if (!o.have) f.error('route', subject, `no route to ${o.entry.dst}: pods on node ${peer?.attrs.PublicIP} are unreachable`, fix);
        else f.error('route', subject, `route is "${describeRoute(o.have)}", expected "${describeRoute(o.entry)}"`, fix);
        break;
      case 'neigh':
        if (o.op === 'del') f.error('stale-neighbour', o.entry.dst.toString(), `neighbour ${o.entry.dst} (${o.entry.lladdr ?? 'no address'}) on ${o.entry.dev} belongs to no lease`, fix);
        else if (!o.have) f.error('neighbour', subject, `no neighbour entry for ${o.entry.dst} on ${o.entry.dev}`, fix);
        else if (!o.have.lladdr?.equals(o.entry.lladdr)) f.error('neighbour', subject, `neighbour ${o.entry.dst} resolves to ${o.have.lladdr ?? 'nothing'}, the lease says ${o.entry.lladdr}`, fix);
        else f.error('neighbour', subject, `neighbour ${o.entry.dst} is not permanent`, fix);
        break;
      case 'fdb': {
        if (o.op === 'del') {
          f.error('stale-fdb', o.entry.mac.toString(), `FDB entry ${o.entry.mac} -> ${o.entry.dst} on ${o.entry.dev} belongs to no lease`, fix);
          break;
        }
        const mac = o.entry.mac;
        const others = actual.fdb.filter((x) => x.dev === o.entry.dev && x.mac.equals(mac) && !x.dst.equals(o.entry.dst));
        if (o.have) f.error('fdb', subject, `FDB entry ${mac} -> ${o.entry.dst} is not permanent`, fix);
        else if (others.length) f.error('fdb', subject, `FDB sends ${mac} to ${others.map((x) => x.dst).join(',')}, the lease says ${o.entry.dst}`, fix);
        else f.error('fdb', subject, `no FDB entry for ${mac} on ${o.entry.dev}`, fix);
        break;
      }
    }
  }
  return plan.peers;
}
