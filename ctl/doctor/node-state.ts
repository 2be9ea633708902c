// What the kernel of this node holds, read once through lib/kernel (doctor runs inside the
// node's network namespace; /sys/class/net is not used because under `nsenter --net` it
// still shows the namespace it was mounted in).
import { readFeatures, Feature } from '../../lib/kernel/ethtool.js';
import { detectIptablesBackend, IptablesBackend } from '../../lib/kernel/iptables-backend.js';
import { ChainRules, listIptables } from '../../lib/kernel/iptables-list.js';
import {
  FdbEntry, getLink, Link, LinkAddrs, listAddrs, listFdb, listNeighbours, listRoutes, Neighbour, Route,
} from '../../lib/kernel/ip.js';
import { tryReadOwnSysctl } from '../../lib/kernel/sysctl.js';

export interface NodeState {
  addrs: LinkAddrs[];
  routes: Route[];
  ipForward: string | undefined;
  /** the overlay device, when the backend has one and it exists */
  device?: {
    link: Link;
    addrs: LinkAddrs[];
    neighbours: Neighbour[];
    fdb: FdbEntry[];
    features?: Map<string, Feature>;
    featuresError?: string;
  };
  /** nat and filter rules of the backend twilld writes to (same detection), or why they could not be read */
  iptables?: { nat: ChainRules; filter: ChainRules; backend: IptablesBackend } | { error: string };
}

export async function readNodeState(deviceName: string | undefined, withIptables: boolean): Promise<NodeState> {
  const [addrs, routes, ipForward] = await Promise.all([
    listAddrs(undefined),
    listRoutes(undefined, 4),
    tryReadOwnSysctl('net.ipv4.ip_forward'),
  ]);
  const state: NodeState = { addrs, routes, ipForward };
  if (deviceName) {
    const link = await getLink(undefined, deviceName);
    if (link) {
      const [devAddrs, neighbours, fdb] = await Promise.all([
        listAddrs(undefined, deviceName),
        listNeighbours(undefined, deviceName),
        listFdb(undefined, deviceName),
      ]);
      state.device = { link, addrs: devAddrs, neighbours, fdb };
      try {
        state.device.features = await readFeatures(undefined, deviceName);
      } catch (e) {
        state.device.featuresError = (e as Error).message;
      }
    }
  }
  if (withIptables) {
    try {
      // the backend twilld chose by the same rule; reading the other would miss its chains
      const { backend } = await detectIptablesBackend();
      const [nat, filter] = await Promise.all([listIptables(undefined, 'nat', 4, backend), listIptables(undefined, 'filter', 4, backend)]);
      state.iptables = { nat, filter, backend };
    } catch (e) {
      state.iptables = { error: (e as Error).message.split('\n')[0] };
    }
  }
  return state;
}

/** The interface carrying `ip`, with its link (for the MTU). */
export async function interfaceOf(state: NodeState, ip: string): Promise<Link | undefined> {
  const holder = state.addrs.find((a) => a.addr_info.some((i) => i.local === ip));
  if (!holder) return undefined;
  return getLink(undefined, holder.ifname);
}

/** IPv6 forwarding and (vxlan) the IPv6 device's link; the IPv6 entries are read with the IPv4 ones (lib/kernel/dataplane.ts). */
export interface NodeState6 {
  forwarding?: string;
  device?: Link;
}

/** Read only for dual-stack and IPv6-only networks. */
export async function readNodeState6(device6: string | undefined): Promise<NodeState6> {
  const [forwarding, device] = await Promise.all([
    tryReadOwnSysctl('net.ipv6.conf.all.forwarding'),
    device6 ? getLink(undefined, device6) : Promise.resolve(undefined),
  ]);
  return { forwarding, ...(device ? { device } : {}) };
}
