// Which kernel events (rtnetlink multicast, lib/kernel/netlink/events.ts) may mean our
// dataplane drifted. Our own writes show up as additions and the deletions we just made are
// named in `recentlyDeleted`, so what counts is: one of our devices not as the last pass left
// it (gone, re-created, down, another MTU or MAC: our own creating and raising of it is not),
// a lost address on it, a route of ours deleted (on our device, or to another node's
// pod subnet: host-gw and DirectRouting routes use the uplink), a neighbour or FDB entry of
// our device deleted or turned non-permanent, a nexthop object on our device deleted (its
// routes go with it, and the kernel says nothing about them). Pods' entries on the bridge come and go all the
// time and are on no device of ours: not a reason to look.
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { AF_BRIDGE, NUD_PERMANENT } from '../lib/kernel/netlink/constants.js';
import type { KernelEvent } from '../lib/kernel/netlink/events.js';

const LINK_LOCAL6 = Cidr.parse('fe80::/10');

/** One of our devices as a full pass left it. */
export interface DeviceSeen {
  ifindex: number;
  mtu: number;
  address?: string;
  up: boolean;
}

export interface DriftView {
  /** our devices' names */
  devices: readonly string[];
  /** and each as the last pass left it */
  seen: ReadonlyMap<string, DeviceSeen>;
  /** a destination that is another node's pod subnet */
  podRoute(dst: Cidr): boolean;
  /** `kind|key` of the entries the last pass deleted itself */
  recentlyDeleted: ReadonlySet<string>;
}

export function isDriftEvent(ev: KernelEvent, view: DriftView): boolean {
  const devOf = (index: number) => {
    for (const [name, d] of view.seen) if (d.ifindex === index) return name;
    return undefined;
  };
  switch (ev.kind) {
    case 'link': {
      const l = ev.link;
      if (!view.devices.includes(l.ifname)) return false;
      const was = view.seen.get(l.ifname);
      return ev.deleted || !was || !was.up || was.ifindex !== l.ifindex || was.mtu !== l.mtu || was.address !== l.address || !l.flags.includes('UP');
    }
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
    case 'nexthop': {
      const h = ev.nexthop;
      return ev.deleted && h.oif !== undefined && devOf(h.oif) !== undefined && !view.recentlyDeleted.has(`nexthop|${h.id}`);
    }
  }
}
