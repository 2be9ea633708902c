// What the kernel of this node holds, read once through lib/kernel (doctor runs inside the
// node's network namespace; /sys/class/net is not used because under `nsenter --net` it
// still shows the namespace it was mounted in). Links and addresses come over netlink, in
// the `ip -json` shapes; the per-peer entries are read by lib/kernel/dataplane.ts for the
// planner (check-dataplane.ts), so none are read here.
import { readFeatures, Feature } from '../../lib/kernel/ethtool.js';
import { detectIptablesBackend, IptablesBackend } from '../../lib/kernel/iptables-backend.js';
import { ChainRules, listIptables } from '../../lib/kernel/iptables-list.js';
import type { Link, LinkAddrs } from '../../lib/kernel/ip.js';
import { AF_UNSPEC, RT_SCOPE_HOST, RT_SCOPE_LINK } from '../../lib/kernel/netlink/constants.js';
import type { NlAddr, NlLink } from '../../lib/kernel/netlink/decode.js';
import { dumpAddrsOn, dumpLinksOn, getLinkOn } from '../../lib/kernel/netlink/query.js';
import { withSocket } from '../../lib/kernel/netlink/socket.js';
import { tryReadOwnSysctl } from '../../lib/kernel/sysctl.js';

export interface NodeState {
  addrs: LinkAddrs[];
  links: Link[];
  ipForward: string | undefined;
  /** the overlay device, when the backend has one and it exists */
  device?: {
    link: Link;
    addrs: LinkAddrs[];
    features?: Map<string, Feature>;
    featuresError?: string;
  };
  /** nat and filter rules of the backend twilld writes to (same detection), or why they could not be read */
  iptables?: { nat: ChainRules; filter: ChainRules; backend: IptablesBackend } | { error: string };
}

const SCOPES: Record<number, string> = { [RT_SCOPE_LINK]: 'link', [RT_SCOPE_HOST]: 'host' };

/** Addresses grouped per link, as `ip -json addr show` lists them. */
function byLink(links: readonly NlLink[], addrs: readonly NlAddr[]): LinkAddrs[] {
  return links.map((l) => ({
    ifindex: l.ifindex,
    ifname: l.ifname,
    addr_info: addrs.filter((a) => a.ifindex === l.ifindex)
      .map((a) => ({ family: a.family, local: a.local, prefixlen: a.prefixlen, scope: SCOPES[a.scope] ?? 'global' })),
  }));
}

export async function readNodeState(deviceName: string | undefined, withIptables: boolean): Promise<NodeState> {
  const { links, addrs } = withSocket(undefined, (s) => ({ links: dumpLinksOn(s), addrs: dumpAddrsOn(s, AF_UNSPEC) }));
  const state: NodeState = { addrs: byLink(links, addrs), links, ipForward: tryReadOwnSysctl('net.ipv4.ip_forward') };
  const link = deviceName ? links.find((l) => l.ifname === deviceName) : undefined;
  if (deviceName && link) {
    state.device = { link, addrs: state.addrs.filter((a) => a.ifindex === link.ifindex) };
    try {
      state.device.features = await readFeatures(undefined, deviceName);
    } catch (e) {
      state.device.featuresError = (e as Error).message;
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
export function interfaceOf(state: NodeState, ip: string): Link | undefined {
  const holder = state.addrs.find((a) => a.addr_info.some((i) => i.local === ip));
  return holder ? state.links.find((l) => l.ifindex === holder.ifindex) : undefined;
}

/** IPv6 forwarding and (vxlan) the IPv6 device's link; the IPv6 entries are read with the IPv4 ones (lib/kernel/dataplane.ts). */
export interface NodeState6 {
  forwarding?: string;
  device?: Link;
}

/** Read only for dual-stack and IPv6-only networks. */
export function readNodeState6(device6: string | undefined): NodeState6 {
  const forwarding = tryReadOwnSysctl('net.ipv6.conf.all.forwarding');
  const device = device6 ? withSocket(undefined, (s) => getLinkOn(s, device6)) : undefined;
  return { forwarding, ...(device ? { device } : {}) };
}
