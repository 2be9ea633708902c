// Where a network config's node subnets come from, per address family: the network, the
// subnet length and the [min, max] range. twilld allocates from it, twillctl counts usage and
// checks reservations against it: one model, so the two never disagree on what is in range.
import { Cidr, Family } from '../ip/cidr.js';
import { LeaseSubnets, subnetOf } from './lease.js';
import type { NetworkConfig } from './network-config.js';

export interface SubnetPool {
  family: Family;
  network: Cidr;
  len: number;
  min: Cidr;
  max: Cidr;
}

/** The family's pool, or undefined when the config does not enable that family. */
export function subnetPool(config: NetworkConfig, family: Family): SubnetPool | undefined {
  if (family === 4) return config.EnableIPv4 ? { family, network: config.Network, len: config.SubnetLen, min: config.SubnetMin, max: config.SubnetMax } : undefined;
  if (!config.EnableIPv6 || !config.IPv6Network) return undefined;
  return { family, network: config.IPv6Network, len: config.IPv6SubnetLen!, min: config.IPv6SubnetMin!, max: config.IPv6SubnetMax! };
}

/** The pools of every family the config enables, IPv4 first. */
export function subnetPools(config: NetworkConfig): SubnetPool[] {
  return ([4, 6] as const).map((f) => subnetPool(config, f)).filter((p): p is SubnetPool => !!p);
}

export function inPool(pool: SubnetPool, subnet: Cidr): boolean {
  return subnet.family === pool.family
    && subnet.prefix === pool.len
    && pool.network.contains(subnet)
    && subnet.network >= pool.min.network
    && subnet.network <= pool.max.network;
}

/** How many node subnets the pool can hand out (min..max inclusive). */
export function poolSize(pool: SubnetPool): bigint {
  return (pool.max.network - pool.min.network) / pool.min.size + 1n;
}

/** Whether this config could have handed out `subnet` (of either family). */
export function inRange(config: NetworkConfig, subnet: Cidr): boolean {
  const pool = subnetPool(config, subnet.family);
  return !!pool && inPool(pool, subnet);
}

/** A lease fits this network: every family the config enables has its subnet in range. */
export function leaseInRange(config: NetworkConfig, l: LeaseSubnets): boolean {
  return subnetPools(config).every((p) => {
    const s = subnetOf(l, p.family);
    return !!s && inPool(p, s);
  });
}
