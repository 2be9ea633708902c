// The documented JSON shape of a lease (the contract of `leases list/get/watch -o json`) and
// its table columns. Every field is always present; absent values are null, never omitted.
import type { Lease } from '../lib/schema/lease.js';
import { vxlanData } from '../lib/schema/lease.js';
import { nodeNameOfLease } from '../lib/kube/annotations.js';
import { Column, formatDuration } from './output.js';

export interface LeaseView {
  subnet: string;
  subnet6: string | null;
  publicIP: string;
  publicIPv6: string | null;
  backendType: string;
  vtepMAC: string | null;
  vni: number | null;
  reserved: boolean;
  /** whole seconds until the etcd lease expires; null for a reservation */
  expiresInSeconds: number | null;
  /** etcd lease ID in hex, as etcdctl prints it; null for a reservation and in kube mode */
  leaseId: string | null;
  /** the Node object the lease comes from (--kube-subnet-mgr); null in etcd mode */
  node: string | null;
}

/** A lease key with no etcd lease (flannel's reservation); Node leases never are. */
export function isReservation(l: Lease): boolean {
  return !l.leaseId && nodeNameOfLease(l.key) === undefined;
}

export function leaseView(l: Lease, now = Date.now()): LeaseView {
  const vx = vxlanData(l.attrs);
  return {
    subnet: l.subnet.toString(),
    subnet6: l.subnet6 ? l.subnet6.toString() : null,
    publicIP: l.attrs.PublicIP.toString(),
    publicIPv6: l.attrs.PublicIPv6?.toString() ?? null,
    backendType: String(l.attrs.BackendType),
    vtepMAC: vx ? vx.VtepMAC.toString() : null,
    vni: vx ? vx.VNI : null,
    reserved: isReservation(l),
    expiresInSeconds: l.leaseId && l.expiresAt !== undefined ? Math.max(0, Math.round((l.expiresAt - now) / 1000)) : null,
    // etcdctl prints lease ids as %016x; without the padding 1 id in 16 would not match it
    leaseId: l.leaseId ? BigInt(l.leaseId).toString(16).padStart(16, '0') : null,
    node: nodeNameOfLease(l.key) ?? null,
  };
}

/** Numeric order of the IPv4 subnet: 10.244.2.0 before 10.244.10.0. */
export function compareLeases(a: Lease, b: Lease): number {
  if (a.subnet.network !== b.subnet.network) return a.subnet.network < b.subnet.network ? -1 : 1;
  return a.subnet.prefix - b.subnet.prefix;
}

export const LEASE_COLUMNS: Column<LeaseView>[] = [
  { header: 'SUBNET', value: (v) => v.subnet },
  { header: 'PUBLIC-IP', value: (v) => v.publicIP },
  { header: 'BACKEND', value: (v) => v.backendType },
  { header: 'VTEP-MAC', value: (v) => v.vtepMAC },
  { header: 'EXPIRES-IN', value: (v) => (v.reserved ? 'never' : formatDuration(v.expiresInSeconds)) },
  { header: 'RESERVED', value: (v) => (v.reserved ? 'yes' : 'no') },
];

/** Node leases neither expire nor are reserved: those columns give way to the Node name. */
const NODE_LEASE_COLUMNS: Column<LeaseView>[] = [
  LEASE_COLUMNS[0],
  { header: 'NODE', value: (v) => v.node },
  ...LEASE_COLUMNS.slice(1, 4),
];

/** Adds the IPv6 columns only when some lease is dual-stack, to keep the common table narrow. */
export function leaseColumns(views: readonly LeaseView[]): Column<LeaseView>[] {
  const base = views.some((v) => v.node) ? NODE_LEASE_COLUMNS : LEASE_COLUMNS;
  if (!views.some((v) => v.subnet6 || v.publicIPv6)) return base;
  const at = base.indexOf(LEASE_COLUMNS[1]);
  return [
    ...base.slice(0, at),
    { header: 'SUBNET6', value: (v) => v.subnet6 },
    LEASE_COLUMNS[1],
    { header: 'PUBLIC-IPV6', value: (v) => v.publicIPv6 },
    ...base.slice(at + 1),
  ];
}
