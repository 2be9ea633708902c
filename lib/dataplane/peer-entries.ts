// Which entries each remote lease needs, for the vxlan and host-gw backends: pure functions of
// the network config, this node's interface and the lease. twilld's backends program them and
// twillctl doctor computes the same desired state from them, so the two cannot disagree (a
// VNI the daemon filters on, DirectRouting, a family the network does not use).
//
// vxlan, per remote node (flannel's layout, so the nodes interoperate):
//  - route    <peer subnet> via <peer subnet>.0 dev twill.<VNI> onlink
//             (IPv4, on a kernel with nexthop objects: the route names a nexthop object
//             `id <gateway as a number> via <peer subnet>.0 dev twill.<VNI> onlink`, which
//             the kernel stores without the per-insert walk plain gateway routes cost;
//             lib/dataplane/entries.ts NexthopSpec)
//  - neighbour <peer subnet>.0 lladdr <peer VtepMAC> nud permanent
//  - FDB      <peer VtepMAC> dst <peer PublicIP>
// With DirectRouting a peer on our own L2 network gets a plain route via its public IP.
// host-gw: that plain route for every peer on our L2 network (others cannot be reached).
// The IPv6 device twill6.<VNI> carries the IPv6 pod subnets with the same three entries.
import type { Cidr } from '../ip/cidr.js';
import { hasIpv4Endpoint, Lease, subnetOf, vxlanData } from '../schema/lease.js';
import type { NetworkConfig } from '../schema/network-config.js';
import { vxlan6DeviceName, vxlanDeviceName } from './devices.js';
import { nexthopIdFor, PeerEntries, RouteSpec } from './entries.js';

/** What this node's side contributes: the uplink's name and the networks on it. */
export interface LocalSide {
  ifaceName: string;
  /** the uplink's IPv4 prefix (who shares our L2 network) */
  network?: Cidr;
  network6?: Cidr;
  /** the kernel has nexthop objects (lib/kernel/dataplane.ts kernelHasNexthops): IPv4 tunnel routes use them */
  nexthops?: boolean;
}

/** A plain route to the peer's pod subnet via its public IP (host-gw, vxlan DirectRouting). */
export function directRoute(peer: Lease, dev: string): RouteSpec {
  return { dst: peer.subnet, via: peer.attrs.PublicIP, dev, onlink: false };
}

/** The same for the peer's IPv6 pod subnet, via its PublicIPv6; undefined when it has none. */
export function directRoute6(peer: Lease, dev: string): RouteSpec | undefined {
  const s6 = subnetOf(peer, 6);
  if (!s6 || !peer.attrs.PublicIPv6) return undefined;
  return { dst: s6, via: peer.attrs.PublicIPv6, dev, onlink: false };
}

export function vxlanPeerEntries(config: NetworkConfig, local: LocalSide, peer: Lease): PeerEntries | undefined {
  if (peer.attrs.BackendType !== 'vxlan') return undefined;
  const vni = config.Backend.VNI;
  const out: PeerEntries = { routes: [], neighs: [], fdb: [], nexthops: [] };
  const data = vxlanData(peer.attrs);
  const s4 = subnetOf(peer, 4);
  if (config.EnableIPv4 && s4 && data && data.VNI === vni && hasIpv4Endpoint(peer.attrs)) {
    if (config.Backend.DirectRouting && local.network?.contains(peer.attrs.PublicIP)) {
      out.routes.push(directRoute(peer, local.ifaceName));
    } else {
      const dev = vxlanDeviceName(vni);
      const gw = s4.first; // one object for all four entries: a daemon keeps them per peer
      const id = local.nexthops ? nexthopIdFor(gw) : 0;
      if (id > 0) {
        out.nexthops.push({ id, via: gw, dev, onlink: true });
        out.routes.push({ dst: s4, via: gw, dev, onlink: true, nhid: id });
      } else {
        out.routes.push({ dst: s4, via: gw, dev, onlink: true });
      }
      out.neighs.push({ dst: gw, lladdr: data.VtepMAC, dev });
      out.fdb.push({ mac: data.VtepMAC, dst: peer.attrs.PublicIP, dev });
    }
  }
  const data6 = peer.attrs.BackendV6Data;
  const s6 = subnetOf(peer, 6);
  if (config.EnableIPv6 && s6 && peer.attrs.PublicIPv6 && data6 && data6.VNI === vni) {
    if (config.Backend.DirectRouting && local.network6?.contains(peer.attrs.PublicIPv6)) {
      out.routes.push(directRoute6(peer, local.ifaceName)!);
    } else {
      const dev = vxlan6DeviceName(vni);
      const gw = s6.first;
      out.routes.push({ dst: s6, via: gw, dev, onlink: true });
      out.neighs.push({ dst: gw, lladdr: data6.VtepMAC, dev });
      out.fdb.push({ mac: data6.VtepMAC, dst: peer.attrs.PublicIPv6, dev });
    }
  }
  return out.routes.length ? out : undefined;
}

export function hostGwPeerEntries(config: NetworkConfig, local: LocalSide, peer: Lease): PeerEntries | undefined {
  if (peer.attrs.BackendType !== 'host-gw') return undefined;
  const routes: RouteSpec[] = [];
  if (config.EnableIPv4 && subnetOf(peer, 4) && local.network?.contains(peer.attrs.PublicIP)) routes.push(directRoute(peer, local.ifaceName));
  const r6 = config.EnableIPv6 && local.network6 && peer.attrs.PublicIPv6 && local.network6.contains(peer.attrs.PublicIPv6)
    ? directRoute6(peer, local.ifaceName) : undefined;
  if (r6) routes.push(r6);
  return routes.length ? { routes, neighs: [], fdb: [], nexthops: [] } : undefined;
}

/** The entries of the configured backend (userspace VXLAN programs the same kernel routes as vxlan). */
export function peerEntriesFor(config: NetworkConfig, local: LocalSide, peer: Lease): PeerEntries | undefined {
  return config.Backend.Type === 'host-gw' ? hostGwPeerEntries(config, local, peer) : vxlanPeerEntries(config, local, peer);
}
