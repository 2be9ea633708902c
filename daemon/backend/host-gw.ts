// host-gw: no encapsulation. Each peer's pod subnet is routed via the peer's public IP, which
// only works when every node shares one L2 network; peers elsewhere are skipped (logged once).
import type { Lease, LeaseAttrs } from '../../lib/schema/lease.js';
import type { Backend, BackendContext, PeerEntries, RouteSpec } from './backend.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  const warned = new Set<string>();
  return {
    type: 'host-gw',
    leaseAttrs: (): LeaseAttrs => ({ PublicIP: ctx.iface.publicIp, BackendType: 'host-gw', BackendData: null }),
    mtu: () => ctx.config.Backend.MTU ?? ctx.iface.mtu,
    ensureLocal: async () => false,
    peerEntries(peer: Lease): PeerEntries | undefined {
      if (peer.attrs.BackendType !== 'host-gw') return undefined;
      if (!ctx.iface.network.contains(peer.attrs.PublicIP)) {
        if (!warned.has(peer.key)) ctx.log.warn('host-gw peer is not on our L2 network; skipped', { peer: String(peer.attrs.PublicIP), subnet: String(peer.subnet) });
        warned.add(peer.key);
        return undefined;
      }
      return { routes: [directRoute(peer, ctx.iface.name)], neighs: [], fdb: [] };
    },
  };
}

/** A plain route to the peer's pod subnet via its public IP (host-gw, vxlan DirectRouting). */
export function directRoute(peer: Lease, dev: string): RouteSpec {
  return { dst: peer.subnet, via: peer.attrs.PublicIP, dev, onlink: false };
}
