// The pure half of reconcile: desired entries (from leases) against what the kernel has,
// turned into one `ip -batch` and one `bridge -batch` script. Only entries handed in as
// "actual" are ever deleted, so the caller decides what counts as ours. Every word of a line
// is a typed value (Cidr, Ip, Mac, a number) or a device name the kernel or our own config
// gave us; lib/kernel/ip.ts refuses the script anyway if a line holds anything else.
import type { Cidr, Ip } from '../lib/ip/cidr.js';
import type { Mac } from '../lib/ip/mac.js';
import type { FdbSpec, NeighSpec, RouteSpec } from './backend/backend.js';

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

export interface DataplaneEntries<R = RouteSpec, N = NeighSpec, F = FdbSpec> {
  routes: R[];
  neighs: N[];
  fdb: F[];
}
export type ActualEntries = DataplaneEntries<ActualRoute, ActualNeigh, ActualFdb>;

export type EntryKind = 'route' | 'neigh' | 'fdb';

export interface Change {
  kind: EntryKind;
  op: 'set' | 'del';
  key: string;
}

export interface Plan {
  ipLines: string[];
  bridgeLines: string[];
  changes: Change[];
}

export const routeKey = (r: { dst: Cidr }) => r.dst.toString();
export const neighKey = (n: { dst: Ip; dev: string }) => `${n.dev}|${n.dst}`;
export const fdbKey = (f: { mac: Mac; dst: Ip; dev: string }) => `${f.dev}|${f.mac}|${f.dst}`;

const sameRoute = (have: ActualRoute, want: RouteSpec) => !!have.via?.equals(want.via) && have.dev === want.dev && have.onlink === want.onlink;

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  return new Map(items.map((i) => [key(i), i]));
}

export function planDataplane(desired: DataplaneEntries, actual: ActualEntries): Plan {
  const ipDel: string[] = [];
  const ipSet: string[] = [];
  const brDel: string[] = [];
  const brSet: string[] = [];
  const changes: Change[] = [];

  const wantRoutes = byKey(desired.routes, routeKey);
  const haveRoutes = byKey(actual.routes, routeKey);
  for (const [k, have] of haveRoutes) {
    if (wantRoutes.has(k)) continue;
    ipDel.push(`route del ${have.dst}${have.via ? ` via ${have.via}` : ''} dev ${have.dev}`);
    changes.push({ kind: 'route', op: 'del', key: k });
  }
  for (const [k, want] of wantRoutes) {
    const have = haveRoutes.get(k);
    if (have && sameRoute(have, want)) continue;
    ipSet.push(`route replace ${want.dst} via ${want.via} dev ${want.dev}${want.onlink ? ' onlink' : ''}`);
    changes.push({ kind: 'route', op: 'set', key: k });
  }

  const wantNeighs = byKey(desired.neighs, neighKey);
  const haveNeighs = byKey(actual.neighs, neighKey);
  for (const [k, have] of haveNeighs) {
    if (wantNeighs.has(k)) continue;
    ipDel.push(`neigh del ${have.dst} dev ${have.dev}`);
    changes.push({ kind: 'neigh', op: 'del', key: k });
  }
  for (const [k, want] of wantNeighs) {
    const have = haveNeighs.get(k);
    if (have && have.permanent && have.lladdr?.equals(want.lladdr)) continue;
    ipSet.push(`neigh replace ${want.dst} lladdr ${want.lladdr} dev ${want.dev} nud permanent`);
    changes.push({ kind: 'neigh', op: 'set', key: k });
  }

  const wantFdb = byKey(desired.fdb, fdbKey);
  const haveFdb = byKey(actual.fdb, fdbKey);
  for (const [k, have] of haveFdb) {
    if (wantFdb.has(k)) continue;
    brDel.push(`fdb del ${have.mac} dev ${have.dev} dst ${have.dst} self`);
    changes.push({ kind: 'fdb', op: 'del', key: k });
  }
  for (const [k, want] of wantFdb) {
    const have = haveFdb.get(k);
    if (have && have.permanent) continue;
    // `append` adds this (MAC, dst) pair without touching other destinations of the MAC,
    // which the delete lines above have already removed when they are stale.
    brSet.push(`fdb ${have ? 'replace' : 'append'} ${want.mac} dev ${want.dev} dst ${want.dst} self permanent`);
    changes.push({ kind: 'fdb', op: 'set', key: k });
  }

  // deletions first: a stale entry must not shadow or block its replacement
  return { ipLines: [...ipDel, ...ipSet], bridgeLines: [...brDel, ...brSet], changes };
}
