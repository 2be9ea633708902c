// Which subnet a node asks for, in flannel's order: the one it already holds (matched by
// public IP), the one in its old subnet.env, then a random free one. The same rules for the
// IPv4 and the IPv6 subnet of a dual-stack lease, each from its own pool. Pure: the etcd
// transaction in etcd-manager.ts decides whether the choice actually wins.
import { Cidr, Family } from '../../lib/ip/cidr.js';
import { Lease, LeaseAttrs, sameNode, subnetOf } from '../../lib/schema/lease.js';
import { leaseInRange, poolSize, SubnetPool, subnetPool } from '../../lib/schema/subnet-pool.js';
import type { NetworkConfig } from '../../lib/schema/network-config.js';

/** This node's existing lease or reservation: same public IP(s), inside the configured range. */
export function findOwnLease(config: NetworkConfig, leases: readonly Lease[], attrs: LeaseAttrs): Lease | undefined {
  const mine = leases.filter((l) => sameNode(l.attrs, attrs) && leaseInRange(config, l));
  // a reservation made for this node wins over a TTL lease
  return mine.find((l) => !l.leaseId) ?? mine[0];
}

export class NetworkFullError extends Error {
  constructor(pool: SubnetPool, taken: number) {
    const [what, minField, maxField] = pool.family === 4 ? ['network', 'SubnetMin', 'SubnetMax'] : ['IPv6 network', 'IPv6SubnetMin', 'IPv6SubnetMax'];
    super(`${what} ${pool.network} is full: all ${poolSize(pool)} /${pool.len} subnets in `
      + `${pool.min.first}..${pool.max.first} are leased or reserved (${taken} keys); `
      + `free one (delete a stale lease) or widen ${minField}/${maxField}`);
    this.name = 'NetworkFullError';
  }
}


/** A uniform random index below `n` (n may exceed 2^53 for IPv6 pools). */
function randomBelow(n: bigint, random: () => number): bigint {
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return BigInt(Math.floor(random() * Number(n))) % n;
  let v = 0n;
  for (let bitsLeft = n.toString(2).length + 16; bitsLeft > 0; bitsLeft -= 32) v = (v << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  return v % n;
}

/**
 * A random subnet of `family` in its [min, max] that no key holds; throws NetworkFullError.
 * Random (not first-free) so racing nodes rarely pick the same one.
 */
export function pickFreeSubnet(config: NetworkConfig, leases: readonly Lease[], random: () => number = Math.random, family: Family = 4): Cidr {
  const pool = subnetPool(config, family);
  if (!pool) throw new Error(`the network config has no IPv${family} network`);
  const taken = new Set(leases.map((l) => subnetOf(l, family)).filter((s): s is Cidr => !!s).map((s) => s.network));
  const size = poolSize(pool);
  const step = pool.min.size;
  const at = (i: bigint) => Cidr.of(family, pool.min.network + i * step, pool.len);
  const free = (i: bigint) => !taken.has(pool.min.network + i * step);
  // Sample first: cheap when the network is mostly empty (a /8 of /24s has 65536 slots).
  for (let tries = 0; tries < 16; tries++) {
    const i = randomBelow(size, random);
    if (free(i)) return at(i);
  }
  // Then walk from a random start so the last free slots are still found. Among taken + 1
  // consecutive slots one is free, so the walk is bounded by the lease set, not the pool
  // (an IPv6 pool can hold 2^64 subnets).
  const start = randomBelow(size, random);
  const steps = BigInt(taken.size) + 1n < size ? BigInt(taken.size) + 1n : size;
  for (let k = 0n; k < steps; k++) {
    const i = (start + k) % size;
    if (free(i)) return at(i);
  }
  throw new NetworkFullError(pool, taken.size);
}
