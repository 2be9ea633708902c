// SubnetManager on etcd: flannel's acquire order (own lease by public IP, the subnet of an old
// subnet.env, a random free one), every claim an etcd transaction that only creates a missing
// key, renewals that notice an operator's edit or delete, and a watch that re-lists whenever
// it cannot continue (compaction, cancellation, lost connection). Retries are ours, with
// backoff: connectEtcd() turns the library's own retries off.
import type { Cidr } from '../../lib/ip/cidr.js';
import { configKey, InvalidLease, Lease, LeaseSubnets, sameNode, subnetOf } from '../../lib/schema/lease.js';
import { ConfigError, NetworkConfig, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { Backoff } from '../../lib/backoff.js';
import { Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { findOwnLease, NetworkFullError, pickFreeSubnet } from './allocate.js';
import { inRange, subnetPool } from '../../lib/schema/subnet-pool.js';
import type { LeaseEvent, LeaseWatch } from '../../lib/etcd/registry.js';
import type { LeaseRequest, LeaseSetListener, SubnetManager } from './manager.js';
import type { SubnetStore } from './store.js';

export interface EtcdManagerHooks {
  log: Logger;
  /** counted in twill_watch_resyncs_total */
  onWatchResync?: (why: string) => void;
  /** counted in twill_network_full_total: a node is waiting for a subnet */
  onNetworkFull?: () => void;
  /** retry waits and the watch's health; systemClock unless a test fakes it */
  clock?: Clock;
  /** which free subnet is picked; Math.random unless a test fixes it */
  random?: () => number;
}

export class EtcdSubnetManager implements SubnetManager {
  readonly kind = 'etcd' as const;
  private readonly log: Logger;
  private readonly clock: Clock;
  /**
   * The listing the last acquisition attempt made, taken by the watch's first round instead
   * of listing again: at 5000 leases one list costs ~150 ms of start-up. Our own lease as
   * acquired is put into it; the watch (from the list's revision) replays whatever changed
   * since, our own write included. Kept only until the watch has started (a later
   * re-acquisition's list would just sit there).
   */
  private acquisitionList?: Awaited<ReturnType<SubnetStore['listLeases']>>;
  private watchStarted = false;

  constructor(readonly store: SubnetStore, private readonly hooks: EtcdManagerHooks) {
    this.log = hooks.log;
    this.clock = hooks.clock ?? systemClock;
  }

  /** the store is shared with the deleted-Node lease releaser: one etcd client per daemon */
  get leaseStore(): SubnetStore {
    return this.store;
  }

  async getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig> {
    const backoff = new Backoff(500, 5000);
    let lastProblem = '';
    for (;;) {
      signal.throwIfAborted();
      let problem: string;
      try {
        const stored = await this.store.getConfig();
        if (stored) return parseNetworkConfig(stored.raw);
        problem = `no network config at ${configKey(this.store.prefix)}; waiting for one`;
      } catch (e) {
        // A refused config names its field; the daemon waits for an operator to fix it.
        problem = e instanceof ConfigError ? `refusing network config: ${e.message}` : `reading network config failed: ${(e as Error).message}`;
      }
      if (problem !== lastProblem) this.log.error(problem, { key: configKey(this.store.prefix) });
      else this.log.debug(problem);
      lastProblem = problem;
      await this.clock.sleep(backoff.next(), signal);
    }
  }

  async acquireLease(config: NetworkConfig, req: LeaseRequest, signal: AbortSignal): Promise<Lease> {
    const backoff = new Backoff(200, 10000);
    for (;;) {
      signal.throwIfAborted();
      try {
        const lease = await this.tryAcquire(config, req);
        if (lease) {
          const listed = this.acquisitionList;
          if (listed) this.acquisitionList = { ...listed, leases: [...listed.leases.filter((l) => l.key !== lease.key), lease] };
          return lease;
        }
        this.log.info('lost a race for a subnet; trying again');
      } catch (e) {
        if (e instanceof NetworkFullError) {
          this.hooks.onNetworkFull?.();
          this.log.error(e.message);
        } else {
          this.log.warn('acquiring a subnet lease failed; retrying', { error: e });
        }
      }
      await this.clock.sleep(backoff.next(), signal);
    }
  }

  /** One attempt; undefined when another node won a race (try again). */
  private async tryAcquire(config: NetworkConfig, req: LeaseRequest): Promise<Lease | undefined> {
    const listed = await this.store.listLeases();
    if (!this.watchStarted) this.acquisitionList = listed;
    const { leases } = listed;
    const own = findOwnLease(config, leases, req.attrs);
    if (own) {
      this.log.info('found this node\'s existing lease', { subnet: String(own.subnet), reservation: !own.leaseId });
      return own.leaseId
        ? this.store.renewLease(own, req.attrs, req.ttlSeconds)
        : this.store.updateReservation(own, req.attrs);
    }
    // each enabled family's subnet is chosen by the same rules, and they share one key
    const families = ([4, 6] as const).filter((f) => subnetPool(config, f));
    const prev = req.previous;
    const free = (s: Cidr) => !leases.some((l) => subnetOf(l, s.family)?.equals(s));
    const prevOk = (f: 4 | 6) => {
      const s = prev && subnetOf(prev, f);
      return !!s && inRange(config, s) && free(s);
    };
    if (prev && families.every(prevOk)) {
      const lease = await this.store.createLease(leaseSubnets(families.map((f) => subnetOf(prev, f)!)), req.attrs, req.ttlSeconds);
      if (lease) {
        this.log.info('took the subnet from the previous subnet.env again', { subnets: families.map((f) => String(subnetOf(prev, f))) });
        return lease;
      }
    }
    const picked = families.map((f) => pickFreeSubnet(config, leases, this.hooks.random ?? Math.random, f));
    const lease = await this.store.createLease(leaseSubnets(picked), req.attrs, req.ttlSeconds);
    if (!lease) return undefined;
    if (families.length === 2 && (await this.lostDualStackRace(lease))) return undefined;
    this.log.info('leased a new subnet', { subnets: picked.map(String) });
    return lease;
  }

  /**
   * A dual-stack key names two subnets, so etcd's create-only guard cannot stop two nodes that
   * picked the same IPv4 subnet with different IPv6 ones (or the reverse) at the same moment.
   * The key created first keeps them; the later one is deleted again and the caller retries.
   */
  private async lostDualStackRace(ours: Lease): Promise<boolean> {
    const { leases } = await this.store.listLeases();
    const mine = leases.find((l) => l.key === ours.key);
    const created = BigInt(mine?.createRevision ?? ours.modRevision ?? '0');
    const rival = leases.find((l) => l.key !== ours.key && BigInt(l.createRevision ?? '0') < created
      && ([4, 6] as const).some((f) => { const s = subnetOf(ours, f); return !!s && !!subnetOf(l, f)?.equals(s); }));
    if (!rival) return false;
    this.log.info('another node claimed one of the same subnets first; trying again', { ours: ours.key, theirs: rival.key });
    await this.store.deleteLease(ours, mine?.modRevision ?? ours.modRevision);
    return true;
  }

  async renewLease(lease: Lease, req: LeaseRequest, signal: AbortSignal): Promise<Lease | undefined> {
    signal.throwIfAborted();
    if (lease.leaseId) return this.store.renewLease(lease, req.attrs, req.ttlSeconds);
    // A reservation never expires: "renewing" checks it is still ours.
    const cur = await this.store.getLease(lease);
    return cur && !cur.leaseId && sameNode(cur.attrs, req.attrs) ? cur : undefined;
  }

  async watchLeases(onChange: LeaseSetListener, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(200, 5000);
    while (!signal.aborted) {
      const startedAt = this.clock.now();
      try {
        const why = await this.listAndWatch(onChange, signal);
        if (signal.aborted) break;
        this.hooks.onWatchResync?.(why);
        this.log.warn('lease watch interrupted; re-listing', { why });
      } catch (e) {
        if (signal.aborted) break;
        this.log.warn('listing leases failed; retrying', { error: e });
      }
      // a watch that lived a while was healthy: start the next round of retries quickly
      if (this.clock.now() - startedAt > 10000) backoff.reset();
      await this.clock.sleep(backoff.next(), signal);
    }
  }

  /** Lists, reports the full set, then follows changes; resolves with why the watch ended. */
  private async listAndWatch(onChange: LeaseSetListener, signal: AbortSignal): Promise<string> {
    this.watchStarted = true;
    const listed = this.acquisitionList ?? (await this.store.listLeases());
    this.acquisitionList = undefined;
    const { leases, invalid, revision } = listed;
    const state = new Map(leases.map((l) => [l.key, l]));
    const refused = new Map<string, InvalidLease>(invalid.map((l) => [l.key, l]));
    const snapshot = BigInt(revision);
    onChange({ leases: state, invalid: refused });
    /** the keys of the burst not yet reported; undefined when none are pending */
    let changed: Set<string> | undefined;
    let ended = false;
    const onEvent = (e: LeaseEvent) => {
      // events at or before the list's revision are already in it (a resumed stream can replay them)
      if (BigInt(e.revision) <= snapshot) return;
      // a key holds one thing at a time: a refused value replaces (removes) a valid lease
      let key: string;
      if (e.type === 'put') {
        key = e.lease.key;
        state.set(key, e.lease);
        refused.delete(key);
      } else if (e.type === 'invalid') {
        key = e.invalid.key;
        state.delete(key);
        refused.set(key, e.invalid);
      } else {
        key = e.key;
        state.delete(key);
        refused.delete(key);
      }
      // One etcd message carries many events: report the set once per burst, not per key,
      // naming the burst's keys (downstream, an event costs its keys, not the set's size).
      if (changed) return void changed.add(key);
      changed = new Set([key]);
      setImmediate(() => {
        const keys = changed!;
        changed = undefined;
        // a burst of a watch that has ended is in the next listing
        if (!signal.aborted && !ended) onChange({ leases: state, invalid: refused, changed: keys });
      });
    };
    let watch: LeaseWatch | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        onAbort = () => resolve('aborted');
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.store.watchLeases(revision, onEvent, resolve).then((w) => (watch = w), reject);
      });
    } finally {
      ended = true;
      signal.removeEventListener('abort', onAbort!);
      await watch?.stop();
    }
  }

  async close(): Promise<void> {
    this.store.close();
  }
}


/** The key's subnets from one subnet per enabled family (v4 first; an IPv6-only key holds v6 alone). */
function leaseSubnets(subnets: Cidr[]): LeaseSubnets {
  return subnets.length === 2 ? { subnet: subnets[0], subnet6: subnets[1] } : { subnet: subnets[0] };
}
