// vxlan backend: one kernel VXLAN device `twill.<VNI>` (learning off) on the chosen interface.
//
// Why each remote node needs three entries (flannel's layout, so the nodes interoperate):
//  - route    <peer subnet> via <peer subnet>.0 dev twill.1 onlink
//             sends pod traffic for that node into the tunnel device, with the peer's VTEP
//             address (its subnet's .0, which it holds as a /32) as next hop; `onlink`
//             because no connected route covers that next hop.
//  - neighbour <peer subnet>.0 lladdr <peer VtepMAC> nud permanent
//             answers the next hop's ARP ourselves: with learning off nobody else would,
//             and the inner Ethernet frame gets the peer VTEP's MAC as destination.
//  - FDB      <peer VtepMAC> dst <peer PublicIP>
//             tells the VXLAN driver which underlay address to send frames for that MAC to.
// With DirectRouting, a peer on our own L2 network gets a plain route via its public IP
// instead (no encapsulation); the others still go through the tunnel.
import { getLink, ipBatch, listAddrs } from '../../lib/kernel/ip.js';
import { Ip } from '../../lib/ip/cidr.js';
import { Lease, LeaseAttrs, vxlanData } from '../../lib/schema/lease.js';
import type { Backend, BackendContext, PeerEntries } from './backend.js';
import { directRoute } from './host-gw.js';
import { vtepMac } from './mac.js';

/** VXLAN adds 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const VXLAN_OVERHEAD = 50;

export function vxlanDeviceName(vni: number): string {
  return `twill.${vni}`;
}

export function createVxlanBackend(ctx: BackendContext): Backend {
  const { config, iface, log } = ctx;
  const vni = config.Backend.VNI;
  const port = config.Backend.Port;
  const dev = vxlanDeviceName(vni);
  const mac = vtepMac(vni, iface.publicIp);
  const mtu = config.Backend.MTU ?? iface.mtu - VXLAN_OVERHEAD;

  /** Creates the device, or re-creates it when it exists with other tunnel parameters. */
  async function ensureDevice(): Promise<boolean> {
    const link = await getLink(undefined, dev);
    const d = link?.linkinfo?.info_data as Record<string, unknown> | undefined;
    const same = link?.linkinfo?.info_kind === 'vxlan' && d?.id === vni && d?.local === iface.address.toString()
      && d?.port === port && d?.link === iface.name && d?.learning === false;
    const lines: string[] = [];
    let created = false;
    if (!link || !same) {
      if (link) {
        log.warn('vxlan device has other parameters; re-creating it', { device: dev, found: d });
        lines.push(`link del ${dev}`);
      }
      lines.push(`link add ${dev} address ${mac} mtu ${mtu} type vxlan id ${vni} dev ${iface.name} local ${iface.address} dstport ${port} nolearning`);
      created = true;
    } else {
      if (link.address !== mac.toString()) lines.push(`link set dev ${dev} address ${mac}`);
      if (link.mtu !== mtu) lines.push(`link set dev ${dev} mtu ${mtu}`);
    }
    if (created || !link!.flags.includes('UP')) lines.push(`link set dev ${dev} up`);
    await ipBatch(undefined, lines);
    return created;
  }

  /** Our subnet's .0 as a /32 on the device (the next hop peers route to), nothing else of the Network. */
  async function ensureAddress(lease: Lease): Promise<void> {
    const want = lease.subnet.first.toString();
    const addrs = (await listAddrs(undefined, dev)).flatMap((l) => l.addr_info).filter((a) => a.family === 'inet');
    const lines: string[] = [];
    for (const a of addrs) {
      const ip = Ip.tryParse(a.local);
      if (a.local !== want && ip && config.Network.contains(ip)) lines.push(`addr del ${a.local}/${a.prefixlen} dev ${dev}`);
    }
    if (!addrs.some((a) => a.local === want && a.prefixlen === 32)) lines.push(`addr replace ${want}/32 dev ${dev}`);
    await ipBatch(undefined, lines);
  }

  return {
    type: 'vxlan',
    device: dev,
    leaseAttrs: (): LeaseAttrs => ({ PublicIP: iface.publicIp, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: mac } }),
    mtu: () => mtu,
    async ensureLocal(lease: Lease): Promise<boolean> {
      const created = await ensureDevice();
      await ensureAddress(lease);
      return created;
    },
    peerEntries(peer: Lease): PeerEntries | undefined {
      if (peer.attrs.BackendType !== 'vxlan') return undefined;
      const data = vxlanData(peer.attrs);
      if (!data || data.VNI !== vni) return undefined;
      if (config.Backend.DirectRouting && iface.network.contains(peer.attrs.PublicIP)) {
        return { routes: [directRoute(peer, iface.name)], neighs: [], fdb: [] };
      }
      const vtep = peer.subnet.first;
      return {
        routes: [{ dst: peer.subnet, via: vtep, dev, onlink: true }],
        neighs: [{ dst: vtep, lladdr: data.VtepMAC, dev }],
        fdb: [{ mac: data.VtepMAC, dst: peer.attrs.PublicIP, dev }],
      };
    },
  };
}
