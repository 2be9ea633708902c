// The etcd layout flannel uses, kept byte for byte so twill and flannel nodes share a network:
//   <prefix>/config                       network config JSON
//   <prefix>/subnets/10.244.3.0-24        one lease per node (IPv4 subnet in the key)
//   <prefix>/subnets/10.244.3.0-24&fd00:10:244:3::-64   dual-stack lease
// A lease key with an etcd lease (TTL) attached belongs to a live node; one without is a
// reservation and is never handed to another node.
import { Cidr, Ip } from '../ip/cidr.js';
import type { BackendType } from './network-config.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export function configKey(prefix: string): string {
  return `${trimPrefix(prefix)}/config`;
}

export function subnetsPrefix(prefix: string): string {
  return `${trimPrefix(prefix)}/subnets/`;
}

function trimPrefix(prefix: string): string {
  return prefix.replace(/\/+$/, '');
}

export interface LeaseSubnets {
  subnet: Cidr;
  subnet6?: Cidr;
}

/** "10.244.3.0/24" -> "10.244.3.0-24" (and "&v6-len" for dual stack). */
export function subnetKeyName({ subnet, subnet6 }: LeaseSubnets): string {
  const enc = (c: Cidr) => `${c.first}-${c.prefix}`;
  return subnet6 ? `${enc(subnet)}&${enc(subnet6)}` : enc(subnet);
}

export function subnetKey(prefix: string, s: LeaseSubnets): string {
  return subnetsPrefix(prefix) + subnetKeyName(s);
}

/** Parses the last component of a lease key; undefined when it is not a lease key. */
export function parseSubnetKeyName(name: string): LeaseSubnets | undefined {
  const [v4, v6, extra] = name.split('&');
  if (extra !== undefined) return undefined;
  // Cidr.parse clears host bits, so "10.244.3.1-24" is refused by comparing with the address as written.
  const dec = (s: string) => {
    const m = /^(.+)-(\d{1,3})$/.exec(s);
    const c = m ? Cidr.tryParse(`${m[1]}/${m[2]}`) : undefined;
    return c && Ip.tryParse(m![1])?.value === c.network ? c : undefined;
  };
  const subnet = dec(v4);
  if (!subnet || subnet.family !== 4) return undefined;
  if (v6 === undefined) return { subnet };
  const subnet6 = dec(v6);
  if (!subnet6 || subnet6.family !== 6) return undefined;
  return { subnet, subnet6 };
}

export function parseSubnetKey(prefix: string, key: string): LeaseSubnets | undefined {
  const p = subnetsPrefix(prefix);
  return key.startsWith(p) ? parseSubnetKeyName(key.slice(p.length)) : undefined;
}

export interface VxlanBackendData {
  VNI: number;
  VtepMAC: string;
}

/** The lease value, with flannel's field names. */
export interface LeaseAttrs {
  PublicIP: string;
  PublicIPv6?: string;
  BackendType: BackendType | string;
  BackendData?: VxlanBackendData | Record<string, unknown> | null;
  BackendV6Data?: VxlanBackendData | Record<string, unknown> | null;
}

export class LeaseValueError extends Error {}

export function parseLeaseAttrs(text: string): LeaseAttrs {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new LeaseValueError(`lease value is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null) throw new LeaseValueError('lease value must be a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.PublicIP !== 'string') throw new LeaseValueError('lease value: PublicIP missing');
  if (typeof o.BackendType !== 'string') throw new LeaseValueError('lease value: BackendType missing');
  return o as unknown as LeaseAttrs;
}

export function vxlanData(attrs: LeaseAttrs): VxlanBackendData | undefined {
  const d = attrs.BackendData as Record<string, unknown> | null | undefined;
  if (!d || typeof d.VtepMAC !== 'string') return undefined;
  return { VNI: typeof d.VNI === 'number' ? d.VNI : 1, VtepMAC: d.VtepMAC };
}

/** A lease as read from etcd. */
export interface Lease extends LeaseSubnets {
  key: string;
  attrs: LeaseAttrs;
  /** etcd lease id (hex string); undefined = reservation. */
  leaseId?: string;
  /** Absolute expiry (ms since epoch); undefined for reservations or when unknown. */
  expiresAt?: number;
  modRevision?: string;
}
