// vxlan backend: one kernel VXLAN device `twill.<VNI>` (learning off) on the chosen interface.
// The entries per peer are lib/dataplane/peer-entries.ts's (twillctl doctor uses the same).
//
// Why each remote node needs three entries (flannel's layout, so the nodes interoperate):
//  - route    <peer subnet> via <peer subnet>.0 dev twill.1 onlink
//             sends pod traffic for that node into the tunnel device, with the peer's VTEP
//             address (its subnet's .0, which it holds as a /32) as next hop; `onlink`
//             because no connected route covers that next hop. Where the kernel has
//             nexthop objects, the IPv4 route names one that holds this next hop (a fourth
//             entry, same meaning; lib/dataplane/entries.ts NexthopSpec says why).
//  - neighbour <peer subnet>.0 lladdr <peer VtepMAC> nud permanent
//             answers the next hop's ARP ourselves: with learning off nobody else would,
//             and the inner Ethernet frame gets the peer VTEP's MAC as destination.
//  - FDB      <peer VtepMAC> dst <peer PublicIP>
//             tells the VXLAN driver which underlay address to send frames for that MAC to.
// With DirectRouting, a peer on our own L2 network gets a plain route via its public IP
// instead (no encapsulation); the others still go through the tunnel.
// Dual stack: a second device `twill6.<VNI>` on the interface's IPv6 address carries the
// IPv6 pod subnets with the same three entries per peer (route, permanent neighbour, FDB to
// the peer's PublicIPv6); its VtepMAC is published as BackendV6Data, as flannel does.
import { overlayMtu, vxlan6DeviceName, vxlanDeviceName } from '../../lib/dataplane/devices.js';
import { AF_INET, AF_INET6 } from '../../lib/kernel/netlink/constants.js';
import { dumpAddrsOn, getLinkOn } from '../../lib/kernel/netlink/query.js';
import { addAddr, addVxlan, delAddr, delLink, setLink } from '../../lib/kernel/netlink/requests.js';
import { Request, withSocket } from '../../lib/kernel/netlink/socket.js';
import { Cidr, Family, Ip } from '../../lib/ip/cidr.js';
import type { Mac } from '../../lib/ip/mac.js';
import { Lease, LeaseAttrs, NO_IPV4, subnetOf } from '../../lib/schema/lease.js';
import { LocalSide, vxlanPeerEntries } from '../../lib/dataplane/peer-entries.js';
import type { Backend, BackendContext, PeerEntries } from './backend.js';
import { vtepMac } from './mac.js';


/** One tunnel device: its name, source address, MAC and MTU, and the pod network it carries. */
interface Tunnel {
  family: Family;
  dev: string;
  local: Ip;
  mac: Mac;
  mtu: number;
  network: Cidr;
}

export function createVxlanBackend(ctx: BackendContext): Backend {
  const { config, iface, log } = ctx;
  const vni = config.Backend.VNI;
  const port = config.Backend.Port;
  if (config.EnableIPv4 && !iface.address) throw new Error(`the network is IPv4 but interface ${iface.name} has no IPv4 address`);
  const v4: Tunnel | undefined = config.EnableIPv4 ? {
    family: 4, dev: vxlanDeviceName(vni), local: iface.address!, mac: vtepMac(vni, iface.publicIp),
    mtu: overlayMtu(config.Backend, iface.mtu, 4), network: config.Network,
  } : undefined;
  if (config.EnableIPv6 && (!iface.address6 || !iface.publicIp6)) {
    throw new Error(`the network is dual stack but interface ${iface.name} has no global IPv6 address (pass --iface, or --public-ipv6)`);
  }
  const v6: Tunnel | undefined = config.EnableIPv6 ? {
    family: 6, dev: vxlan6DeviceName(vni), local: iface.address6!, mac: vtepMac(vni, iface.publicIp6!),
    mtu: overlayMtu(config.Backend, iface.mtu, 6), network: config.IPv6Network!,
  } : undefined;
  const tunnels = [v4, v6].filter((t): t is Tunnel => !!t);
  const local: LocalSide = { ifaceName: iface.name, network: iface.network, network6: iface.network6, nexthops: !!ctx.nexthops };

  /** Creates the device, or re-creates it when it exists with other tunnel parameters (over netlink, no process). */
  async function ensureDevice(t: Tunnel): Promise<boolean> {
    const { dev, mac, mtu } = t;
    return withSocket(undefined, (s) => {
      const link = getLinkOn(s, dev);
      const d = link?.linkinfo?.info_data;
      const local = t.family === 4 ? d?.local : d?.local6;
      const same = link?.linkinfo?.info_kind === 'vxlan' && d?.id === vni && typeof local === 'string' && Ip.tryParse(local)?.equals(t.local)
        && d?.port === port && d?.linkIndex === iface.ifindex && d?.learning === false;
      const requests: Request[] = [];
      let created = false;
      if (!link || !same) {
        if (link) {
          log.warn('vxlan device has other parameters; re-creating it', { device: dev, found: d });
          requests.push(delLink(dev));
        }
        requests.push(addVxlan({ name: dev, vni, local: t.local.toString(), link: iface.ifindex, linkName: iface.name, port, mac: mac.toString(), mtu }));
        created = true;
      } else {
        if (link.address !== mac.toString()) requests.push(setLink(dev, { mac: mac.toString() }));
        if (link.mtu !== mtu) requests.push(setLink(dev, { mtu }));
      }
      if (created || !link!.flags.includes('UP')) requests.push(setLink(dev, { up: true }));
      if (requests.length) s.run(requests);
      return created;
    });
  }

  const ensureAddress = (t: Tunnel, subnet: Cidr) => ensureTunnelAddress(t.dev, t.family, subnet, t.network);

  return {
    type: 'vxlan',
    device: tunnels[0].dev,
    devices: tunnels.map((t) => t.dev),
    leaseAttrs: (): LeaseAttrs => ({
      // an IPv6-only node publishes PublicIP 0.0.0.0 and no v4 backend data, as flannel does
      PublicIP: v4 ? iface.publicIp : NO_IPV4, BackendType: 'vxlan', BackendData: v4 ? { VNI: vni, VtepMAC: v4.mac } : null,
      ...(v6 ? { PublicIPv6: iface.publicIp6!, BackendV6Data: { VNI: vni, VtepMAC: v6.mac } } : {}),
    }),
    // one MTU for the pods of both families: the smaller tunnel decides
    mtu: () => Math.min(...tunnels.map((t) => t.mtu)),
    async ensureLocal(lease: Lease): Promise<boolean> {
      let created = false;
      for (const t of tunnels) {
        const subnet = subnetOf(lease, t.family);
        if (!subnet) continue;
        created = (await ensureDevice(t)) || created;
        await ensureAddress(t, subnet);
      }
      return created;
    },
    peerEntries: (peer: Lease): PeerEntries | undefined => vxlanPeerEntries(config, local, peer),
  };
}

/**
 * Our subnet's first address as a host address on the tunnel device (the next hop peers route
 * to), and no other address of the pod network. For the kernel VXLAN devices and the
 * userspace backend's TAP alike.
 */
export async function ensureTunnelAddress(dev: string, family: Family, subnet: Cidr, network: Cidr): Promise<void> {
  const want = subnet.first;
  const hostLen = family === 4 ? 32 : 128;
  withSocket(undefined, (s) => {
    const index = getLinkOn(s, dev)?.ifindex;
    if (index === undefined) throw new Error(`no device ${dev} to put ${want}/${hostLen} on`);
    const addrs = dumpAddrsOn(s, family === 4 ? AF_INET : AF_INET6).filter((a) => a.ifindex === index);
    const requests: Request[] = [];
    for (const a of addrs) {
      const ip = Ip.tryParse(a.local);
      if (ip && !ip.equals(want) && network.contains(ip)) requests.push(delAddr({ index, dev, ip: ip.toString(), prefix: a.prefixlen }));
    }
    // nodad: the address is ours alone by construction, and peers route to it at once
    const have = addrs.find((a) => Ip.tryParse(a.local)?.equals(want) && a.prefixlen === hostLen);
    if (!have) {
      requests.push(addAddr({ index, dev, ip: want.toString(), prefix: hostLen, replace: true, nodad: family === 6 }));
    }
    if (requests.length) s.run(requests);
  });
}
