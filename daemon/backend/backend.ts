// A backend turns leases into kernel state. It says what this node publishes (lease attrs),
// makes the node-local part (vxlan: the device and its address) and, per remote lease, the
// entries that reach that node. reconcile.ts owns the diff against the kernel and applies
// them for every backend alike, so backends stay declarative.
import type { Cidr, Ip } from '../../lib/ip/cidr.js';
import type { Mac } from '../../lib/ip/mac.js';
import type { Lease, LeaseAttrs } from '../../lib/schema/lease.js';
import type { BackendType, NetworkConfig } from '../../lib/schema/network-config.js';
import type { ExternalInterface } from '../iface.js';
import type { Logger } from '../log.js';

// Entries are typed values, never text: they are printed into `ip`/`bridge` lines only by
// dataplane-diff.ts, and a Cidr, an Ip or a Mac cannot print as anything but itself.
export interface RouteSpec {
  dst: Cidr;
  via: Ip;
  dev: string;
  onlink: boolean;
}

export interface NeighSpec {
  dst: Ip;
  lladdr: Mac;
  dev: string;
}

export interface FdbSpec {
  mac: Mac;
  /** the remote VTEP's underlay address */
  dst: Ip;
  dev: string;
}

export interface PeerEntries {
  routes: RouteSpec[];
  neighs: NeighSpec[];
  fdb: FdbSpec[];
}

export interface BackendContext {
  config: NetworkConfig;
  iface: ExternalInterface;
  log: Logger;
  /** vxlan only: run the dataplane in userspace (TAP + twill's engine) instead of the kernel driver */
  userspaceVxlan?: { queues: number; offloads: boolean };
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
