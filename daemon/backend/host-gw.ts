// host-gw: no encapsulation. Each peer's pod subnet is routed via the peer's public IP, which
// only works when every node shares one L2 network; peers elsewhere are skipped (logged once).
// Dual stack: the IPv6 pod subnet is routed via the peer's PublicIPv6 the same way.
import { Lease, LeaseAttrs, NO_IPV4, subnetOf } from '../../lib/schema/lease.js';
import type { Backend, BackendContext, PeerEntries, RouteSpec } from './backend.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  const { config, iface } = ctx;
  if (config.EnableIPv4 && !iface.address) throw new Error(`the network is IPv4 but interface ${iface.name} has no IPv4 address`);
  if (config.EnableIPv6 && !iface.publicIp6) {
    throw new Error(`the network is dual stack but interface ${iface.name} has no global IPv6 address (pass --iface, or --public-ipv6)`);
  }
  const warned = new Set<string>();
  return {
    type: 'host-gw',
    devices: [],
    leaseAttrs: (): LeaseAttrs => ({
      PublicIP: config.EnableIPv4 ? iface.publicIp : NO_IPV4, BackendType: 'host-gw', BackendData: null,
      ...(config.EnableIPv6 ? { PublicIPv6: iface.publicIp6!, BackendV6Data: null } : {}),
    }),
    mtu: () => config.Backend.MTU ?? iface.mtu,
    ensureLocal: async () => false,
    peerEntries(peer: Lease): PeerEntries | undefined {
      if (peer.attrs.BackendType !== 'host-gw') return undefined;
      const routes: RouteSpec[] = [];
      if (config.EnableIPv4 && subnetOf(peer, 4) && iface.network?.contains(peer.attrs.PublicIP)) routes.push(directRoute(peer, iface.name));
      const r6 = config.EnableIPv6 && iface.network6 && peer.attrs.PublicIPv6 && iface.network6.contains(peer.attrs.PublicIPv6) ? directRoute6(peer, iface.name) : undefined;
      if (r6) routes.push(r6);
      if (!routes.length) {
        if (!warned.has(peer.key)) ctx.log.warn('host-gw peer is not on our L2 network; skipped', { peer: String(peer.attrs.PublicIPv6 ?? peer.attrs.PublicIP), subnet: String(peer.subnet) });
        warned.add(peer.key);
        return undefined;
      }
      return { routes, neighs: [], fdb: [] };
    },
  };
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
