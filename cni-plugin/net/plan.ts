// What ADD asks of the kernel, as rtnetlink requests computed up front: one sequence in the
// node namespace (bridge settings, veth pair created with its peer already inside the pod
// namespace, port settings, bridge read-back) and one inside the pod namespace (address,
// up, routes). Each request carries its `ip` spelling, which errors quote and tests read.
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { CniRoute } from '../../lib/cni/result.js';
import { addAddr, addBridge, addRoute, addVeth, getLink, setHairpin, setLink } from '../../lib/kernel/netlink/requests.js';
import type { Request } from '../../lib/kernel/netlink/socket.js';
import { macFromIp } from './names.js';

export interface PodLink {
  bridge: string;
  gateway: Ip;
  subnet: Cidr;
  mtu: number;
  hairpin: boolean;
  hostVeth: string;
  hostMac: string;
  netns: string;
  ifname: string;
  podIp: Ip;
  podMac: string;
  routes: CniRoute[];
}

export function bridgeMac(gateway: Ip): string {
  return macFromIp(gateway);
}

/**
 * A fixed MAC pins the bridge's address: without one the bridge takes the lowest MAC of its
 * ports, and changes it (flushing its ARP entries) as pods come and go.
 */
export function createBridgeRequest(l: PodLink): Request {
  return addBridge({ name: l.bridge, mac: bridgeMac(l.gateway), mtu: l.mtu });
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
    addAddr({ index: bridgeIndex, dev: l.bridge, ip: l.gateway.toString(), prefix: l.subnet.prefix, replace: true }),
    addVeth({ name: l.hostVeth, mtu: l.mtu, mac: l.hostMac }, { name: l.ifname, mtu: l.mtu, mac: l.podMac, netnsFd: podNetnsFd, netnsLabel: l.netns }),
    setLink(l.hostVeth, { master: bridgeIndex, masterName: l.bridge, up: true }),
    ...(l.hairpin ? [setHairpin(l.hostVeth, true)] : []),
    getLink(bridge),
  ];
}

/** Position of the veth creation in hostRequests: failures after it leave a pair to undo. */
export function vethRequestIndex(requests: Request[]): number {
  return requests.findIndex((r) => r.op.startsWith('link add '));
}

/** The pod-side sequence once the index of the pod's interface is known. */
export function podRequests(l: PodLink, podIndex: number): Request[] {
  const dev = { index: podIndex, name: l.ifname };
  return [
    // `add`, not `replace`: an address already there is a conflict to report.
    addAddr({ index: podIndex, dev: l.ifname, ip: l.podIp.toString(), prefix: l.subnet.prefix }),
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
