// Pods built the way the twill CNI plugin builds them, for daemon tests that must not depend
// on the plugin: a namespace per pod, a veth whose host end sits on the node's cni0 bridge
// (gateway = the subnet's first host), the pod address(es) from the subnet(s) the daemon wrote
// to subnet.env (IPv4, IPv6 or both), the subnet.env MTU, and a default route per family via
// the gateway. All through lib/kernel.
import { Cidr } from '../lib/ip/cidr.js';
import { getLink, ipBatch } from '../lib/kernel/ip.js';
import { readSubnetEnv } from '../lib/schema/subnet-env.js';
import { netnsPath, World } from './world.js';

export interface Pod {
  ns: string;
  ip: string;
  /** the pod's IPv6 address when subnet.env is dual stack */
  ip6?: string;
  node: string;
}

/** Creates cni0 in the node namespace (once) with the gateway address from subnet.env. */
export async function ensureBridge(nodeNs: string, subnetFile: string): Promise<{ subnet?: Cidr; gateway?: string; mtu: number; subnet6?: Cidr; gateway6?: string }> {
  const env = readSubnetEnv(subnetFile);
  const v4 = env.subnet ? { subnet: env.subnet, gateway: env.subnet.nth(1).toString() } : {};
  const v6 = env.ipv6Subnet ? { subnet6: env.ipv6Subnet, gateway6: env.ipv6Subnet.nth(1).toString() } : {};
  const node = netnsPath(nodeNs);
  if (!(await getLink(node, 'cni0'))) {
    await ipBatch(node, ['link add cni0 type bridge',
      ...(v4.subnet ? [`addr add ${v4.gateway}/${v4.subnet.prefix} dev cni0`] : []),
      ...(v6.subnet6 ? [`addr add ${v6.gateway6}/${v6.subnet6.prefix} dev cni0 nodad`] : []), 'link set cni0 up']);
  }
  return { mtu: env.mtu, ...v4, ...v6 };
}

/** Pod number `index` (1, 2, ...) on a node gets the subnet's address .(10+index). */
export async function addPod(world: World, nodeNs: string, subnetFile: string, index: number): Promise<Pod> {
  const { subnet, gateway, mtu, subnet6, gateway6 } = await ensureBridge(nodeNs, subnetFile);
  const short = nodeNs.slice(nodeNs.lastIndexOf('-') + 1);
  const ns = await world.addNetns(`${short}p${index}`);
  const hostIf = `vp${index}`;
  await ipBatch(netnsPath(nodeNs), [
    `link add ${hostIf} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${netnsPath(ns)}`,
    `link set ${hostIf} master cni0 up`,
  ]);
  const ip = subnet?.nth(10 + index).toString();
  const ip6 = subnet6?.nth(10 + index).toString();
  await ipBatch(netnsPath(ns), [
    'link set eth0 up',
    ...(subnet ? [`addr add ${ip}/${subnet.prefix} dev eth0`, `route add default via ${gateway}`] : []),
    ...(subnet6 ? [`addr add ${ip6}/${subnet6.prefix} dev eth0 nodad`, `route add ::/0 via ${gateway6} dev eth0`] : []),
  ]);
  // an IPv6-only pod's `ip` is its IPv6 address
  return { ns, ip: ip ?? ip6!, ...(ip6 ? { ip6 } : {}), node: nodeNs };
}

/** One ping from a pod; true when the reply came back. */
export async function ping(world: World, from: Pod | string, to: string, count = 1): Promise<boolean> {
  const ns = typeof from === 'string' ? from : from.ns;
  try {
    await world.exec(ns, 'ping', ['-c', String(count), '-W', '2', '-i', '0.2', to]);
    return true;
  } catch {
    return false;
  }
}
