// The VXLAN device (kind, VNI, port, local address, learning, up, MAC, /32 address, MTU,
// offloads) and which leases are VXLAN peers. The three entries per peer (route, neighbour,
// FDB) are check-dataplane.ts's: the daemon's planner, run dry.
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
