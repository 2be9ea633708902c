// host-gw peers twilld cannot route to, which no plan can fix: another backend, or a node
// off this node's L2 network. The routes themselves are check-dataplane.ts's (the planner).
import { Cidr } from '../../lib/ip/cidr.js';
import type { DoctorInput } from './context.js';
import type { Findings } from './findings.js';

/** Whether the peer's public IP is on one of our connected networks. */
function onLink(i: DoctorInput, ip: string): boolean {
  const addr = Cidr.tryParse(`${ip}/32`);
  if (!addr || !i.iface) return false;
  return i.state.addrs.filter((a) => a.ifname === i.iface!.ifname)
    .some((a) => a.addr_info.some((x) => x.family === 'inet' && Cidr.parse(`${x.local}/${x.prefixlen}`).contains(addr.first)));
}

export function checkHostGwPeers(i: DoctorInput, f: Findings): void {
  for (const p of i.peers) {
    if (p.attrs.BackendType !== 'host-gw') {
      f.warning('lease', p.subnet.toString(), `node ${p.attrs.PublicIP} uses backend ${p.attrs.BackendType}: this host-gw node cannot reach it`,
        'run the same backend on every node (config set, then restart twilld)');
      continue;
    }
    if (!onLink(i, p.attrs.PublicIP.toString())) {
      f.error('route', `${p.subnet} (node ${p.attrs.PublicIP})`, `node ${p.attrs.PublicIP} is not on this node's network: host-gw needs all nodes on one L2 segment`, 'use the vxlan backend');
    }
  }
}
