// The contract between twilld and where subnets come from: etcd leases (etcd-manager.ts) or
// Kubernetes Node objects (kube-manager.ts). The daemon picks one through the registry map in
// registry.ts; nothing registers itself by import side effect.
import type { InvalidLease, Lease, LeaseAttrs, LeaseSubnets } from '../../lib/schema/lease.js';
import type { NetworkConfig } from '../../lib/schema/network-config.js';
import type { LeaseReleaseStore } from './store.js';

export interface LeaseRequest {
  /** what this node publishes: public IP, backend type and data (VtepMAC) */
  attrs: LeaseAttrs;
  /** subnet from an old subnet.env: taken again when nobody holds it */
  previous?: LeaseSubnets;
  /** etcd lease TTL; ignored by managers whose leases do not expire */
  ttlSeconds: number;
}

/**
 * The lease set as a watch holds it, handed to the listener after every change. The maps are
 * the watch's own and go on changing after the call: whoever keeps them sees later states,
 * each announced by a later call.
 */
export interface LeaseSetUpdate {
  /** every valid lease (ours included), by key */
  leases: ReadonlyMap<string, Lease>;
  /** every key whose key or value was refused (never in `leases`) */
  invalid: ReadonlyMap<string, InvalidLease>;
  /**
   * the keys put, refused or deleted since the previous call: a consumer looks at these
   * alone. Undefined for a new listing (the first, a re-list, a manager that only knows
   * whole sets): anything may have changed.
   */
  changed?: ReadonlySet<string>;
}

export type LeaseSetListener = (update: LeaseSetUpdate) => void;

export interface SubnetManager {
  readonly kind: 'etcd' | 'kube';
  /**
   * etcd mode: the lease store this manager holds, which the deleted-Node lease releaser
   * uses too, so a daemon opens one etcd client. Undefined for managers without etcd.
   */
  readonly leaseStore?: LeaseReleaseStore;
  /** Resolves with the first valid config; logs and keeps waiting while it is missing or invalid. */
  getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig>;
  /** Acquires this node's lease (retrying while the network is full); rejects only on abort. */
  acquireLease(config: NetworkConfig, req: LeaseRequest, signal: AbortSignal): Promise<Lease>;
  /** Extends our lease; undefined when it is gone or was changed by someone else (re-acquire). */
  renewLease(lease: Lease, req: LeaseRequest, signal: AbortSignal): Promise<Lease | undefined>;
  /**
   * Calls onChange with the complete current lease set at start and after every change (with
   * the keys that changed when the manager knows them); re-lists after compaction or
   * disconnects. Resolves when the signal aborts.
   */
  watchLeases(onChange: LeaseSetListener, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
