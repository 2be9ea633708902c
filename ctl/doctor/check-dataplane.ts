// The per-peer dataplane as a dry-run reconcile: the desired entries come from the same pure
// code twilld programs from (lib/dataplane/peer-entries.ts, peer selection included), the
// actual ones are read over netlink with the daemon's own notion of "ours" (lib/kernel/
// dataplane.ts), and the daemon's planner (lib/dataplane/plan.ts) says what a reconcile would
// change. Each planned operation becomes one finding whose fix is that operation spelled as
// its `ip`/`bridge` command: what doctor reports is what twilld would repair. Both families
// go through one plan, as in the daemon; a family whose VXLAN device is missing is left out
// (that is one device finding, and the daemon re-creates the device before programming it).
import { vxlan6DeviceName, vxlanDeviceName } from '../../lib/dataplane/devices.js';
import { ActualEntries, ActualNexthop, ActualRoute, DataplaneEntries, fdbKey, neighKey, nexthopKey, routeKey } from '../../lib/dataplane/entries.js';
import { LocalSide, peerEntriesFor } from '../../lib/dataplane/peer-entries.js';
import { isPeer } from '../../lib/dataplane/peers.js';
import { DataplaneOp, opText, planDataplane } from '../../lib/dataplane/plan.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { KernelDataplane, ourEntries } from '../../lib/kernel/dataplane.js';
import { type Lease, subnetOf } from '../../lib/schema/lease.js';
import type { DoctorInput } from './context.js';
import type { Findings } from './findings.js';

/** The uplink as twilld sees it: its name and the prefixes of its addresses (the lease's own, else the first global one). */
export function localSide(i: DoctorInput): LocalSide | undefined {
  if (!i.iface) return undefined;
  const infos = i.state.addrs.filter((a) => a.ifname === i.iface!.ifname).flatMap((a) => a.addr_info);
  const pick = (family: 'inet' | 'inet6', want?: Ip) => {
    const of = infos.filter((x) => x.family === family && (family === 'inet' || x.scope !== 'link'));
    const mine = (want ? of.find((x) => Ip.tryParse(x.local)?.equals(want)) : undefined) ?? of[0];
    return mine ? Cidr.parse(`${mine.local}/${mine.prefixlen}`) : undefined;
  };
  const network = pick('inet', i.own.attrs.PublicIP);
  const network6 = pick('inet6', i.own.attrs.PublicIPv6);
  return { ifaceName: i.iface.ifname, ...(network ? { network } : {}), ...(network6 ? { network6 } : {}) };
}

const describeRoute = (r: ActualRoute) => `${r.dst}${r.nhid !== undefined ? ` nhid ${r.nhid}` : ''}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;
const describeNexthop = (h: ActualNexthop) => `id ${h.id}${h.via ? ` via ${h.via}` : ''} dev ${h.dev}${h.onlink ? ' onlink' : ''}`;
const peerNode = (p: Lease | undefined, family: 4 | 6) => String((family === 6 ? p?.attrs.PublicIPv6 : undefined) ?? p?.attrs.PublicIP);
const peerSubject = (p: Lease, family: 4 | 6) => `${subnetOf(p, family) ?? p.subnet} (node ${peerNode(p, family)})`;
/** A route's or neighbour's family is its address's; an FDB entry's or nexthop's is its device's (an FDB dst is the underlay's). */
const familyOf = (o: DataplaneOp, dev6: string): 4 | 6 => (o.kind === 'fdb' || o.kind === 'nexthop' ? (o.entry.dev === dev6 ? 6 : 4) : o.entry.dst.family);

export interface DataplanePlan {
  peers: number;
  ops: DataplaneOp[];
}

/**
 * What twilld's next full reconcile would change on this node, for the given families (the
 * enabled ones whose device, if the backend has one, exists).
 */
export function planNode(i: DoctorInput, kernel: KernelDataplane, families: readonly (4 | 6)[]): { plan: DataplanePlan; peerOf: Map<string, Lease>; actual: ActualEntries } {
  // the daemon's tunnel routes name nexthop objects where the kernel has them, and so do doctor's
  const local = { ...(localSide(i) ?? { ifaceName: '' }), nexthops: i.nexthopObjects && kernel.nexthopObjects };
  const config = { ...i.config, EnableIPv4: i.config.EnableIPv4 && families.includes(4), EnableIPv6: i.config.EnableIPv6 && families.includes(6) };
  const vni = config.Backend.VNI;
  const devices = config.Backend.Type === 'host-gw' ? []
    : [...(config.EnableIPv4 ? [vxlanDeviceName(vni)] : []), ...(config.EnableIPv6 ? [vxlan6DeviceName(vni)] : [])];
  const desired: DataplaneEntries = { routes: [], neighs: [], fdb: [], nexthops: [] };
  const peerOf = new Map<string, Lease>();
  let peers = 0;
  for (const p of i.peers) {
    if (!isPeer(i.own, p)) continue;
    const e = peerEntriesFor(config, local, p);
    if (!e) continue;
    peers++;
    for (const r of e.routes) { desired.routes.push(r); peerOf.set(`route|${routeKey(r)}`, p); }
    for (const n of e.neighs) { desired.neighs.push(n); peerOf.set(`neigh|${neighKey(n)}`, p); }
    for (const f of e.fdb) { desired.fdb.push(f); peerOf.set(`fdb|${fdbKey(f)}`, p); }
    for (const h of e.nexthops) { desired.nexthops.push(h); peerOf.set(`nexthop|${nexthopKey(h)}`, p); }
  }
  const all = ourEntries(kernel, devices, config, i.own);
  const wanted = (ip: Ip) => (ip.family === 4 ? config.EnableIPv4 : config.EnableIPv6);
  // an FDB entry or nexthop belongs to its device's family (an FDB dst is the underlay's, which may differ)
  const onFamilyDevice = (dev: string) => devices.includes(dev);
  const actual: ActualEntries = {
    routes: all.routes.filter((r) => wanted(r.dst.first)),
    neighs: all.neighs.filter((n) => wanted(n.dst)),
    fdb: all.fdb.filter((f) => onFamilyDevice(f.dev)),
    nexthops: all.nexthops.filter((h) => onFamilyDevice(h.dev)),
  };
  return { plan: { peers, ops: planDataplane(desired, actual).ops }, peerOf, actual };
}

/** One finding per planned operation, in the planner's order (deletions first). */
export function explainPlan(i: DoctorInput, kernel: KernelDataplane, families: readonly (4 | 6)[], f: Findings): number {
  const { plan, peerOf, actual } = planNode(i, kernel, families);
  for (const o of plan.ops) {
    const fix = opText(o);
    const peer = peerOf.get(`${o.kind}|${o.key}`);
    const family = familyOf(o, vxlan6DeviceName(i.config.Backend.VNI));
    const subject = peer ? peerSubject(peer, family) : o.key;
    switch (o.kind) {
      case 'route':
        if (o.op === 'del') f.error('stale-route', o.entry.dst.toString(), `route "${describeRoute(o.entry)}" leads to a subnet no node holds`, fix);
        else if (!o.have) f.error('route', subject, `no route to ${o.entry.dst}: pods on node ${peerNode(peer, family)} are unreachable`, fix);
        else f.error('route', subject, `route is "${describeRoute(o.have)}", expected "${describeRoute(o.entry)}"`, fix);
        break;
      case 'neigh':
        if (o.op === 'del') f.error('stale-neighbour', o.entry.dst.toString(), `neighbour ${o.entry.dst} (${o.entry.lladdr ?? 'no address'}) on ${o.entry.dev} belongs to no lease`, fix);
        else if (!o.have) f.error('neighbour', subject, `no neighbour entry for ${o.entry.dst} on ${o.entry.dev}`, fix);
        else if (!o.have.lladdr?.equals(o.entry.lladdr)) f.error('neighbour', subject, `neighbour ${o.entry.dst} resolves to ${o.have.lladdr ?? 'nothing'}, the lease says ${o.entry.lladdr}`, fix);
        else f.error('neighbour', subject, `neighbour ${o.entry.dst} is not permanent`, fix);
        break;
      case 'nexthop':
        if (o.op === 'del') f.error('stale-nexthop', String(o.entry.id), `nexthop "${describeNexthop(o.entry)}" belongs to no lease`, fix);
        // whether pods are reachable is the route's finding: without the object a route naming
        // it is gone too (and reported), while a plain route (an older twilld's) still works
        else if (!o.have) f.error('nexthop', subject, `no nexthop object ${o.entry.id} for the route to ${peer ? subnetOf(peer, 4) : o.entry.via}`, fix);
        else f.error('nexthop', subject, `nexthop is "${describeNexthop(o.have)}", expected "${describeNexthop(o.entry)}"`, fix);
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
