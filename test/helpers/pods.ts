// Pods built the way the twill CNI plugin builds them, for daemon tests that must not depend
// on the plugin: a namespace per pod, a veth whose host end sits on the node's cni0 bridge
// (gateway = the subnet's .1), the pod address from the subnet the daemon wrote to
// subnet.env, the subnet.env MTU, and a default route via the gateway. All through lib/kernel.
import { Cidr } from '../../lib/ip/cidr.js';
import { getLink, ipBatch } from '../../lib/kernel/ip.js';
import { readSubnetEnv } from '../../lib/schema/subnet-env.js';
import { netnsPath, World } from './world.js';

export interface Pod {
  ns: string;
  ip: string;
  node: string;
}

/** Creates cni0 in the node namespace (once) with the gateway address from subnet.env. */
export async function ensureBridge(nodeNs: string, subnetFile: string): Promise<{ subnet: Cidr; gateway: string; mtu: number }> {
  const env = readSubnetEnv(subnetFile);
  if (!env.subnet) throw new Error(`${subnetFile} has no FLANNEL_SUBNET`);
  const subnet = Cidr.of(4, env.subnet.network, env.subnet.prefix);
  const gateway = subnet.nth(1).toString();
  const node = netnsPath(nodeNs);
  if (!(await getLink(node, 'cni0'))) {
    await ipBatch(node, ['link add cni0 type bridge', `addr add ${gateway}/${subnet.prefix} dev cni0`, 'link set cni0 up']);
  }
  return { subnet, gateway, mtu: env.mtu };
}

/** Pod number `index` (1, 2, ...) on a node gets the subnet's address .(10+index). */
export async function addPod(world: World, nodeNs: string, subnetFile: string, index: number): Promise<Pod> {
  const { subnet, gateway, mtu } = await ensureBridge(nodeNs, subnetFile);
  const short = nodeNs.slice(nodeNs.lastIndexOf('-') + 1);
  const ns = await world.addNetns(`${short}p${index}`);
  const ip = subnet.nth(10 + index).toString();
  const hostIf = `vp${index}`;
  await ipBatch(netnsPath(nodeNs), [
    `link add ${hostIf} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${netnsPath(ns)}`,
    `link set ${hostIf} master cni0 up`,
  ]);
  await ipBatch(netnsPath(ns), [`addr add ${ip}/${subnet.prefix} dev eth0`, 'link set eth0 up', `route add default via ${gateway}`]);
  return { ns, ip, node: nodeNs };
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
