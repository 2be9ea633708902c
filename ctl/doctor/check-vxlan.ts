// The VXLAN device and, per remote node, the three entries that make its subnet reachable:
// an onlink route to <peer subnet>.0 via the device, a neighbour entry resolving that .0 to
// the peer's VtepMAC (the kernel never ARPs over a nolearning VXLAN), and an FDB entry telling
// the device which public IP to tunnel that MAC to. Missing any one drops the traffic silently.
import { vxlanData, Lease } from '../../lib/schema/lease.js';
import { DoctorInput, expectedDeviceMtu, gatewayOf, vxlanDeviceName } from './context.js';
import { Findings } from './findings.js';

const OFFLOAD_FEATURE = 'tx-checksum-ip-generic';

function macEq(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

/** Device checks; returns false when the device is missing (peer checks are then pointless). */
export function checkVxlanDevice(i: DoctorInput, f: Findings): boolean {
  const name = vxlanDeviceName(i.config);
  const recreate = `ip link del ${name}; then restart twilld on this node`;
  const dev = i.state.device;
  if (!dev) {
    f.error('vxlan-device', name, 'VXLAN device is missing: no traffic reaches other nodes', 'restart twilld on this node (it creates the device) and check its log');
    return false;
  }
  const link = dev.link;
  const info = link.linkinfo?.info_data ?? {};
  if (link.linkinfo?.info_kind !== 'vxlan') {
    f.error('vxlan-device', name, `is a ${link.linkinfo?.info_kind ?? 'plain'} device, not vxlan`, recreate);
    return false;
  }
  const want = i.config.Backend;
  if (info.id !== want.VNI) f.error('vxlan-device', name, `VNI is ${String(info.id)}, the network uses ${want.VNI}`, recreate);
  if (info.port !== want.Port) f.error('vxlan-device', name, `UDP port is ${String(info.port)}, the network uses ${want.Port}`, recreate);
  if (info.local !== i.own.attrs.PublicIP.toString()) {
    f.error('vxlan-device', name, `local address is ${String(info.local ?? 'unset')}, the lease publishes ${i.own.attrs.PublicIP}`, recreate);
  }
  if (info.learning === true) f.error('vxlan-device', name, 'learning is on: the FDB fills with stale entries', recreate);
  if (!link.flags.includes('UP')) f.error('vxlan-device', name, 'device is down', `ip link set ${name} up`);
  const ownVx = vxlanData(i.own.attrs);
  if (!ownVx) {
    f.error('lease', i.own.subnet.toString(), 'this node\'s lease publishes no VtepMAC: other nodes cannot tunnel to it', 'restart twilld on this node so it re-publishes its lease');
  } else if (!macEq(ownVx.VtepMAC.toString(), link.address)) {
    f.error('lease', i.own.subnet.toString(), `the lease publishes VtepMAC ${ownVx.VtepMAC} but ${name} has ${link.address}: other nodes send to the wrong MAC`,
      'restart twilld on this node so it re-publishes its lease');
  }
  const gw = `${gatewayOf(i.own)}`;
  if (!dev.addrs.some((a) => a.addr_info.some((x) => x.local === gw && x.prefixlen === 32))) {
    f.error('vxlan-device', name, `address ${gw}/32 is missing: replies from this node to other subnets get the wrong source`, `ip addr add ${gw}/32 dev ${name}`);
  }
  const mtu = expectedDeviceMtu(i, 4);
  if (mtu !== undefined && link.mtu !== mtu) {
    f.error('mtu', name, `MTU is ${link.mtu}, expected ${mtu} (${i.iface ? `${i.iface.ifname} mtu ${i.iface.mtu} minus 50 bytes of VXLAN header` : 'Backend.MTU'})`,
      `ip link set ${name} mtu ${mtu}`);
  }
  if (dev.featuresError) {
    f.warning('offload', name, `cannot read offload features: ${dev.featuresError.split('\n')[0]}`, 'install ethtool');
  } else if (dev.features?.get(OFFLOAD_FEATURE)?.active) {
    f.warning('offload', name, `${OFFLOAD_FEATURE} is on: when node addresses are NATed, some kernels send VXLAN packets with corrupt checksums that receivers drop`,
      `ethtool -K ${name} ${OFFLOAD_FEATURE} off`);
  }
  return true;
}

/** Peers this node must tunnel to: vxlan leases with a VtepMAC (reservations nobody took have none). */
export function vxlanPeers(i: DoctorInput, f: Findings): Lease[] {
  const out: Lease[] = [];
  for (const p of i.peers) {
    if (p.attrs.BackendType !== 'vxlan') {
      f.warning('lease', p.subnet.toString(), `node ${p.attrs.PublicIP} uses backend ${p.attrs.BackendType}: this vxlan node cannot reach it`,
        'run the same backend on every node (config set, then restart twilld)');
      continue;
    }
    if (vxlanData(p.attrs)) out.push(p);
  }
  return out;
}

export function checkVxlanPeers(i: DoctorInput, peers: readonly Lease[], f: Findings): void {
  const dev = i.state.device!;
  const name = dev.link.ifname;
  for (const p of peers) {
    const { VtepMAC } = vxlanData(p.attrs)!;
    const gw = gatewayOf(p);
    const subject = `${p.subnet} (node ${p.attrs.PublicIP})`;
    const neigh = dev.neighbours.find((n) => n.dst === gw);
    const neighFix = `ip neigh replace ${gw} lladdr ${VtepMAC} dev ${name} nud permanent`;
    if (!neigh) f.error('neighbour', subject, `no neighbour entry for ${gw} on ${name}`, neighFix);
    else if (!macEq(neigh.lladdr, VtepMAC.toString())) f.error('neighbour', subject, `neighbour ${gw} resolves to ${neigh.lladdr ?? 'nothing'}, the lease says ${VtepMAC}`, neighFix);
    else if (!(neigh.state ?? []).includes('PERMANENT')) f.warning('neighbour', subject, `neighbour ${gw} is ${(neigh.state ?? []).join(',') || 'not permanent'}`, neighFix);

    const fdbFix = `bridge fdb replace ${VtepMAC} dev ${name} dst ${p.attrs.PublicIP} self permanent`;
    const fdb = dev.fdb.filter((e) => macEq(e.mac, VtepMAC.toString()));
    if (fdb.length === 0) f.error('fdb', subject, `no FDB entry for ${VtepMAC} on ${name}`, fdbFix);
    else if (!fdb.some((e) => e.dst === p.attrs.PublicIP.toString())) {
      f.error('fdb', subject, `FDB sends ${VtepMAC} to ${fdb.map((e) => e.dst ?? '?').join(',')}, the lease says ${p.attrs.PublicIP}`, fdbFix);
    }
  }
  // Entries for nodes that are gone: twilld's reconcile removes them, so their presence means it is not
  // running; and a new node reusing the address would be sent to the old MAC.
  const gws = new Set(peers.map(gatewayOf));
  for (const n of dev.neighbours) {
    if (!gws.has(n.dst) && n.lladdr) {
      f.error('stale-neighbour', n.dst, `neighbour ${n.dst} (${n.lladdr}) on ${name} belongs to no lease`, `ip neigh del ${n.dst} dev ${name}`);
    }
  }
  const macs = new Set(peers.map((p) => vxlanData(p.attrs)!.VtepMAC.toString()));
  for (const e of dev.fdb) {
    if (e.dst && !macs.has(e.mac.toLowerCase()) && e.mac !== '00:00:00:00:00:00') {
      f.error('stale-fdb', e.mac, `FDB entry ${e.mac} -> ${e.dst} on ${name} belongs to no lease`, `bridge fdb del ${e.mac} dev ${name} dst ${e.dst} self`);
    }
  }
}
