// Lease and config storage in etcd with flannel's layout (lib/schema/lease.ts). Shared by
// twilld (acquire, renew, watch) and twillctl (inspect, edit). Every write that could race
// another node is an etcd transaction guarded by the key's create/mod revision.
import { readFileSync } from 'node:fs';
import { noop } from 'cockatiel';
import { Etcd3, IOptions, Watcher } from 'etcd3';
import type { Cidr } from '../ip/cidr.js';
import {
  configKey, encodeLeaseAttrs, InvalidLease, Lease, LeaseAttrs, LeaseSubnets, LeaseValueError, parseLeaseAttrs, parseSubnetKey,
  subnetKey, subnetsPrefix,
} from '../schema/lease.js';
import { installLongDecimalFastPath } from './long-decimal.js';

installLongDecimalFastPath();

export interface EtcdConnectOptions {
  endpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** deadline of each unary call: an unreachable etcd fails a call instead of hanging it */
  callTimeoutMs?: number;
}

export function connectEtcd(o: EtcdConnectOptions): Etcd3 {
  const opts: IOptions = {
    hosts: o.endpoints,
    dialTimeout: o.callTimeoutMs ?? 5000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + (o.callTimeoutMs ?? 5000) }),
    // Callers retry on their own schedule; the library's retries and circuit breaker would
    // hide an outage and delay recovery after etcd comes back.
    faultHandling: { host: () => noop, global: noop },
  };
  if (o.caFile || o.certFile || o.keyFile) {
    opts.credentials = {
      rootCertificate: o.caFile ? readFileSync(o.caFile) : Buffer.alloc(0),
      ...(o.certFile ? { certChain: readFileSync(o.certFile) } : {}),
      ...(o.keyFile ? { privateKey: readFileSync(o.keyFile) } : {}),
    };
  }
  return new Etcd3(opts);
}

export interface StoredConfig {
  raw: string;
  modRevision: string;
}

export type LeaseEvent =
  | { type: 'put'; lease: Lease; revision: string }
  /** a key under the subnets prefix whose key or value is refused: whatever it held before is gone */
  | { type: 'invalid'; invalid: InvalidLease; revision: string }
  | { type: 'delete'; subnets: LeaseSubnets; key: string; revision: string };

export type CasOutcome = { ok: true; modRevision: string } | { ok: false; currentModRevision: string | null };

export interface LeaseWatch {
  stop(): Promise<void>;
}

const ZERO_LEASE = '0';

export class EtcdRegistry {
  constructor(private readonly client: Etcd3, readonly prefix: string) {}

  async getConfig(): Promise<StoredConfig | undefined> {
    const res = await this.client.get(configKey(this.prefix)).exec();
    const kv = res.kvs[0];
    return kv ? { raw: kv.value.toString(), modRevision: kv.mod_revision } : undefined;
  }

  /**
   * Writes the config if it is still at `expectModRevision` ('0' or undefined: must not exist):
   * the revision written, or on a conflict the revision found (null: no config any more).
   */
  async putConfig(raw: string, expectModRevision?: string): Promise<CasOutcome> {
    const key = configKey(this.prefix);
    const res = await this.client
      .if(key, 'Mod', '==', expectModRevision && expectModRevision !== '0' ? expectModRevision : 0)
      .then(this.client.put(key).value(raw))
      .else(this.client.get(key))
      .commit();
    if (res.succeeded) return { ok: true, modRevision: res.header.revision };
    const kv = res.responses[0]?.response_range?.kvs[0];
    return { ok: false, currentModRevision: kv ? kv.mod_revision : null };
  }

  /**
   * Turns a reservation back into an expiring lease (an etcd lease of `ttlSeconds` attached),
   * only if unchanged since read; undefined when it changed in between.
   */
  async attachTtl(lease: Lease, ttlSeconds: number): Promise<Lease | undefined> {
    const id = await this.grant(ttlSeconds);
    const res = await this.client
      .if(lease.key, 'Mod', '==', lease.modRevision ?? '0')
      .then(this.client.put(lease.key).value(encodeLeaseAttrs(lease.attrs)).lease(id))
      .commit();
    if (!res.succeeded) {
      await this.revoke(id);
      return undefined;
    }
    return { ...lease, leaseId: id, expiresAt: Date.now() + ttlSeconds * 1000, modRevision: res.header.revision };
  }

  /** Seconds until an etcd lease expires; undefined when it is gone or cannot be read. */
  async leaseTtl(leaseId: string): Promise<number | undefined> {
    const r = await this.client.leaseClient.leaseTimeToLive({ ID: leaseId }).catch(() => undefined);
    return r && Number(r.TTL) >= 0 ? Number(r.TTL) : undefined;
  }

  close(): void {
    this.client.close();
  }

  /**
   * Every lease and reservation, with the store revision they were read at; keys whose key
   * or value is refused come back separately, each with the field and reason.
   */
  async listLeases({ withExpiry = false } = {}): Promise<{ leases: Lease[]; invalid: InvalidLease[]; revision: string }> {
    const res = await this.client.getAll().prefix(subnetsPrefix(this.prefix)).exec();
    const leases: Lease[] = [];
    const invalid: InvalidLease[] = [];
    for (const kv of res.kvs) {
      const lease = this.decode(kv.key.toString(), kv.value.toString(), kv.lease, kv.mod_revision, kv.create_revision);
      if (lease.invalid) invalid.push(lease);
      else leases.push(lease);
    }
    if (withExpiry) await this.fillExpiry(leases);
    return { leases, invalid, revision: res.header.revision };
  }

  async getLease(subnets: LeaseSubnets, { withExpiry = false } = {}): Promise<Lease | undefined> {
    const key = subnetKey(this.prefix, subnets);
    const res = await this.client.get(key).exec();
    const kv = res.kvs[0];
    const lease = kv ? this.decode(key, kv.value.toString(), kv.lease, kv.mod_revision) : undefined;
    if (!lease || lease.invalid) return undefined;
    if (withExpiry) await this.fillExpiry([lease]);
    return lease;
  }

  /**
   * The lease holding `subnet` in either family, whatever its key: a dual-stack key names
   * both subnets, so an operator's "10.244.3.0/24" alone cannot be turned into the key.
   */
  async findLease(subnet: Cidr, { withExpiry = false } = {}): Promise<Lease | undefined> {
    const exact = await this.getLease({ subnet }, { withExpiry });
    if (exact) return exact;
    const { leases } = await this.listLeases();
    const found = leases.find((l) => l.subnet.equals(subnet) || (l.subnet6?.equals(subnet) ?? false));
    if (found && withExpiry) await this.fillExpiry([found]);
    return found;
  }

  /** Creates the lease only if nobody holds the key; undefined when it was taken. */
  async createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    const key = subnetKey(this.prefix, subnets);
    const id = await this.grant(ttlSeconds);
    const res = await this.client
      .if(key, 'Create', '==', 0)
      .then(this.client.put(key).value(encodeLeaseAttrs(attrs)).lease(id))
      .commit();
    if (!res.succeeded) {
      await this.revoke(id);
      return undefined;
    }
    return { key, ...subnets, attrs, leaseId: id, expiresAt: Date.now() + ttlSeconds * 1000, modRevision: res.header.revision };
  }

  /**
   * Extends a lease we hold by attaching a fresh etcd lease, guarded by its mod revision so
   * an operator's edit or delete in between is noticed (undefined) instead of overwritten.
   */
  async renewLease(lease: Lease, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    const id = await this.grant(ttlSeconds);
    const res = await this.client
      .if(lease.key, 'Mod', '==', lease.modRevision ?? '0')
      .then(this.client.put(lease.key).value(encodeLeaseAttrs(attrs)).lease(id))
      .commit();
    if (!res.succeeded) {
      await this.revoke(id);
      return undefined;
    }
    if (lease.leaseId && lease.leaseId !== ZERO_LEASE) await this.revoke(lease.leaseId);
    return { ...lease, attrs, leaseId: id, expiresAt: Date.now() + ttlSeconds * 1000, modRevision: res.header.revision };
  }

  /**
   * Rewrites the value of a reservation this node uses (new VtepMAC after a re-install),
   * keeping it a reservation (no etcd lease); undefined when it changed in between.
   */
  async updateReservation(lease: Lease, attrs: LeaseAttrs): Promise<Lease | undefined> {
    const res = await this.client
      .if(lease.key, 'Mod', '==', lease.modRevision ?? '0')
      .then(this.client.put(lease.key).value(encodeLeaseAttrs(attrs)))
      .commit();
    if (!res.succeeded) return undefined;
    return { ...lease, attrs, leaseId: undefined, expiresAt: undefined, modRevision: res.header.revision };
  }

  /** A key with no etcd lease: never expires, never handed to another node. */
  async reserve(subnets: LeaseSubnets, attrs: LeaseAttrs): Promise<boolean> {
    const key = subnetKey(this.prefix, subnets);
    const res = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(encodeLeaseAttrs(attrs))).commit();
    return res.succeeded;
  }

  /** Deletes a lease or reservation; with `expectModRevision`, only if unchanged. */
  async deleteLease(subnets: LeaseSubnets, expectModRevision?: string): Promise<boolean> {
    const key = subnetKey(this.prefix, subnets);
    if (!expectModRevision) {
      const res = await this.client.delete().key(key).exec();
      return Number(res.deleted) > 0;
    }
    const res = await this.client.if(key, 'Mod', '==', expectModRevision).then(this.client.delete().key(key)).commit();
    return res.succeeded;
  }

  /**
   * Streams lease changes after `fromRevision`. When the watch cannot continue (compaction,
   * cancellation, a lost connection), `onResync` is called: the caller re-lists and watches again.
   */
  async watchLeases(fromRevision: string, onEvent: (e: LeaseEvent) => void, onResync: (why: string) => void): Promise<LeaseWatch> {
    const watcher: Watcher = await this.client
      .watch()
      .prefix(subnetsPrefix(this.prefix))
      .startRevision(String(BigInt(fromRevision) + 1n))
      .create();
    let ended = false;
    const resync = (why: string) => {
      if (ended) return;
      ended = true;
      watcher.cancel().catch(() => {});
      onResync(why);
    };
    watcher.on('put', (kv) => {
      if (ended) return; // a cancelled watcher can still deliver a buffered message
      const lease = this.decode(kv.key.toString(), kv.value.toString(), kv.lease, kv.mod_revision, kv.create_revision);
      if (lease.invalid) onEvent({ type: 'invalid', invalid: lease, revision: kv.mod_revision });
      else onEvent({ type: 'put', lease, revision: kv.mod_revision });
    });
    watcher.on('delete', (kv) => {
      if (ended) return;
      const key = kv.key.toString();
      const subnets = parseSubnetKey(this.prefix, key);
      if (subnets) onEvent({ type: 'delete', subnets, key, revision: kv.mod_revision });
    });
    watcher.on('end', () => resync('watch ended (compacted or cancelled)'));
    watcher.on('error', (e) => resync(`watch error: ${e.message}`));
    // The library would resume the stream by itself, but events deleted and compacted while
    // we were away are gone for good: a fresh list is the only safe view after a disconnect.
    watcher.on('disconnected', (e: Error) => resync(`watch disconnected: ${e?.message ?? 'stream lost'}`));
    return {
      stop: async () => {
        ended = true;
        // While disconnected, cancel() waits for the stream to come back: do not hang on it.
        await Promise.race([watcher.cancel().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
      },
    };
  }

  /** Key and value parsed into a typed lease, or refused whole with the field that failed. */
  private decode(key: string, value: string, leaseId: string | undefined, modRevision: string, createRevision?: string): (Lease & { invalid?: undefined }) | InvalidLease {
    const id = leaseId && leaseId !== ZERO_LEASE ? leaseId : undefined;
    const subnets = parseSubnetKey(this.prefix, key);
    if (!subnets) return { invalid: true, key, field: 'key', reason: 'is not <ip>-<prefixlen>[&<ipv6>-<prefixlen>]', leaseId: id, modRevision };
    let attrs: LeaseAttrs;
    try {
      attrs = parseLeaseAttrs(value);
    } catch (e) {
      if (!(e instanceof LeaseValueError)) throw e;
      return { invalid: true, key, field: e.field, reason: e.reason, leaseId: id, modRevision };
    }
    return { key, ...subnets, attrs, leaseId: id, modRevision, ...(createRevision ? { createRevision } : {}) };
  }

  private async fillExpiry(leases: Lease[]): Promise<void> {
    const ids = [...new Set(leases.map((l) => l.leaseId).filter((x): x is string => !!x))];
    const ttl = new Map<string, number>();
    // bounded parallelism: thousands of leases must not open thousands of calls at once
    for (let i = 0; i < ids.length; i += 64) {
      await Promise.all(ids.slice(i, i + 64).map(async (id) => {
        const r = await this.client.leaseClient.leaseTimeToLive({ ID: id });
        ttl.set(id, Number(r.TTL));
      }));
    }
    const now = Date.now();
    for (const l of leases) if (l.leaseId && ttl.has(l.leaseId)) l.expiresAt = now + Math.max(0, ttl.get(l.leaseId)!) * 1000;
  }

  private async grant(ttlSeconds: number): Promise<string> {
    const r = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return r.ID;
  }

  private async revoke(id: string): Promise<void> {
    await this.client.leaseClient.leaseRevoke({ ID: id }).catch(() => {});
  }
}
