// A backend turns leases into kernel state. It says what this node publishes (lease attrs),
// makes the node-local part (vxlan: the device and its address) and, per remote lease, the
// entries that reach that node. reconcile.ts owns the diff against the kernel and applies
// them for every backend alike, so backends stay declarative.
import type { PeerEntries } from '../../lib/dataplane/entries.js';
import type { Lease, LeaseAttrs } from '../../lib/schema/lease.js';
import type { BackendType, NetworkConfig } from '../../lib/schema/network-config.js';
import type { ExternalInterface } from '../iface.js';
import type { Logger } from '../log.js';
import type { UserspaceVxlanOptions } from './userspace-vxlan.js';

// Entries are typed values, never text (lib/dataplane/entries.ts): the daemon writes them
// over netlink, and only messages spell them as `ip` commands.
export type { FdbSpec, NeighSpec, PeerEntries, RouteSpec } from '../../lib/dataplane/entries.js';

export interface BackendContext {
  config: NetworkConfig;
  iface: ExternalInterface;
  log: Logger;
  /** vxlan: the kernel has nexthop objects, so IPv4 tunnel routes name them (lib/dataplane/entries.ts NexthopSpec) */
  nexthops?: boolean;
  /** vxlan only: run the dataplane in userspace (TAP + twill's engine) instead of the kernel driver */
  userspaceVxlan?: UserspaceVxlanOptions;
}

export interface Backend {
  readonly type: BackendType;
  /** The IPv4 tunnel device (vxlan), if any. */
  readonly device?: string;
  /** Every device whose neighbours and FDB entries are all ours (vxlan: the v4 and the v6 one). */
  readonly devices: readonly string[];
  /** What this node publishes in its lease. */
  leaseAttrs(): LeaseAttrs;
  /** The pod MTU written to subnet.env. */
  mtu(): number;
  /** Creates or repairs node-local state for our lease; true when something was (re)created. */
  ensureLocal(lease: Lease): Promise<boolean>;
  /** The kernel entries that reach one remote lease; undefined when this backend cannot use it. */
  peerEntries(peer: Lease): PeerEntries | undefined;
  // Userspace dataplanes only:
  /** The leases of this pass (after the kernel entries): what the engine must reach. */
  syncPeers?(leases: readonly Lease[]): void;
  /** undefined when healthy, else why not (for /healthz) */
  health?(): string | undefined;
  /** extra Prometheus lines for /metrics */
  metrics?(): string[];
  /** releases what the process holds (threads, fds); kernel state stays */
  stop?(): void;
}

export type BackendFactory = (ctx: BackendContext) => Backend;
