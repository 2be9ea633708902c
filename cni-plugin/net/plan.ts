// What ADD asks of the kernel, as rtnetlink requests computed up front: one sequence in the
// node namespace (bridge settings, veth pair created with its peer already inside the pod
// namespace, port settings, bridge read-back) and one inside the pod namespace (addresses,
// up, routes). Each request carries its `ip` spelling, which errors quote and tests read.
//
// IPv6 addresses go in with `nodad`: duplicate-address detection keeps a new address
// "tentative" (unusable as a source) for a second or more, and a pod that starts with one
// fails its first connections (kubernetes #54651). The addresses come from twill's own
// reservations, so there is no duplicate to detect. The kernel would also make the pod a
// link-local address when the link comes up, tentative in the same way; the plugin turns
// that off and adds the same EUI-64 address itself, without DAD.
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { CniRoute } from '../../lib/cni/result.js';
import { addAddr, addBridge, addRoute, addVeth, getLink, setAddrGenModeNone, setHairpin, setLink } from '../../lib/kernel/netlink/requests.js';
import { NLM_F_CREATE, RTM_NEWLINK } from '../../lib/kernel/netlink/constants.js';
import type { Request } from '../../lib/kernel/netlink/socket.js';
import { linkLocalFromMac, macFromIp } from './names.js';

/** One address of the pod, with the subnet and gateway of its family. */
export interface PodAddr {
  ip: Ip;
  subnet: Cidr;
  gateway: Ip;
}

export interface PodLink {
  bridge: string;
  /** one per family, IPv4 first; the bridge carries each gateway */
  addrs: PodAddr[];
  mtu: number;
  hairpin: boolean;
  hostVeth: string;
  hostMac: string;
  netns: string;
  ifname: string;
  podMac: string;
  routes: CniRoute[];
}

/** The bridge's fixed MAC, from the first (IPv4 when there is one) gateway. */
export function bridgeMac(l: PodLink): string {
  return macFromIp(l.addrs[0].gateway);
}

const isV6 = (a: PodAddr): boolean => a.ip.family === 6;

/**
 * A fixed MAC pins the bridge's address: without one the bridge takes the lowest MAC of its
 * ports, and changes it (flushing its ARP entries) as pods come and go.
 */
export function createBridgeRequest(l: PodLink): Request {
  return addBridge({ name: l.bridge, mac: bridgeMac(l), mtu: l.mtu });
}

/**
 * The node-side sequence once the bridge's index is known. It makes an existing bridge right
 * (MTU, up, gateway address) but never sets its MAC: setting it again, even to the same
 * value, makes the kernel announce NETDEV_CHANGEADDR, which flushes every ARP entry on the
 * bridge, i.e. the node would forget all its pods' MACs on every pod start. It ends by
 * reading the bridge back: a bridge twill did not create keeps its own (changing) MAC.
 */
export function hostRequests(l: PodLink, bridgeIndex: number, podNetnsFd: number): Request[] {
  const bridge = { index: bridgeIndex, name: l.bridge };
  return [
    setLink(bridge, { mtu: l.mtu, up: true }),
    ...l.addrs.map((a) => addAddr({ index: bridgeIndex, dev: l.bridge, ip: a.gateway.toString(), prefix: a.subnet.prefix, replace: true, nodad: isV6(a) })),
    addVeth({ name: l.hostVeth, mtu: l.mtu, mac: l.hostMac }, { name: l.ifname, mtu: l.mtu, mac: l.podMac, netnsFd: podNetnsFd, netnsLabel: l.netns }),
    setLink(l.hostVeth, { master: bridgeIndex, masterName: l.bridge, up: true }),
    ...(l.hairpin ? [setHairpin(l.hostVeth, true)] : []),
    getLink(bridge),
  ];
}

/** Position of the veth creation in hostRequests: failures after it leave a pair to undo. */
export function vethRequestIndex(requests: Request[]): number {
  return requests.findIndex((r) => r.type === RTM_NEWLINK && (r.flags & NLM_F_CREATE) !== 0);
}

/** The pod-side sequence once the index of the pod's interface is known. */
export function podRequests(l: PodLink, podIndex: number): Request[] {
  const dev = { index: podIndex, name: l.ifname };
  const v6 = l.addrs.some(isV6);
  return [
    // before the link comes up, when the kernel would make its own (tentative) link-local
    ...(v6
      ? [setAddrGenModeNone(dev), addAddr({ index: podIndex, dev: l.ifname, ip: linkLocalFromMac(l.podMac).toString(), prefix: 64, nodad: true })]
      : []),
    // `add`, not `replace`: an address already there is a conflict to report.
    ...l.addrs.map((a) => addAddr({ index: podIndex, dev: l.ifname, ip: a.ip.toString(), prefix: a.subnet.prefix, nodad: isV6(a) })),
    setLink(dev, { up: true }),
    // `add`, not `replace`: a pod that already has a default route is a conflict to report.
    ...l.routes.map((r) => addRoute({ dst: r.dst, gw: r.gw, oif: podIndex, dev: l.ifname })),
  ];
}

/** The plans spelled as `ip -batch` lines (logs, docs and the unit tests read these). */
export const hostLines = (l: PodLink): string[] => hostRequests(l, 0, -1).map((r) => r.op);
export const podLines = (l: PodLink): string[] => podRequests(l, 0).map((r) => r.op);
export const createBridgeLine = (l: PodLink): string => createBridgeRequest(l).op;

/** The MAC in `ip link show` output (kept for tools that still read `ip` text). */
export function parseLinkMac(stdout: string): string | undefined {
  return /link\/ether ([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(stdout)?.[1];
}
