// The node's share of the cluster network, read from the subnet file twilld writes. A missing
// file is normal while the daemon starts (code 11: the runtime retries), a malformed one is not.
// The file names one subnet per family the cluster runs: IPv4 (FLANNEL_SUBNET), IPv6
// (FLANNEL_IPV6_SUBNET) or both (dual stack), and a pod gets one address from each.
import { readFileSync } from 'node:fs';
import { CniError, ErrorCode } from '../lib/cni/errors.js';
import { Cidr, Family, Ip } from '../lib/ip/cidr.js';
import { parseSubnetEnv } from '../lib/schema/subnet-env.js';

export interface FamilySubnet {
  family: Family;
  /** the whole cluster network of this family (FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK), when given */
  network?: Cidr;
  /** this node's pod subnet, normalised: 10.244.3.0/24, fd00:10:244:3::/64 */
  subnet: Cidr;
  /** the subnet's first address, carried by the bridge */
  gateway: Ip;
  /** the subnet file keys, for messages */
  subnetKey: string;
  networkKey: string;
}

export interface NodeSubnet {
  /** IPv4 first when present, as host-local numbers its ranges for flannel: the index is the range id */
  families: FamilySubnet[];
  mtu: number;
}

// The smallest subnets that still leave a pod address: IPv4 loses network, gateway and
// broadcast (a /30 keeps one), IPv6 only the subnet-router anycast address and the gateway
// (a /126 keeps two).
const MAX_PREFIX: Record<Family, number> = { 4: 30, 6: 126 };

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
  const families: FamilySubnet[] = [];
  if (env.subnet) families.push(familySubnet(file, 4, 'FLANNEL_SUBNET', env.subnet, 'FLANNEL_NETWORK', env.network));
  else if (env.network) throw new CniError(ErrorCode.InvalidConfig, `${file}: FLANNEL_NETWORK=${env.network} is set but FLANNEL_SUBNET is missing`);
  if (env.ipv6Subnet) families.push(familySubnet(file, 6, 'FLANNEL_IPV6_SUBNET', env.ipv6Subnet, 'FLANNEL_IPV6_NETWORK', env.ipv6Network));
  else if (env.ipv6Network) throw new CniError(ErrorCode.InvalidConfig, `${file}: FLANNEL_IPV6_NETWORK=${env.ipv6Network} is set but FLANNEL_IPV6_SUBNET is missing`);
  if (families.length === 0) {
    throw new CniError(ErrorCode.InvalidConfig, `${file}: neither FLANNEL_SUBNET nor FLANNEL_IPV6_SUBNET is set`);
  }
  return { families, mtu: env.mtu };
}

function familySubnet(file: string, family: Family, subnetKey: string, subnet: Cidr, networkKey: string, network: Cidr | undefined): FamilySubnet {
  const what = family === 4 ? 'an IPv4' : 'an IPv6';
  if (subnet.family !== family || subnet.prefix > MAX_PREFIX[family]) {
    throw new CniError(ErrorCode.InvalidConfig, `${file}: ${subnetKey}=${subnet} must be ${what} subnet of /${MAX_PREFIX[family]} or larger`);
  }
  if (network && !network.contains(subnet)) {
    throw new CniError(ErrorCode.InvalidConfig, `${file}: ${subnetKey}=${subnet} is not inside ${networkKey}=${network}`);
  }
  return { family, ...(network ? { network } : {}), subnet, gateway: subnet.nth(1), subnetKey, networkKey };
}
