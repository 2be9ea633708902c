// Which kernel events (rtnetlink multicast, lib/kernel/netlink/events.ts) may mean our
// dataplane drifted. Our own writes show up as additions and the deletions we just made are
// named in `recentlyDeleted`, so what counts is: any change to one of our devices (down, MTU,
// gone), a lost address on it, a route of ours deleted (on our device, or to another node's
// pod subnet: host-gw and DirectRouting routes use the uplink), a neighbour or FDB entry of
// our device deleted or turned non-permanent. Pods' entries on the bridge come and go all the
// time and are on no device of ours: not a reason to look.
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { AF_BRIDGE, NUD_PERMANENT } from '../lib/kernel/netlink/constants.js';
import type { KernelEvent } from '../lib/kernel/netlink/events.js';

const LINK_LOCAL6 = Cidr.parse('fe80::/10');

export interface DriftView {
  /** our devices' names */
  devices: readonly string[];
  /** and their ifindexes, as the last pass saw them */
  indexes: ReadonlyMap<string, number>;
  /** a destination that is another node's pod subnet */
  podRoute(dst: Cidr): boolean;
  /** `kind|key` of the entries the last pass deleted itself */
  recentlyDeleted: ReadonlySet<string>;
}

export function isDriftEvent(ev: KernelEvent, view: DriftView): boolean {
  const devOf = (index: number) => {
    for (const [name, i] of view.indexes) if (i === index) return name;
    return undefined;
  };
  switch (ev.kind) {
    case 'link':
      return view.devices.includes(ev.link.ifname);
    case 'addr':
      return ev.deleted && devOf(ev.addr.ifindex) !== undefined;
    case 'route': {
      const r = ev.route;
      if (!ev.deleted || r.protocol === 'kernel' || r.dst === 'default' || r.table !== 254) return false;
      const dst = Cidr.tryParse(r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`);
      if (!dst || LINK_LOCAL6.contains(dst) || view.recentlyDeleted.has(`route|${dst}`)) return false;
      return (r.oif !== undefined && devOf(r.oif) !== undefined) || view.podRoute(dst);
    }
    case 'neigh': {
      const n = ev.neigh;
      const dev = devOf(n.ifindex);
      if (!dev) return false;
      const permanent = (n.state & NUD_PERMANENT) !== 0;
      if (n.family === AF_BRIDGE) {
        if (ev.deleted) return !view.recentlyDeleted.has(`fdb|${dev}|${n.lladdr}|${n.dst}`);
        return !permanent;
      }
      const ip = n.dst ? Ip.tryParse(n.dst) : undefined;
      if (!ip || LINK_LOCAL6.contains(ip)) return false;
      if (ev.deleted) return !view.recentlyDeleted.has(`neigh|${dev}|${ip}`);
      return !permanent;
    }
  }
}
