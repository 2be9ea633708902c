// The subnet store: what the etcd subnet manager (and the deleted-Node lease releaser) need
// of lib/etcd/registry.ts, and nothing more. EtcdRegistry is the real one; test/fakes/
// subnet-store.ts is an in-memory one with etcd's revision rules (create-only puts, mod
// revision guards, watch from a revision, resync), so acquisition races, renewals and
// re-lists are unit-tested without an etcd. The real-etcd integration tests stay on top.
import type { LeaseEvent, LeaseWatch, StoredConfig } from '../../lib/etcd/registry.js';
import type { InvalidLease, Lease, LeaseAttrs, LeaseSubnets } from '../../lib/schema/lease.js';

export interface SubnetStore {
  /** the etcd key prefix, for messages */
  readonly prefix: string;
  getConfig(): Promise<StoredConfig | undefined>;
  /** every lease and reservation, refused keys apart, at one store revision */
  listLeases(): Promise<{ leases: Lease[]; invalid: InvalidLease[]; revision: string }>;
  getLease(subnets: LeaseSubnets): Promise<Lease | undefined>;
  /** only if nobody holds the key; undefined when it was taken */
  createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined>;
  /** a fresh TTL, only if the key is unchanged since `lease.modRevision`; undefined otherwise */
  renewLease(lease: Lease, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined>;
  /** rewrites a reservation's value, only if unchanged; undefined otherwise */
  updateReservation(lease: Lease, attrs: LeaseAttrs): Promise<Lease | undefined>;
  /** with `expectModRevision`, only if unchanged */
  deleteLease(subnets: LeaseSubnets, expectModRevision?: string): Promise<boolean>;
  /** changes after `fromRevision`; `onResync` once when the watch cannot continue */
  watchLeases(fromRevision: string, onEvent: (e: LeaseEvent) => void, onResync: (why: string) => void): Promise<LeaseWatch>;
  close(): void;
}

/** What the lease releaser (daemon/kube/lease-releaser.ts) needs: find leases, delete one. */
export type LeaseReleaseStore = Pick<SubnetStore, 'listLeases' | 'deleteLease'>;
