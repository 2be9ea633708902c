// IPv6 on the test underlay: the bridge and every node get an address in fd18::/64 (a ULA
// inside namespaces the test made), for dual-stack and IPv6-only worlds.
import { ipBatch } from '../lib/kernel/ip.js';
import type { Pod } from './pods.js';
import { buildUnderlay, netnsPath, Underlay, World } from './world.js';

export const UL6 = 'fd18::';

export type DualUnderlay = Underlay & { hostIp6: string; ip6: string[] };

/** The underlay of `buildUnderlay`, plus an IPv6 address on the bridge and on every node. */
export async function dualUnderlay(world: World, nodes: number): Promise<DualUnderlay> {
  const ul = await buildUnderlay(world, nodes);
  await ipBatch(netnsPath(ul.ns), [`addr add ${UL6}1/64 dev br0 nodad`]);
  const ip6 = ul.nodes.map((_, i) => `${UL6}${11 + i}`);
  for (const [i, n] of ul.nodes.entries()) await ipBatch(netnsPath(n.ns), [`addr add ${ip6[i]}/64 dev eth0 nodad`, `route add ::/0 via ${UL6}1 dev eth0`]);
  return { ...ul, hostIp6: `${UL6}1`, ip6 };
}

/** An underlay whose nodes have IPv6 addresses only (etcd then listens on the bridge's IPv6 address). */
export async function v6OnlyUnderlay(world: World, nodes: number): Promise<DualUnderlay> {
  const ul = await dualUnderlay(world, nodes);
  for (const n of ul.nodes) await ipBatch(netnsPath(n.ns), [`addr del ${n.ip}/24 dev eth0`]);
  return ul;
}

export const ping6 = (world: World, from: Pod, to: string) => world.exec(from.ns, 'ping', ['-6', '-c', '1', '-W', '2', to]).then(() => true, () => false);
export const ping4 = (world: World, from: Pod, to: string) => world.exec(from.ns, 'ping', ['-c', '1', '-W', '2', to]).then(() => true, () => false);
