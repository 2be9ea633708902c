// host-gw: no encapsulation. Each peer's pod subnet is routed via the peer's public IP, which
// only works when every node shares one L2 network; peers elsewhere are skipped (logged once).
// Dual stack: the IPv6 pod subnet is routed via the peer's PublicIPv6 the same way. The
// entries are lib/dataplane/peer-entries.ts's (twillctl doctor uses the same).
import { Lease, LeaseAttrs, NO_IPV4 } from '../../lib/schema/lease.js';
import { hostGwPeerEntries, LocalSide } from '../../lib/dataplane/peer-entries.js';
import type { Backend, BackendContext, PeerEntries } from './backend.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  const { config, iface } = ctx;
  if (config.EnableIPv4 && !iface.address) throw new Error(`the network is IPv4 but interface ${iface.name} has no IPv4 address`);
  if (config.EnableIPv6 && !iface.publicIp6) {
    throw new Error(`the network is dual stack but interface ${iface.name} has no global IPv6 address (pass --iface, or --public-ipv6)`);
  }
  const warned = new Set<string>();
  const local: LocalSide = { ifaceName: iface.name, network: iface.network, network6: iface.network6 };
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
      const e = hostGwPeerEntries(config, local, peer);
      if (!e && peer.attrs.BackendType === 'host-gw' && !warned.has(peer.key)) {
        ctx.log.warn('host-gw peer is not on our L2 network; skipped', { peer: String(peer.attrs.PublicIPv6 ?? peer.attrs.PublicIP), subnet: String(peer.subnet) });
        warned.add(peer.key);
      }
      return e;
    },
  };
}
