// The IPv6 half of a dual-stack (or IPv6-only) node, as far as the planner does not cover it:
// subnet.env's IPv6 keys, IPv6 forwarding, the `twill6.<VNI>` VXLAN device itself and peers
// that publish no IPv6 VtepMAC. The per-peer IPv6 entries (routes, neighbours, FDB, stale
// ones) are check-dataplane.ts's: the daemon's planner, run dry over both families at once.
import { vxlan6DeviceName } from '../../lib/dataplane/devices.js';
import { isPeer } from '../../lib/dataplane/peers.js';
import { Ip } from '../../lib/ip/cidr.js';
import { subnetOf } from '../../lib/schema/lease.js';
import { DoctorInput, expectedDeviceMtu, expectedOverlayMtu } from './context.js';
import { Findings } from './findings.js';
import type { NodeState6 } from './node-state.js';

const RESTART = 'restart twilld on this node (it rewrites this state) and check its log';

const sameIp = (a: unknown, b: Ip) => typeof a === 'string' && (Ip.tryParse(a)?.equals(b) ?? false);

/**
 * Node-wide IPv6 checks. Returns whether the IPv6 entries can be planned: false when this
 * node's lease has no IPv6 subnet or (vxlan) the IPv6 device is missing.
 */
export function checkIpv6(i: DoctorInput, f: Findings, state: NodeState6): boolean {
  const { config, own } = i;
  const own6 = subnetOf(own, 6);
  if (!config.EnableIPv6 || !config.IPv6Network) return false;
  if (!own6) {
    f.error('lease', own.key, 'this node\'s lease has no IPv6 subnet but the network is dual stack', RESTART);
    return false;
  }
  const env = i.subnetEnv;
  const wantGw = `${own6.nth(1)}/${own6.prefix}`;
  if (env && (!env.ipv6Subnet || !env.ipv6Subnet.equals(own6))) {
    f.error('subnet-env', i.subnetFile, `FLANNEL_IPV6_SUBNET=${env.ipv6Subnet ?? ''} but this node's lease is ${own6} (expected ${wantGw})`, RESTART);
  }
  if (env && (!env.ipv6Network || !env.ipv6Network.equals(config.IPv6Network))) {
    f.error('subnet-env', i.subnetFile, `FLANNEL_IPV6_NETWORK=${env.ipv6Network ?? ''} but the network config says ${config.IPv6Network}`, RESTART);
  }
  // an IPv6-only node has no IPv4 checks to look at the MTU; a dual-stack one had them
  const podMtu = expectedOverlayMtu(i);
  if (!config.EnableIPv4 && env && podMtu !== undefined && env.mtu !== podMtu) {
    f.error('mtu', i.subnetFile, `FLANNEL_MTU=${env.mtu} but the IPv6 overlay carries ${podMtu}; large packets will be dropped`, RESTART);
  }
  if (state.forwarding !== '1') {
    f.error('ip-forward', 'net.ipv6.conf.all.forwarding', `is ${state.forwarding ?? 'unreadable'}: this node drops IPv6 traffic between pods and the overlay`,
      'sysctl -w net.ipv6.conf.all.forwarding=1 (and persist it in /etc/sysctl.d/)');
  }
  if (config.Backend.Type !== 'vxlan') return true;
  for (const p of i.peers) {
    if (!isPeer(own, p) || p.attrs.BackendType !== 'vxlan' || !subnetOf(p, 6) || !p.attrs.PublicIPv6 || p.attrs.BackendV6Data) continue;
    f.warning('lease', `${subnetOf(p, 6)} (node ${p.attrs.PublicIPv6})`, 'the lease publishes no IPv6 VtepMAC: this node cannot tunnel IPv6 to it', 'restart twilld on that node');
  }
  return checkVxlan6Device(i, state, f);
}

/** The IPv6 VXLAN device; false when it is missing (its entries are then not planned). */
function checkVxlan6Device(i: DoctorInput, state: NodeState6, f: Findings): boolean {
  const name = vxlan6DeviceName(i.config.Backend.VNI);
  const link = state.device;
  if (!link) {
    f.error('vxlan-device', name, 'IPv6 VXLAN device is missing: no IPv6 traffic reaches other nodes', `${RESTART} (it creates the device)`);
    return false;
  }
  const info = link.linkinfo?.info_data ?? {};
  const mtu = expectedDeviceMtu(i, 6);
  if (mtu !== undefined && link.mtu !== mtu) f.error('mtu', name, `MTU is ${link.mtu}, expected ${mtu} (70 bytes of VXLAN over IPv6 below the interface's)`, `ip link set ${name} mtu ${mtu}`);
  if (i.own.attrs.PublicIPv6 && !sameIp(info.local6, i.own.attrs.PublicIPv6)) {
    f.error('vxlan-device', name, `local address is ${String(info.local6 ?? 'unset')}, the lease publishes ${i.own.attrs.PublicIPv6}`, `ip link del ${name}; then ${RESTART}`);
  }
  if (!link.flags.includes('UP')) f.error('vxlan-device', name, 'device is down', `ip link set ${name} up`);
  return true;
}
