// The per-peer kernel entries of the overlay as typed values (never text): a route to the
// peer's pod subnet, a permanent neighbour for its next hop and an FDB entry to its VTEP.
// Backends declare them, lib/dataplane/plan.ts diffs them, lib/kernel/dataplane.ts writes
// them over netlink; an `ip` spelling exists only for messages (plan.ts opText).
import type { Cidr, Ip } from '../ip/cidr.js';
import type { Mac } from '../ip/mac.js';

export interface RouteSpec {
  dst: Cidr;
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

export interface DataplaneEntries<R = RouteSpec, N = NeighSpec, F = FdbSpec> {
  routes: R[];
  neighs: N[];
  fdb: F[];
}

/** What one remote lease needs. */
export type PeerEntries = DataplaneEntries;

/** Entries as read back from the kernel: what it holds may be half of what we would write. */
export interface ActualRoute {
  dst: Cidr;
  via?: Ip;
  dev: string;
  onlink: boolean;
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
export type ActualEntries = DataplaneEntries<ActualRoute, ActualNeigh, ActualFdb>;

export type EntryKind = 'route' | 'neigh' | 'fdb';

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

export const noEntries = (): DataplaneEntries => ({ routes: [], neighs: [], fdb: [] });

/** The entries a clean write left, as the kernel holds them right after it. */
export function asProgrammed(d: DataplaneEntries): ActualEntries {
  return {
    routes: d.routes,
    neighs: d.neighs.map((n) => ({ ...n, permanent: true })),
    fdb: d.fdb.map((f) => ({ ...f, permanent: true })),
  };
}
