// Reconcile: desired state from the lease set, actual state from the kernel, one plan of typed
// operations (lib/dataplane/plan.ts), written over netlink as one batch (lib/kernel/dataplane.ts).
// Two kinds of pass:
//  - full (start-up, the timer, kernel events, after a failure): dumps our entries from the
//    kernel and diffs every peer against them; whatever drifted (a deleted route, neighbour,
//    FDB entry, the device itself) is put back and gone peers are pruned.
//  - leases (the watch): only the keys the watch says changed are looked at, each peer diffed
//    against what was programmed for it: a new lease costs its own few entries, whatever the
//    number of peers (nothing walks the whole set).
// Only our entries are read as "actual" (lib/kernel/dataplane.ts ourEntries, which twillctl
// doctor reads with too).
import { ActualEntries, DataplaneEntries, fdbKey, neighKey, nexthopKey, PeerEntries, routeKey } from '../lib/dataplane/entries.js';
import { isPeer, samePeerSelection } from '../lib/dataplane/peers.js';
import { Change, DataplaneOp, opText, planDataplane, planPeerChange } from '../lib/dataplane/plan.js';
import { applyDataplaneOps, KernelDataplane, ourEntries, readKernelDataplane } from '../lib/kernel/dataplane.js';
import { getLinkOn } from '../lib/kernel/netlink/query.js';
import { NetlinkSocket } from '../lib/kernel/netlink/socket.js';
import type { Lease } from '../lib/schema/lease.js';
import type { NetworkConfig } from '../lib/schema/network-config.js';
import type { Backend } from './backend/backend.js';
import type { Logger } from './log.js';
import type { DeviceSeen } from './kernel-events.js';
import type { DaemonMetrics } from './metrics.js';

/** How many of a pass's operations its log line spells out. */
const OPS_LOGGED = 50;

export interface ReconcileResult {
  peers: number;
  changes: Change[];
  repairs: number;
  deviceRecreated: boolean;
  failures?: string;
}

interface Programmed {
  /** the lease object the entries were made from: the watch keeps unchanged leases' objects */
  lease: Lease;
  entries: PeerEntries;
  /** the entries serialised, made when first compared (a start-up's thousands never are) */
  sig?: string;
}

export interface PassOptions {
  /** `full`: diff against the kernel; `leases`: only the lease set changed (see run) */
  mode: 'full' | 'leases';
  /**
   * the keys that changed since the last pass (a lease pass looks at these alone);
   * undefined: any may have
   */
  changed?: ReadonlySet<string>;
  /** when the watch first reported what this pass programs (the time to program histogram) */
  leasesSeenAt?: number;
}

const sigOf = (p: Programmed): string => (p.sig ??= JSON.stringify(p.entries));

export class Reconciler {
  /**
   * per peer lease key: what the last pass programmed (or tried to). Updated in place: a
   * pass replaces the peers that changed and drops the gone ones, instead of building a map
   * of every peer per lease event (at 10 000 that was ~1.5 ms and an old-generation map per
   * event, in a micro-benchmark; ~0.2 ms in place).
   */
  private programmed = new Map<string, Programmed>();
  private first = true;
  /**
   * the own lease and outcome of the last pass: a quick pass needs the same own subnet (key)
   * and a clean outcome, and looks only at the changed keys while the own lease selects the
   * same peers (samePeerSelection)
   */
  private lastOwn?: Lease;
  private lastFailed = false;
  private socket?: NetlinkSocket;
  /** every link's ifindex by name, from the last full read (direct routes use the uplink) */
  private linkIndexes = new Map<string, number>();
  /** our devices as the last full pass left them (after ensuring them) */
  private links = new Map<string, DeviceSeen>();
  /** keys (`kind|key`) deleted by the last pass: their kernel events are our own doing */
  recentlyDeleted = new Set<string>();

  constructor(
    private readonly backend: Backend,
    private readonly config: NetworkConfig,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
  ) {}

  /** Each of our devices as the last full pass left it: a kernel event showing it otherwise is drift. */
  get devicesSeen(): ReadonlyMap<string, DeviceSeen> {
    return this.links;
  }

  /**
   * `full`: diff against the kernel (periodic, kernel events, start-up): repairs drift.
   * `leases`: only the lease set changed; each changed peer is diffed against what the last
   * pass programmed for it, without reading the kernel, and with `changed` only those keys
   * are looked at: an event costs its own keys, not the number of peers. Falls back to a
   * full pass when there is no clean previous pass to build on.
   */
  async run(own: Lease, leases: ReadonlyMap<string, Lease>, opts: PassOptions): Promise<ReconcileResult> {
    const first = this.first;
    const quick = opts.mode === 'leases' && !first && !this.lastFailed && this.lastOwn?.key === own.key;
    let deviceRecreated = false;
    if (!quick) {
      deviceRecreated = await this.backend.ensureLocal(own);
      if (deviceRecreated && !first) {
        this.metrics.repairs.inc({ kind: 'device' });
        this.log.warn('tunnel device was missing or wrong (or its engine failed); re-created it', { devices: this.backend.devices });
      }
    }

    // the peers of this lease set, reusing the entries of every lease object seen before;
    // new and changed ones are staged, and gone ones listed, until the write. While the own
    // lease selects the same peers (renewals do not change that), only the changed keys can differ.
    const sameOwn = !!this.lastOwn && samePeerSelection(own, this.lastOwn);
    const staged = new Map<string, Programmed>();
    const gone = new Set<string>();
    const changed: string[] = [];
    const look = (k: string, l: Lease | undefined) => {
      const prev = this.programmed.get(k);
      if (prev && prev.lease === l && (sameOwn || isPeer(own, l))) return;
      const entries = l && isPeer(own, l) ? this.backend.peerEntries(l) : undefined;
      if (!entries) {
        if (prev) gone.add(k);
        return;
      }
      const p: Programmed = { lease: l!, entries };
      staged.set(k, p);
      if (!prev || sigOf(prev) !== sigOf(p)) changed.push(k);
    };
    if (quick && sameOwn && opts.changed) {
      for (const k of opts.changed) look(k, leases.get(k));
    } else {
      for (const [k, l] of leases) look(k, l);
      for (const k of this.programmed.keys()) if (!leases.has(k)) gone.add(k);
    }
    /** what this pass wants for a peer key (undefined: not a peer any more) */
    const next = (k: string): Programmed | undefined => staged.get(k) ?? (gone.has(k) ? undefined : this.programmed.get(k));

    if (this.backend.syncPeers) {
      // every peer, in the order the peer map will hold them after this pass
      const peers: Lease[] = [];
      for (const [k, p] of this.programmed) if (!gone.has(k)) peers.push((staged.get(k) ?? p).lease);
      for (const [k, p] of staged) if (!this.programmed.has(k)) peers.push(p.lease);
      this.backend.syncPeers(peers);
    }

    const s = (this.socket ??= NetlinkSocket.open());
    const t0 = performance.now();
    let readMs = 0;
    let ops: DataplaneOp[];
    let changes: Change[];
    let repairs = 0;
    if (quick) {
      ops = [];
      for (const k of [...gone, ...changed]) ops.push(...planPeerChange(this.programmed.get(k)?.entries, next(k)?.entries).ops);
      changes = ops.map((o) => ({ kind: o.kind, op: o.op === 'del' ? 'del' : 'set', key: o.key }));
    } else {
      const desired: DataplaneEntries = { routes: [], neighs: [], fdb: [], nexthops: [] };
      for (const k of leases.keys()) {
        const p = next(k);
        if (!p) continue;
        for (const r of p.entries.routes) desired.routes.push(r);
        for (const n of p.entries.neighs) desired.neighs.push(n);
        for (const f of p.entries.fdb) desired.fdb.push(f);
        for (const h of p.entries.nexthops) desired.nexthops.push(h);
      }
      // a device this pass created holds nothing yet: every entry is to be written, none to compare
      const kernel = readKernelDataplane(s, this.backend.devices, !!(this.config.EnableIPv6 && this.config.IPv6Network), deviceRecreated ? undefined : desired);
      readMs = performance.now() - t0;
      this.linkIndexes = new Map(kernel.links.map((l) => [l.ifname, l.ifindex]));
      this.links = new Map(kernel.links.filter((l) => this.backend.devices.includes(l.ifname))
        .map((l) => [l.ifname, { ifindex: l.ifindex, mtu: l.mtu, address: l.address, up: l.flags.includes('UP') }]));
      const plan = planDataplane(desired, this.ours(own, kernel), kernel.held);
      ops = plan.ops;
      changes = plan.changes;
      if (!first && ops.length) repairs = this.countDrift(ops, next);
    }

    const t1 = performance.now();
    const failed = applyDataplaneOps(s, ops, (dev) => this.linkIndexes.get(dev) ?? this.lookUp(s, dev));
    // where a pass's time went: reading the kernel, planning, writing (start-up at scale)
    const ms = { read: Math.round(readMs), plan: Math.round(t1 - t0 - readMs), write: Math.round(performance.now() - t1) };
    const failures = failed.length ? failed.slice(0, 10).map((f) => f.message).join('; ') + (failed.length > 10 ? `; and ${failed.length - 10} more` : '') : undefined;
    this.recentlyDeleted = new Set(ops.filter((o) => o.op === 'del').map((o) => `${o.kind}|${o.key}`));

    if (opts.leasesSeenAt !== undefined && !failures) {
      const secs = (Date.now() - opts.leasesSeenAt) / 1000;
      for (let i = 0; i < changed.length; i++) this.metrics.programSeconds.observe(secs);
    }
    for (const k of gone) this.programmed.delete(k);
    for (const [k, p] of staged) this.programmed.set(k, p);
    this.first = false;
    this.lastOwn = own;
    this.lastFailed = !!failures;
    this.metrics.peers.set(this.programmed.size);
    if (repairs) this.log.warn('reconcile repaired kernel state', { repairs, changes: changes.length });
    if (failures) this.log.warn('some dataplane changes failed; the next reconcile retries them', { failures });
    else if (changes.length) {
      // what was changed, as the commands an operator would have typed (twillctl doctor's fixes)
      const shown = ops.slice(0, OPS_LOGGED).map(opText);
      this.log.info('dataplane programmed', { peers: this.programmed.size, changes: changes.length, quick, ms, ops: shown, ...(ops.length > OPS_LOGGED ? { more: ops.length - OPS_LOGGED } : {}) });
    }
    return { peers: this.programmed.size, changes, repairs, deviceRecreated, failures };
  }

  /** A link no full read has seen yet (quick passes only use what the last one found). */
  private lookUp(s: NetlinkSocket, dev: string): number | undefined {
    const index = getLinkOn(s, dev)?.ifindex;
    if (index !== undefined) this.linkIndexes.set(dev, index);
    return index;
  }

  /** Releases the netlink socket (the kernel state stays). */
  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  /**
   * Drift = the kernel lost or changed what we had programmed and still want, or holds an
   * entry of ours that we did not just drop on purpose.
   */
  private countDrift(ops: readonly DataplaneOp[], next: (key: string) => Programmed | undefined): number {
    const before = new Map<string, string>();
    const stillWanted = new Set<string>();
    for (const [k, p] of this.programmed) {
      const now = next(k);
      const same = now === p || (now !== undefined && sigOf(now) === sigOf(p));
      for (const r of p.entries.routes) { before.set(`route|${routeKey(r)}`, k); if (same) stillWanted.add(`route|${routeKey(r)}`); }
      for (const n of p.entries.neighs) { before.set(`neigh|${neighKey(n)}`, k); if (same) stillWanted.add(`neigh|${neighKey(n)}`); }
      for (const f of p.entries.fdb) { before.set(`fdb|${fdbKey(f)}`, k); if (same) stillWanted.add(`fdb|${fdbKey(f)}`); }
      for (const h of p.entries.nexthops) { before.set(`nexthop|${nexthopKey(h)}`, k); if (same) stillWanted.add(`nexthop|${nexthopKey(h)}`); }
    }
    let repairs = 0;
    for (const o of ops) {
      const k = `${o.kind}|${o.key}`;
      if (o.op === 'del' ? !before.has(k) : stillWanted.has(k)) {
        repairs++;
        this.metrics.repairs.inc({ kind: o.kind });
      }
    }
    return repairs;
  }

  /**
   * Our entries as the kernel holds them, parsed into the same types as the desired ones;
   * an entry whose fields do not parse is not one we wrote, so it is left alone.
   */
  private ours(own: Lease, k: KernelDataplane): ActualEntries {
    return ourEntries(k, this.backend.devices, this.config, own);
  }
}
