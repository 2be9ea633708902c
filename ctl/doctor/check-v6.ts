// The IPv6 half of a dual-stack (or IPv6-only) node: subnet.env's IPv6 keys, IPv6 forwarding,
// the `twill6.<VNI>` VXLAN device and, per remote node, the same three entries as for IPv4
// (onlink route via the peer subnet's first address, permanent neighbour to its v6 VtepMAC,
// FDB entry to its PublicIPv6), or for host-gw a route via its PublicIPv6; and no route into
// the IPv6 pod network for a subnet nobody holds.
import { vxlan6DeviceName } from '../../lib/dataplane/devices.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import type { Route } from '../../lib/kernel/ip.js';
import { Lease, subnetOf } from '../../lib/schema/lease.js';
import { DoctorInput, expectedDeviceMtu, expectedOverlayMtu } from './context.js';
import { Findings } from './findings.js';
import type { Device6State } from './node-state.js';

const RESTART = 'restart twilld on this node (it rewrites this state) and check its log';


const sameIp = (a: string | undefined, b: Ip) => !!a && (Ip.tryParse(a)?.equals(b) ?? false);

function routeFor(routes: readonly Route[], subnet: Cidr): Route | undefined {
  return routes.find((r) => Cidr.tryParse(r.dst)?.equals(subnet));
}

export function checkIpv6(i: DoctorInput, f: Findings, state: { routes: Route[]; forwarding?: string; device?: Device6State }): number {
  const { config, own } = i;
  const own6 = subnetOf(own, 6);
  if (!config.EnableIPv6 || !config.IPv6Network) return 0;
  if (!own6) {
    f.error('lease', own.key, 'this node\'s lease has no IPv6 subnet but the network is dual stack', RESTART);
    return 0;
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
  const peers = i.peers.filter((p) => subnetOf(p, 6) && p.attrs.PublicIPv6 && p.attrs.BackendType === config.Backend.Type);
  if (config.Backend.Type === 'vxlan') checkVxlan6(i, peers, state.device, state.routes, f);
  else checkHostGw6(peers, state.routes, f);
  checkStale6(i, state.routes, f);
  return peers.length;
}

function checkVxlan6(i: DoctorInput, peers: Lease[], dev: Device6State | undefined, routes: Route[], f: Findings): void {
  const name = vxlan6DeviceName(i.config.Backend.VNI);
  if (!dev) {
    f.error('vxlan-device', name, 'IPv6 VXLAN device is missing: no IPv6 traffic reaches other nodes', `${RESTART} (it creates the device)`);
    return;
  }
  const info = dev.link.linkinfo?.info_data ?? {};
  const mtu = expectedDeviceMtu(i, 6);
  if (mtu !== undefined && dev.link.mtu !== mtu) f.error('mtu', name, `MTU is ${dev.link.mtu}, expected ${mtu} (70 bytes of VXLAN over IPv6 below the interface's)`, `ip link set ${name} mtu ${mtu}`);
  if (i.own.attrs.PublicIPv6 && !sameIp(info.local6 as string | undefined, i.own.attrs.PublicIPv6)) {
    f.error('vxlan-device', name, `local address is ${String(info.local6 ?? 'unset')}, the lease publishes ${i.own.attrs.PublicIPv6}`, `ip link del ${name}; then ${RESTART}`);
  }
  for (const p of peers) {
    const s6 = subnetOf(p, 6)!;
    const data = p.attrs.BackendV6Data;
    const subject = `${s6} (node ${p.attrs.PublicIPv6})`;
    if (!data) {
      f.warning('lease', subject, 'the lease publishes no IPv6 VtepMAC: this node cannot tunnel IPv6 to it', 'restart twilld on that node');
      continue;
    }
    const vtep = s6.first;
    const r = routeFor(routes, s6);
    const fix = `ip -6 route replace ${s6} via ${vtep} dev ${name} onlink`;
    if (!r) f.error('route', subject, `no route to ${s6}: IPv6 pods on node ${p.attrs.PublicIPv6} are unreachable`, fix);
    else if (!(sameIp(r.gateway, vtep) && r.dev === name && r.flags.includes('onlink'))) f.error('route', subject, `route goes via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`, fix);
    const n = dev.neighbours.find((x) => sameIp(x.dst, vtep));
    const neighFix = `ip -6 neigh replace ${vtep} lladdr ${data.VtepMAC} dev ${name} nud permanent`;
    if (!n) f.error('neighbour', subject, `no neighbour entry for ${vtep} on ${name}`, neighFix);
    else if (n.lladdr?.toLowerCase() !== data.VtepMAC.toString()) f.error('neighbour', subject, `neighbour ${vtep} resolves to ${n.lladdr ?? 'nothing'}, the lease says ${data.VtepMAC}`, neighFix);
    const fdbFix = `bridge fdb replace ${data.VtepMAC} dev ${name} dst ${p.attrs.PublicIPv6} self permanent`;
    if (!dev.fdb.some((e) => e.mac.toLowerCase() === data.VtepMAC.toString() && sameIp(e.dst, p.attrs.PublicIPv6!))) {
      f.error('fdb', subject, `no FDB entry sending ${data.VtepMAC} to ${p.attrs.PublicIPv6} on ${name}`, fdbFix);
    }
  }
}

function checkHostGw6(peers: Lease[], routes: Route[], f: Findings): void {
  for (const p of peers) {
    const s6 = subnetOf(p, 6)!;
    const r = routeFor(routes, s6);
    const subject = `${s6} (node ${p.attrs.PublicIPv6})`;
    const fix = `ip -6 route replace ${s6} via ${p.attrs.PublicIPv6}`;
    if (!r) f.error('route', subject, `no route to ${s6}: IPv6 pods on node ${p.attrs.PublicIPv6} are unreachable`, fix);
    else if (!sameIp(r.gateway, p.attrs.PublicIPv6!)) f.error('route', subject, `route goes via ${r.gateway ?? '-'}, expected ${p.attrs.PublicIPv6}`, fix);
  }
}

function checkStale6(i: DoctorInput, routes: Route[], f: Findings): void {
  const net6 = i.config.IPv6Network!;
  const held = [i.own, ...i.peers].map((l) => subnetOf(l, 6)).filter((s): s is Cidr => !!s);
  for (const r of routes) {
    const dst = Cidr.tryParse(r.dst);
    if (!dst || !net6.contains(dst) || dst.equals(net6)) continue;
    if (held.some((s) => s.equals(dst) || s.contains(dst))) continue;
    f.error('stale-route', dst.toString(), `route "${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev ?? '-'}" leads to an IPv6 subnet no node holds`, `ip -6 route del ${dst}`);
  }
}
