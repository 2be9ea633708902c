// Keeps this node's lease: acquires it, renews it `renewMarginMs` before it expires (retrying
// failed renewals with backoff), and takes it back when it is lost. Lost means an operator
// deleted or rewrote it, or it expired while etcd was unreachable: the keeper re-acquires,
// asking for the same subnet first so pods on this node keep their addresses.
import { Lease, sameNode } from '../lib/schema/lease.js';
import type { NetworkConfig } from '../lib/schema/network-config.js';
import { Backoff } from '../lib/backoff.js';
import { Clock, systemClock } from './clock.js';
import type { Logger } from './log.js';
import type { DaemonMetrics } from './metrics.js';
import type { LeaseRequest, SubnetManager } from './subnet/manager.js';

/** Reservations never expire; still re-check them now and then. */
const RESERVATION_CHECK_MS = 60_000;

export interface LeaseKeeperOptions {
  sm: SubnetManager;
  config: NetworkConfig;
  req: LeaseRequest;
  /** renew this long before the lease expires (--subnet-lease-renew-margin) */
  renewMarginMs: number;
  log: Logger;
  metrics: DaemonMetrics;
  /** called after a re-acquisition (possibly a different subnet) */
  onReacquired?: (lease: Lease, old: Lease) => void;
  /** systemClock unless a test fakes it */
  clock?: Clock;
}

export class LeaseKeeper {
  private current?: Lease;
  private wake?: () => void;
  private checkNow = false;
  /** a renewal is in flight: events about our key may be its own write racing its reply */
  private busy = false;
  /**
   * the watch's lease map, when an update arrived while a renewal was in flight: judged once
   * it is done (the map is the watch's own, so by then it holds the latest state)
   */
  private seenWhileBusy?: ReadonlyMap<string, Lease>;
  private readonly sm: SubnetManager;
  private readonly config: NetworkConfig;
  private readonly req: LeaseRequest;
  private readonly renewMarginMs: number;
  private readonly log: Logger;
  private readonly metrics: DaemonMetrics;
  private readonly onReacquired: (lease: Lease, old: Lease) => void;
  private readonly clock: Clock;

  constructor(o: LeaseKeeperOptions) {
    ({ sm: this.sm, config: this.config, req: this.req, renewMarginMs: this.renewMarginMs, log: this.log, metrics: this.metrics } = o);
    this.onReacquired = o.onReacquired ?? (() => {});
    this.clock = o.clock ?? systemClock;
  }

  get lease(): Lease {
    if (!this.current) throw new Error('no lease acquired yet');
    return this.current;
  }

  async acquire(signal: AbortSignal): Promise<Lease> {
    const lease = await this.sm.acquireLease(this.config, this.req, signal);
    this.set(lease);
    this.metrics.leaseAcquisitions.inc();
    return lease;
  }

  /**
   * Looks at every lease-set update: when our key is gone, or changed by someone else,
   * the renewal loop checks with the store at once (a renewal that fails its revision
   * guard tells a real loss from an event that raced our own write).
   */
  observe(leases: ReadonlyMap<string, Lease>): void {
    const cur = this.current;
    if (this.busy) this.seenWhileBusy = leases;
    if (!cur || this.busy) return;
    const seen = leases.get(cur.key);
    const newer = seen?.modRevision && cur.modRevision && BigInt(seen.modRevision) > BigInt(cur.modRevision);
    if (!seen || newer || !sameNode(seen.attrs, cur.attrs)) {
      if (seen && BigInt(seen.modRevision ?? '0') < BigInt(cur.modRevision ?? '0')) return; // an old event
      this.checkNow = true;
      this.wake?.();
    }
  }

  /** The renewal loop; returns when the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(1000, 30000);
    while (!signal.aborted) {
      const cur = this.lease;
      const due = cur.expiresAt !== undefined ? cur.expiresAt - this.renewMarginMs - this.clock.now() : RESERVATION_CHECK_MS;
      if (!this.checkNow && due > 0) await this.sleepUntilWoken(due, signal);
      if (signal.aborted) return;
      this.checkNow = false;
      this.busy = true;
      this.seenWhileBusy = undefined;
      let failed = false;
      try {
        await this.renewOrReacquire(signal);
        backoff.reset();
      } catch (e) {
        if (signal.aborted) return;
        failed = true;
        this.metrics.renewals.inc({ result: 'failed' });
        this.log.warn('lease renewal failed; retrying', { error: e });
      } finally {
        this.busy = false;
      }
      if (failed) {
        await this.clock.sleep(backoff.next(), signal);
        this.checkNow = true;
      } else if (this.seenWhileBusy) {
        // the watch spoke while we were busy: its set is judged against the lease we now hold
        // (updates from before our write are not remembered: they would only trigger a needless check)
        const seen = this.seenWhileBusy;
        this.seenWhileBusy = undefined;
        this.observe(seen);
      }
    }
  }

  private async renewOrReacquire(signal: AbortSignal): Promise<void> {
    const renewed = await this.sm.renewLease(this.lease, this.req, signal);
    if (renewed) {
      this.set(renewed);
      this.metrics.renewals.inc({ result: 'ok' });
      this.log.debug('lease renewed', { subnet: String(renewed.subnet), expiresAt: renewed.expiresAt });
      return;
    }
    const old = this.lease;
    this.log.warn('our lease was deleted or changed by someone else; taking it back', { subnet: String(old.subnet) });
    const lease = await this.sm.acquireLease(this.config, { ...this.req, previous: { subnet: old.subnet } }, signal);
    this.set(lease);
    this.metrics.leaseAcquisitions.inc();
    if (!lease.subnet.equals(old.subnet)) {
      this.log.error('re-acquired a different subnet; pods on this node must be restarted', { old: String(old.subnet), subnet: String(lease.subnet) });
    } else {
      this.log.info('lease re-acquired', { subnet: String(lease.subnet) });
    }
    this.onReacquired(lease, old);
  }

  private set(lease: Lease): void {
    this.current = lease;
    this.metrics.leaseExpiry.set(lease.expiresAt ? Math.round(lease.expiresAt / 1000) : 0);
  }

  /** Sleeps `ms`, cut short by the signal or by observe() seeing our key change. */
  private async sleepUntilWoken(ms: number, signal: AbortSignal): Promise<void> {
    const woken = new AbortController();
    this.wake = () => woken.abort();
    try {
      await this.clock.sleep(ms, AbortSignal.any([signal, woken.signal]));
    } finally {
      this.wake = undefined;
    }
  }
}
