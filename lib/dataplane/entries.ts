// The per-peer kernel entries of the overlay as typed values (never text): a route to the
// peer's pod subnet, a permanent neighbour for its next hop and an FDB entry to its VTEP,
// and (IPv4 tunnel routes, where the kernel has them) the nexthop object the route names.
// Backends declare them, lib/dataplane/plan.ts diffs them, lib/kernel/dataplane.ts writes
// them over netlink; an `ip` spelling exists only for messages (plan.ts opText).
import type { Cidr, Ip } from '../ip/cidr.js';
import type { Mac } from '../ip/mac.js';

export interface RouteSpec {
  dst: Cidr;
  via: Ip;
  dev: string;
  onlink: boolean;
  /**
   * the nexthop object (NexthopSpec) that carries `via`, `dev` and `onlink` in the kernel;
   * the route then names only it. The fields above stay: they are what the route means.
   */
  nhid?: number;
}

/**
 * A nexthop object (`ip nexthop`, Linux 5.3+). Why the tunnel routes use them: the kernel
 * keeps one fib_info per distinct next hop in a hash that ignores the gateway, so thousands of
 * routes via different gateways on one device share a single chain, and each insert walks it
 * (5000 onlink routes took ~0.4 s, growing with the square). A route naming a nexthop object
 * is hashed by the object's id, and the 5000 nexthops and routes together take ~0.13 s.
 */
export interface NexthopSpec {
  id: number;
  via: Ip;
  dev: string;
  onlink: boolean;
}

export interface NeighSpec {
  dst: Ip;
  lladdr: Mac;
  dev: string;
}

export interface FdbSpec {
  mac: Mac;
  /** the remote VTEP's underlay address */
  dst: Ip;
  dev: string;
}

export interface DataplaneEntries<R = RouteSpec, N = NeighSpec, F = FdbSpec, H = NexthopSpec> {
  routes: R[];
  neighs: N[];
  fdb: F[];
  nexthops: H[];
}

/** What one remote lease needs. */
export type PeerEntries = DataplaneEntries;

/** Entries as read back from the kernel: what it holds may be half of what we would write. */
export interface ActualRoute {
  dst: Cidr;
  via?: Ip;
  dev: string;
  onlink: boolean;
  nhid?: number;
}
export interface ActualNeigh {
  dst: Ip;
  lladdr?: Mac;
  dev: string;
  permanent: boolean;
}
export interface ActualFdb extends FdbSpec {
  permanent: boolean;
}
export interface ActualNexthop {
  id: number;
  via?: Ip;
  dev: string;
  onlink: boolean;
}
export type ActualEntries = DataplaneEntries<ActualRoute, ActualNeigh, ActualFdb, ActualNexthop>;

export type EntryKind = 'route' | 'neigh' | 'fdb' | 'nexthop';

// An entry's key is made once per object: a peer's entries live as long as its lease is
// unchanged, and every full pass looks all of them up again (formatting an address is not free).
const keys = new WeakMap<object, string>();
function keyOf<T extends object>(o: T, make: (o: T) => string): string {
  let k = keys.get(o);
  if (k === undefined) keys.set(o, (k = make(o)));
  return k;
}
export const routeKey = (r: { dst: Cidr }) => keyOf(r, () => r.dst.toString());
export const neighKey = (n: { dst: Ip; dev: string }) => keyOf(n, () => `${n.dev}|${n.dst}`);
export const fdbKey = (f: { mac: Mac; dst: Ip; dev: string }) => keyOf(f, () => `${f.dev}|${f.mac}|${f.dst}`);
/** nexthop ids are unique in a network namespace */
export const nexthopKey = (h: { id: number }) => String(h.id);

/**
 * The id of the nexthop object for a tunnel route's gateway: the IPv4 address as a number.
 * Unique per peer (each peer's gateway is its own subnet's first address), the same on every
 * node and after every restart, so nothing needs remembering; and far above the small ids
 * that routing daemons count up from.
 */
export const nexthopIdFor = (gateway: Ip): number => Number(gateway.value);

export const noEntries = (): DataplaneEntries => ({ routes: [], neighs: [], fdb: [], nexthops: [] });

/** The entries a clean write left, as the kernel holds them right after it. */
export function asProgrammed(d: DataplaneEntries): ActualEntries {
  return {
    routes: d.routes,
    neighs: d.neighs.map((n) => ({ ...n, permanent: true })),
    fdb: d.fdb.map((f) => ({ ...f, permanent: true })),
    nexthops: d.nexthops,
  };
}
