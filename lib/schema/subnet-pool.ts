// Where a network config's node subnets come from, per address family: the network, the
// subnet length and the [min, max] range. twilld allocates from it and screens the lease set
// with it, twillctl counts usage, checks reservations and shows refused leases with it: one
// model, so the two never disagree on what is in range.
import type { Cidr, Family } from '../ip/cidr.js';
import { InvalidLease, Lease, LeaseSubnets, subnetOf } from './lease.js';
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

/**
 * Why a well-formed lease still cannot be a node of this network: each family the network has
 * needs a subnet of the pool's length inside its network (min/max bound allocation, not
 * routing), or the lease would route addresses that are not a node's (a 0.0.0.0/0 "lease"
 * would take the default route). A dual-stack lease in an IPv4-only network is routed for
 * IPv4, its v6 half ignored.
 */
export function leaseNetworkProblem(l: LeaseSubnets, config: NetworkConfig): { field: string; reason: string } | undefined {
  const pool4 = subnetPool(config, 4);
  const pool6 = subnetPool(config, 6);
  const s4 = subnetOf(l, 4);
  const s6 = subnetOf(l, 6);
  const outside = (s: Cidr, pool: SubnetPool) => !pool.network.contains(s) || s.prefix !== pool.len;
  if (pool4 && !s4) return { field: 'subnet', reason: 'has no IPv4 subnet, and the network is IPv4' };
  if (!pool4 && s4) return { field: 'subnet', reason: `${s4} is IPv4, and the network is IPv6 only` };
  if (s4 && outside(s4, pool4!)) return { field: 'subnet', reason: `${s4} is not a /${pool4!.len} inside Network ${pool4!.network}` };
  // a dual-stack lease in an IPv4-only network is routed for IPv4; its v6 half is ignored
  if (s6 && (pool6 || !s4) && (!pool6 || outside(s6, pool6))) {
    return { field: l.subnet6 ? 'subnet6' : 'subnet', reason: `${s6} is not a /${pool6?.len ?? '?'} inside IPv6Network ${pool6?.network ?? '(none)'}` };
  }
  return undefined;
}

/** per config, per lease object: its problem, or false when it fits (leases are never changed in place) */
const screened = new WeakMap<NetworkConfig, WeakMap<Lease, { field: string; reason: string } | false>>();

/**
 * What screening makes of one lease: undefined when it can be a node of this network, else
 * the refusal (field and reason). Each lease object is judged once per config: a watch hands
 * over the same objects until their keys change, and at 10 000 leases judging the whole set
 * again was ~2 ms of every event (a CPU profile of bench:scale).
 */
export function screenLease(l: Lease, config: NetworkConfig): InvalidLease | undefined {
  let verdicts = screened.get(config);
  if (!verdicts) screened.set(config, (verdicts = new WeakMap()));
  let p = verdicts.get(l);
  if (p === undefined) verdicts.set(l, (p = leaseNetworkProblem(l, config) ?? false));
  return p ? { invalid: true, key: l.key, field: p.field, reason: p.reason, leaseId: l.leaseId, modRevision: l.modRevision } : undefined;
}

/**
 * Splits a lease set into the leases that can be nodes of this network and the ones that
 * cannot (moved to `invalid`, with the field and reason): what the daemon programs and what
 * twillctl shows as ignored come from screenLease, through this or through LeaseScreen.
 */
export function screenLeases(leases: readonly Lease[], invalid: readonly InvalidLease[], config: NetworkConfig): { leases: Lease[]; invalid: InvalidLease[] } {
  const fit: Lease[] = [];
  const refused = [...invalid];
  for (const l of leases) {
    const r = screenLease(l, config);
    if (r) refused.push(r);
    else fit.push(l);
  }
  return { leases: fit, invalid: refused };
}

/**
 * A screened lease set kept up to date key by key: a watch event costs the keys it changed,
 * not the size of the set (the daemon's path from an etcd event to its route).
 */
export class LeaseScreen {
  /** the leases that can be nodes of this network, by key */
  readonly leases = new Map<string, Lease>();
  /** every refused key: unparsable values (as the watch refused them) and leases that do not fit */
  readonly invalid = new Map<string, InvalidLease>();

  constructor(private readonly config: NetworkConfig) {}

  /**
   * Takes the watch's current set. `changed`: the keys that changed since the last call,
   * looked at alone; undefined screens the whole set again (a new listing).
   */
  update(all: ReadonlyMap<string, Lease>, refused: ReadonlyMap<string, InvalidLease>, changed?: Iterable<string>): void {
    if (!changed) {
      this.leases.clear();
      this.invalid.clear();
    }
    for (const k of changed ?? new Set([...all.keys(), ...refused.keys()])) {
      this.leases.delete(k);
      this.invalid.delete(k);
      const l = all.get(k);
      const r = l ? screenLease(l, this.config) : refused.get(k);
      if (r) this.invalid.set(k, r);
      else if (l) this.leases.set(k, l);
    }
  }
}
