// Which subnet a node asks for, in flannel's order: the one it already holds (matched by
// public IP), the one in its old subnet.env, then a random free one. Pure: the etcd
// transaction in etcd-manager.ts decides whether the choice actually wins.
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import type { Lease } from '../../lib/schema/lease.js';
import type { NetworkConfig } from '../../lib/schema/network-config.js';

export function inRange(config: NetworkConfig, subnet: Cidr): boolean {
  return subnet.family === 4
    && subnet.prefix === config.SubnetLen
    && config.Network.contains(subnet)
    && subnet.network >= config.SubnetMin.network
    && subnet.network <= config.SubnetMax.network;
}

/** This node's existing lease or reservation: same public IP, inside the configured range. */
export function findOwnLease(config: NetworkConfig, leases: readonly Lease[], publicIp: Ip): Lease | undefined {
  const mine = leases.filter((l) => l.attrs.PublicIP.equals(publicIp) && inRange(config, l.subnet));
  // a reservation made for this node wins over a TTL lease
  return mine.find((l) => !l.leaseId) ?? mine[0];
}

export class NetworkFullError extends Error {
  constructor(config: NetworkConfig, taken: number) {
    super(`network ${config.Network} is full: all ${rangeSize(config)} /${config.SubnetLen} subnets in `
      + `${config.SubnetMin.first}..${config.SubnetMax.first} are leased or reserved (${taken} keys); `
      + 'free one (delete a stale lease) or widen SubnetMin/SubnetMax');
    this.name = 'NetworkFullError';
  }
}

function rangeSize(config: NetworkConfig): bigint {
  const step = config.SubnetMin.size;
  return (config.SubnetMax.network - config.SubnetMin.network) / step + 1n;
}

/**
 * A random subnet in [SubnetMin, SubnetMax] that no key holds; throws NetworkFullError.
 * Random (not first-free) so racing nodes rarely pick the same one.
 */
export function pickFreeSubnet(config: NetworkConfig, leases: readonly Lease[], random: () => number = Math.random): Cidr {
  const taken = new Set(leases.map((l) => l.subnet.network));
  const size = rangeSize(config);
  const step = config.SubnetMin.size;
  const free = (i: bigint) => !taken.has(config.SubnetMin.network + i * step);
  // Sample first: cheap when the network is mostly empty (a /8 of /24s has 65536 slots).
  for (let tries = 0; tries < 16; tries++) {
    const i = BigInt(Math.floor(random() * Number(size)));
    if (i < size && free(i)) return Cidr.of(4, config.SubnetMin.network + i * step, config.SubnetLen);
  }
  // Then walk from a random start so the last free slots are still found.
  const start = BigInt(Math.floor(random() * Number(size))) % size;
  for (let k = 0n; k < size; k++) {
    const i = (start + k) % size;
    if (free(i)) return Cidr.of(4, config.SubnetMin.network + i * step, config.SubnetLen);
  }
  throw new NetworkFullError(config, taken.size);
}
