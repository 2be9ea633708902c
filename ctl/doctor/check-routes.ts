// Routes to other nodes' subnets: one per peer (vxlan: onlink via <peer>.0 on the device;
// host-gw: via the peer's public IP), and none to subnets nobody holds any more.
import { Cidr } from '../../lib/ip/cidr.js';
import type { Route } from '../../lib/kernel/ip.js';
import type { Lease } from '../../lib/schema/lease.js';
import { DoctorInput, gatewayOf, vxlanDeviceName } from './context.js';
import { Findings } from './findings.js';

function routeFor(routes: readonly Route[], subnet: Cidr): Route | undefined {
  const want = subnet.toString();
  // ip prints a /32 route without its length
  return routes.find((r) => r.dst === want || (subnet.prefix === 32 && r.dst === subnet.first.toString()));
}

function describe(r: Route): string {
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.flags.includes('onlink') ? ' onlink' : ''}`;
}

/** Whether the peer's public IP is on one of our connected networks (DirectRouting applies). */
function onLink(i: DoctorInput, ip: string): boolean {
  const addr = Cidr.tryParse(`${ip}/32`);
  if (!addr || !i.iface) return false;
  return i.state.addrs.filter((a) => a.ifname === i.iface!.ifname)
    .some((a) => a.addr_info.some((x) => x.family === 'inet' && Cidr.parse(`${x.local}/${x.prefixlen}`).contains(addr.first)));
}

export function checkVxlanRoutes(i: DoctorInput, peers: readonly Lease[], f: Findings): void {
  const name = vxlanDeviceName(i.config);
  for (const p of peers) {
    const subject = `${p.subnet} (node ${p.attrs.PublicIP})`;
    const gw = gatewayOf(p);
    const direct = i.config.Backend.DirectRouting && onLink(i, p.attrs.PublicIP.toString());
    const fix = direct ? `ip route replace ${p.subnet} via ${p.attrs.PublicIP}` : `ip route replace ${p.subnet} via ${gw} dev ${name} onlink`;
    const r = routeFor(i.state.routes, p.subnet);
    if (!r) {
      f.error('route', subject, `no route to ${p.subnet}: pods on node ${p.attrs.PublicIP} are unreachable`, fix);
      continue;
    }
    const viaTunnel = r.gateway === gw && r.dev === name && r.flags.includes('onlink');
    const viaDirect = r.gateway === p.attrs.PublicIP.toString();
    if (!(viaTunnel || (direct && viaDirect))) f.error('route', subject, `route is "${describe(r)}", expected "${fix.replace('ip route replace ', '')}"`, fix);
  }
}

export function checkHostGwRoutes(i: DoctorInput, f: Findings): void {
  for (const p of i.peers) {
    if (p.attrs.BackendType !== 'host-gw') {
      f.warning('lease', p.subnet.toString(), `node ${p.attrs.PublicIP} uses backend ${p.attrs.BackendType}: this host-gw node cannot reach it`,
        'run the same backend on every node (config set, then restart twilld)');
      continue;
    }
    const subject = `${p.subnet} (node ${p.attrs.PublicIP})`;
    const fix = `ip route replace ${p.subnet} via ${p.attrs.PublicIP}`;
    if (!onLink(i, p.attrs.PublicIP.toString())) {
      f.error('route', subject, `node ${p.attrs.PublicIP} is not on this node's network: host-gw needs all nodes on one L2 segment`, 'use the vxlan backend');
      continue;
    }
    const r = routeFor(i.state.routes, p.subnet);
    if (!r) f.error('route', subject, `no route to ${p.subnet}: pods on node ${p.attrs.PublicIP} are unreachable`, fix);
    else if (r.gateway !== p.attrs.PublicIP.toString()) f.error('route', subject, `route is "${describe(r)}", expected via ${p.attrs.PublicIP}`, fix);
  }
}

/** Routes into the pod network for subnets no lease holds: left behind by a node that is gone. */
export function checkStaleRoutes(i: DoctorInput, f: Findings): void {
  const held = new Set([i.own, ...i.peers].map((l) => l.subnet.toString()));
  for (const r of i.state.routes) {
    if (r.dst === 'default') continue;
    const dst = Cidr.tryParse(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    if (!dst || !i.config.Network.contains(dst) || dst.equals(i.config.Network)) continue;
    if (held.has(dst.toString()) || i.own.subnet.contains(dst)) continue;
    f.error('stale-route', dst.toString(), `route "${describe(r)}" leads to a subnet no node holds`, `ip route del ${dst}${r.dev ? ` dev ${r.dev}` : ''}`);
  }
}
