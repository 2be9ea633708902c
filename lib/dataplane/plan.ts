// The planner: desired entries against what the kernel has, as a list of typed operations
// (what to replace, append or delete). Only entries handed in as "actual" are ever deleted,
// so the caller decides what counts as ours. The daemon applies the plan through netlink;
// twillctl doctor runs the same planner without applying it and explains each operation.
// opText spells an operation as the `ip`/`bridge` command that does the same, for messages.
import {
  ActualEntries, ActualFdb, ActualNeigh, ActualNexthop, ActualRoute, asProgrammed, DataplaneEntries, EntryKind, FdbSpec, fdbKey,
  neighKey, NeighSpec, nexthopKey, NexthopSpec, noEntries, routeKey, RouteSpec,
} from './entries.js';

export type DataplaneOp =
  | { kind: 'route'; op: 'replace'; key: string; entry: RouteSpec; have?: ActualRoute }
  | { kind: 'route'; op: 'del'; key: string; entry: ActualRoute }
  | { kind: 'neigh'; op: 'replace'; key: string; entry: NeighSpec; have?: ActualNeigh }
  | { kind: 'neigh'; op: 'del'; key: string; entry: ActualNeigh }
  | { kind: 'fdb'; op: 'append' | 'replace'; key: string; entry: FdbSpec; have?: ActualFdb }
  | { kind: 'fdb'; op: 'del'; key: string; entry: ActualFdb | FdbSpec }
  | { kind: 'nexthop'; op: 'add' | 'replace'; key: string; entry: NexthopSpec; have?: ActualNexthop }
  | { kind: 'nexthop'; op: 'del'; key: string; entry: ActualNexthop };

export interface Change {
  kind: EntryKind;
  op: 'set' | 'del';
  key: string;
}

export interface Plan {
  /**
   * deletions first: a stale entry must not shadow or block its replacement. Of the writes,
   * nexthops come first: a route can only name one that exists. Stale nexthops go last:
   * the kernel deletes, unannounced, every route still naming one, and by then only stale
   * routes did (a route moved off a nexthop has been rewritten).
   */
  ops: DataplaneOp[];
  changes: Change[];
}

// a route naming a nexthop object is right when it names the right one: where it leads is
// the object's, planned on its own (the kernel reports the object's gateway on the route)
const sameRoute = (have: ActualRoute, want: RouteSpec) => (want.nhid !== undefined
  ? have.nhid === want.nhid
  : have.nhid === undefined && !!have.via?.equals(want.via) && have.dev === want.dev && have.onlink === want.onlink);
const sameNexthop = (have: ActualNexthop, want: NexthopSpec) => !!have.via?.equals(want.via) && have.dev === want.dev && have.onlink === want.onlink;

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  return new Map(items.map((i) => [key(i), i]));
}

/**
 * `held`: desired entries (the objects themselves) that the kernel read found already in
 * place exactly (lib/kernel/dataplane.ts readKernelDataplane); they need nothing, and their
 * kernel entries are not in `actual`.
 */
export function planDataplane(desired: DataplaneEntries, actual: ActualEntries, held?: ReadonlySet<object>): Plan {
  const dels: DataplaneOp[] = [];
  const sets: DataplaneOp[] = [];

  const wantNexthops = byKey(desired.nexthops, nexthopKey);
  const haveNexthops = byKey(actual.nexthops, nexthopKey);
  const staleNexthops: DataplaneOp[] = [];
  for (const [key, have] of haveNexthops) if (!wantNexthops.has(key)) staleNexthops.push({ kind: 'nexthop', op: 'del', key, entry: have });
  for (const [key, want] of wantNexthops) {
    if (held?.has(want)) continue;
    const have = haveNexthops.get(key);
    if (have && sameNexthop(have, want)) continue;
    // `add` where we hold none: an id taken by someone else's nexthop fails instead of being taken over
    sets.push({ kind: 'nexthop', op: have ? 'replace' : 'add', key, entry: want, ...(have ? { have } : {}) });
  }

  const wantRoutes = byKey(desired.routes, routeKey);
  const haveRoutes = byKey(actual.routes, routeKey);
  for (const [key, have] of haveRoutes) if (!wantRoutes.has(key)) dels.push({ kind: 'route', op: 'del', key, entry: have });
  for (const [key, want] of wantRoutes) {
    if (held?.has(want)) continue;
    const have = haveRoutes.get(key);
    if (have && sameRoute(have, want)) continue;
    sets.push({ kind: 'route', op: 'replace', key, entry: want, ...(have ? { have } : {}) });
  }

  const wantNeighs = byKey(desired.neighs, neighKey);
  const haveNeighs = byKey(actual.neighs, neighKey);
  for (const [key, have] of haveNeighs) if (!wantNeighs.has(key)) dels.push({ kind: 'neigh', op: 'del', key, entry: have });
  for (const [key, want] of wantNeighs) {
    if (held?.has(want)) continue;
    const have = haveNeighs.get(key);
    if (have && have.permanent && have.lladdr?.equals(want.lladdr)) continue;
    sets.push({ kind: 'neigh', op: 'replace', key, entry: want, ...(have ? { have } : {}) });
  }

  const wantFdb = byKey(desired.fdb, fdbKey);
  const haveFdb = byKey(actual.fdb, fdbKey);
  for (const [key, have] of haveFdb) if (!wantFdb.has(key)) dels.push({ kind: 'fdb', op: 'del', key, entry: have });
  for (const [key, want] of wantFdb) {
    if (held?.has(want)) continue;
    const have = haveFdb.get(key);
    if (have && have.permanent) continue;
    // `append` adds this (MAC, dst) pair without touching other destinations of the MAC,
    // which the deletions above have already removed when they are stale.
    sets.push({ kind: 'fdb', op: have ? 'replace' : 'append', key, entry: want, ...(have ? { have } : {}) });
  }

  const ops = [...dels, ...sets, ...staleNexthops];
  return { ops, changes: ops.map((o) => ({ kind: o.kind, op: o.op === 'del' ? 'del' : 'set', key: o.key })) };
}

/**
 * One peer's change, from what was programmed for it to what it needs now (either may be
 * absent: a new or a gone peer). The same planner, over that peer's few entries only.
 */
export function planPeerChange(before: DataplaneEntries | undefined, after: DataplaneEntries | undefined): Plan {
  return planDataplane(after ?? noEntries(), asProgrammed(before ?? noEntries()));
}

/** The operation as the `ip` or `bridge` command that does the same (messages only). */
export function opText(o: DataplaneOp): string {
  switch (o.kind) {
    case 'route':
      if (o.entry.nhid !== undefined) return `ip route ${o.op} ${o.entry.dst} nhid ${o.entry.nhid}`;
      return o.op === 'del'
        ? `ip route del ${o.entry.dst}${o.entry.via ? ` via ${o.entry.via}` : ''} dev ${o.entry.dev}`
        : `ip route replace ${o.entry.dst} via ${o.entry.via} dev ${o.entry.dev}${o.entry.onlink ? ' onlink' : ''}`;
    case 'nexthop':
      return o.op === 'del'
        ? `ip nexthop del id ${o.entry.id}`
        : `ip nexthop ${o.op} id ${o.entry.id} via ${o.entry.via} dev ${o.entry.dev}${o.entry.onlink ? ' onlink' : ''}`;
    case 'neigh':
      return o.op === 'del'
        ? `ip neigh del ${o.entry.dst} dev ${o.entry.dev}`
        : `ip neigh replace ${o.entry.dst} lladdr ${o.entry.lladdr} dev ${o.entry.dev} nud permanent`;
    case 'fdb':
      return o.op === 'del'
        ? `bridge fdb del ${o.entry.mac} dev ${o.entry.dev} dst ${o.entry.dst} self`
        : `bridge fdb ${o.op} ${o.entry.mac} dev ${o.entry.dev} dst ${o.entry.dst} self permanent`;
  }
}
