// The node's share of the cluster network, read from the subnet file twilld writes. A missing
// file is normal while the daemon starts (code 11: the runtime retries), a malformed one is not.
import { readFileSync } from 'node:fs';
import { CniError, ErrorCode } from '../lib/cni/errors.js';
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { parseSubnetEnv } from '../lib/schema/subnet-env.js';

export interface NodeSubnet {
  /** the whole cluster network (FLANNEL_NETWORK), when given */
  network?: Cidr;
  /** this node's pod subnet, normalised: 10.244.3.0/24 */
  subnet: Cidr;
  /** the subnet's first address, carried by the bridge */
  gateway: Ip;
  mtu: number;
}

export function loadNodeSubnet(file: string): NodeSubnet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CniError(ErrorCode.TryAgainLater, `subnet file ${file} does not exist yet`, 'twilld writes it once the node has a subnet lease; retry later');
    }
    throw new CniError(ErrorCode.IoFailure, `cannot read subnet file ${file}: ${(e as Error).message}`);
  }
  let env;
  try {
    env = parseSubnetEnv(text, file);
  } catch (e) {
    throw new CniError(ErrorCode.InvalidConfig, (e as Error).message);
  }
  if (!env.subnet) {
    throw new CniError(ErrorCode.InvalidConfig, `${file}: FLANNEL_SUBNET is missing (twill pods need an IPv4 subnet)`);
  }
  const subnet = env.subnet;
  if (subnet.family !== 4 || subnet.prefix > 30) {
    throw new CniError(ErrorCode.InvalidConfig, `${file}: FLANNEL_SUBNET=${subnet} must be an IPv4 subnet of /30 or larger`);
  }
  if (env.network && !env.network.contains(subnet)) {
    throw new CniError(ErrorCode.InvalidConfig, `${file}: FLANNEL_SUBNET=${subnet} is not inside FLANNEL_NETWORK=${env.network}`);
  }
  return { ...(env.network ? { network: env.network } : {}), subnet, gateway: subnet.nth(1), mtu: env.mtu };
}
