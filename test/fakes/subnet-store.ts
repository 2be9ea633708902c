// An in-memory SubnetStore (daemon/subnet/store.ts) that keeps etcd's rules where the
// daemon's logic depends on them: one store revision that every write bumps, create and mod
// revisions per key, create-only puts, mod-revision guards, leases that expire on the given
// clock, watches from a revision that replay later events and end (onResync) when that
// revision is compacted or the test breaks them. Values go through the daemon's own codec
// (encodeLeaseAttrs / parseLeaseAttrs), so a refused value is refused here as in etcd.
// Test controls: failNext() makes calls fail, beforeCreate runs between a caller's list and
// its put (a rival node's write), put()/remove() are an operator's etcdctl.
import type { LeaseEvent, LeaseWatch, StoredConfig } from '../../lib/etcd/registry.js';
import {
  encodeLeaseAttrs, InvalidLease, Lease, LeaseAttrs, LeaseSubnets, parseLeaseAttrs, parseSubnetKey, subnetKey,
} from '../../lib/schema/lease.js';
import type { Clock } from '../../daemon/clock.js';
import type { SubnetStore } from '../../daemon/subnet/store.js';

interface Kv {
  value: string;
  createRevision: number;
  modRevision: number;
  leaseId?: string;
  expiresAt?: number;
}

interface Watch {
  onEvent: (e: LeaseEvent) => void;
  onResync: (why: string) => void;
  ended: boolean;
}

export type StoreOp = 'getConfig' | 'listLeases' | 'getLease' | 'createLease' | 'renewLease' | 'updateReservation' | 'deleteLease' | 'watchLeases';

export class FakeSubnetStore implements SubnetStore {
  private revision = 1;
  private compacted = 0;
  private nextLeaseId = 0x100;
  private readonly kvs = new Map<string, Kv>();
  private readonly history: { revision: number; event: LeaseEvent }[] = [];
  private readonly watches: Watch[] = [];
  private readonly failures: { op: StoreOp; error: Error }[] = [];
  private config?: { raw: string; modRevision: number };
  /** calls per operation, for assertions */
  readonly calls: Record<StoreOp, number> = {
    getConfig: 0, listLeases: 0, getLease: 0, createLease: 0, renewLease: 0, updateReservation: 0, deleteLease: 0, watchLeases: 0,
  };
  /** runs inside createLease before its guard is checked: another node's write racing ours */
  beforeCreate?: (subnets: LeaseSubnets) => void;
  /** runs after a successful createLease: another node's write just after ours */
  afterCreate?: (lease: Lease) => void;
  /** runs inside watchLeases before the watch starts (e.g. compact() the revision it asks for) */
  beforeWatch?: (fromRevision: string) => void;
  closed = false;

  constructor(readonly clock: Clock, readonly prefix = '/coreos.com/network') {}

  // ---- test controls ----------------------------------------------------------------------

  setConfig(raw: string | object): void {
    this.config = { raw: typeof raw === 'string' ? raw : JSON.stringify(raw), modRevision: ++this.revision };
  }

  /** The next `times` calls of `op` reject with `error` (an etcd that does not answer). */
  failNext(op: StoreOp, times = 1, error = new Error(`14 UNAVAILABLE: ${op} failed`)): void {
    for (let i = 0; i < times; i++) this.failures.push({ op, error });
  }

  /** An unconditional put, as etcdctl does: a TTL makes it a lease, none a reservation. */
  put(subnets: LeaseSubnets, attrs: LeaseAttrs | string, ttlSeconds?: number): Lease | InvalidLease {
    const key = subnetKey(this.prefix, subnets);
    return this.write(key, typeof attrs === 'string' ? attrs : encodeLeaseAttrs(attrs), ttlSeconds);
  }

  /** An unconditional delete (an operator's `etcdctl del`). */
  remove(key: string): boolean {
    if (!this.kvs.has(key)) return false;
    this.kvs.delete(key);
    const subnets = parseSubnetKey(this.prefix, key)!;
    this.emit({ type: 'delete', subnets, key, revision: String(++this.revision) });
    return true;
  }

  /** Deletes every key whose etcd lease ran out by the clock's now. */
  expire(): string[] {
    const gone = [...this.kvs].filter(([, kv]) => kv.expiresAt !== undefined && kv.expiresAt <= this.clock.now()).map(([k]) => k);
    for (const k of gone) this.remove(k);
    return gone;
  }

  /** Compacts history up to now: watches from an older revision end at once. */
  compact(): void {
    this.compacted = this.revision;
  }

  /** Ends every open watch, as a lost stream or an etcd restart does. */
  breakWatches(why = 'watch error: stream lost'): void {
    for (const w of this.watches.splice(0)) this.end(w, why);
  }

  get openWatches(): number {
    return this.watches.length;
  }

  stored(key: string): Lease | InvalidLease | undefined {
    const kv = this.kvs.get(key);
    return kv && this.decode(key, kv);
  }

  keys(): string[] {
    return [...this.kvs.keys()];
  }

  // ---- SubnetStore ------------------------------------------------------------------------

  async getConfig(): Promise<StoredConfig | undefined> {
    await this.enter('getConfig');
    return this.config && { raw: this.config.raw, modRevision: String(this.config.modRevision) };
  }

  async listLeases(): Promise<{ leases: Lease[]; invalid: InvalidLease[]; revision: string }> {
    await this.enter('listLeases');
    const leases: Lease[] = [];
    const invalid: InvalidLease[] = [];
    for (const [key, kv] of this.kvs) {
      const l = this.decode(key, kv);
      if ('invalid' in l) invalid.push(l);
      else leases.push(l);
    }
    return { leases, invalid, revision: String(this.revision) };
  }

  async getLease(subnets: LeaseSubnets): Promise<Lease | undefined> {
    await this.enter('getLease');
    const l = this.stored(subnetKey(this.prefix, subnets));
    return l && !('invalid' in l) ? l : undefined;
  }

  async createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    await this.enter('createLease');
    this.beforeCreate?.(subnets);
    const key = subnetKey(this.prefix, subnets);
    if (this.kvs.has(key)) return undefined;
    const lease = this.write(key, encodeLeaseAttrs(attrs), ttlSeconds) as Lease;
    this.afterCreate?.(lease);
    return lease;
  }

  async renewLease(lease: Lease, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    await this.enter('renewLease');
    if (!this.unchanged(lease)) return undefined;
    return this.write(lease.key, encodeLeaseAttrs(attrs), ttlSeconds) as Lease;
  }

  async updateReservation(lease: Lease, attrs: LeaseAttrs): Promise<Lease | undefined> {
    await this.enter('updateReservation');
    if (!this.unchanged(lease)) return undefined;
    return this.write(lease.key, encodeLeaseAttrs(attrs)) as Lease;
  }

  async deleteLease(subnets: LeaseSubnets, expectModRevision?: string): Promise<boolean> {
    await this.enter('deleteLease');
    const key = subnetKey(this.prefix, subnets);
    const kv = this.kvs.get(key);
    if (!kv || (expectModRevision && String(kv.modRevision) !== expectModRevision)) return false;
    return this.remove(key);
  }

  async watchLeases(fromRevision: string, onEvent: (e: LeaseEvent) => void, onResync: (why: string) => void): Promise<LeaseWatch> {
    await this.enter('watchLeases');
    this.beforeWatch?.(fromRevision);
    const w: Watch = { onEvent, onResync, ended: false };
    const from = Number(fromRevision);
    if (from < this.compacted) {
      // etcd cancels a watch whose start revision is compacted (an empty-reason cancel)
      setImmediate(() => this.end(w, 'watch ended (compacted or cancelled)'));
    } else {
      this.watches.push(w);
      const replay = this.history.filter((h) => h.revision > from).map((h) => h.event);
      setImmediate(() => replay.forEach((e) => !w.ended && w.onEvent(e)));
    }
    return {
      stop: async () => {
        w.ended = true;
        const i = this.watches.indexOf(w);
        if (i >= 0) this.watches.splice(i, 1);
      },
    };
  }

  close(): void {
    this.closed = true;
  }

  // ---- inside -------------------------------------------------------------------------------

  /** Every call is a round trip: it yields to the event loop as I/O does, so watch events
   *  queued meanwhile are delivered, and a failure planned with failNext() rejects it. */
  private async enter(op: StoreOp): Promise<void> {
    await new Promise((r) => setImmediate(r));
    this.calls[op]++;
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) throw this.failures.splice(i, 1)[0].error;
  }

  private unchanged(lease: Lease): boolean {
    const kv = this.kvs.get(lease.key);
    return !!kv && String(kv.modRevision) === (lease.modRevision ?? '0');
  }

  private write(key: string, value: string, ttlSeconds?: number): Lease | InvalidLease {
    const revision = ++this.revision;
    const old = this.kvs.get(key);
    const kv: Kv = {
      value,
      createRevision: old?.createRevision ?? revision,
      modRevision: revision,
      ...(ttlSeconds ? { leaseId: (this.nextLeaseId++).toString(16), expiresAt: this.clock.now() + ttlSeconds * 1000 } : {}),
    };
    this.kvs.set(key, kv);
    const l = this.decode(key, kv);
    this.emit('invalid' in l ? { type: 'invalid', invalid: l, revision: String(revision) } : { type: 'put', lease: l, revision: String(revision) });
    return l;
  }

  private decode(key: string, kv: Kv): Lease | InvalidLease {
    const subnets = parseSubnetKey(this.prefix, key);
    const base = { leaseId: kv.leaseId, modRevision: String(kv.modRevision) };
    if (!subnets) return { invalid: true, key, field: 'key', reason: 'is not <ip>-<prefixlen>', ...base };
    try {
      return { key, ...subnets, attrs: parseLeaseAttrs(kv.value), ...base, expiresAt: kv.expiresAt, createRevision: String(kv.createRevision) };
    } catch (e) {
      return { invalid: true, key, field: 'value', reason: (e as Error).message, ...base };
    }
  }

  private emit(event: LeaseEvent): void {
    this.history.push({ revision: Number(event.revision), event });
    for (const w of [...this.watches]) if (!w.ended) w.onEvent(event);
  }

  private end(w: Watch, why: string): void {
    if (w.ended) return;
    w.ended = true;
    w.onResync(why);
  }
}
