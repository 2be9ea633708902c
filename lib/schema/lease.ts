// The etcd layout flannel uses, kept byte for byte so twill and flannel nodes share a network:
//   <prefix>/config                       network config JSON
//   <prefix>/subnets/10.244.3.0-24        one lease per node (IPv4 subnet in the key)
//   <prefix>/subnets/10.244.3.0-24&fd00:10:244:3::-64   dual-stack lease
// A lease key with an etcd lease (TTL) attached belongs to a live node; one without is a
// reservation and is never handed to another node.
import { Cidr, Ip } from '../ip/cidr.js';
import { Mac, MacParseError } from '../ip/mac.js';
import { describeInput, printable } from '../cni/text.js';
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

/**
 * A lease's subnets: `subnet` is the IPv4 one, or in an IPv6-only network the IPv6 one (the
 * key then holds it alone); `subnet6` is the IPv6 subnet of a dual-stack lease. Code that
 * cares about a family asks subnetOf().
 */
export interface LeaseSubnets {
  subnet: Cidr;
  subnet6?: Cidr;
}

export function subnetOf(l: LeaseSubnets, family: 4 | 6): Cidr | undefined {
  if (family === 4) return l.subnet.family === 4 ? l.subnet : undefined;
  return l.subnet6 ?? (l.subnet.family === 6 ? l.subnet : undefined);
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
  // strict: "10.244.3.1-24" (host bits set) is refused, not read as 10.244.3.0/24
  const dec = (s: string) => {
    const m = /^([0-9A-Fa-f.:]{2,45})-(\d{1,3})$/.exec(s);
    if (!m) return undefined;
    try {
      return Cidr.parse(`${m[1]}/${m[2]}`, { strict: true });
    } catch {
      return undefined;
    }
  };
  const subnet = dec(v4);
  if (!subnet) return undefined;
  // an IPv6-only network's key holds the v6 subnet alone (it is then the lease's `subnet`)
  if (v6 === undefined) return { subnet };
  if (subnet.family !== 4) return undefined;
  const subnet6 = dec(v6);
  if (!subnet6 || subnet6.family !== 6) return undefined;
  return { subnet, subnet6 };
}

export function parseSubnetKey(prefix: string, key: string): LeaseSubnets | undefined {
  const p = subnetsPrefix(prefix);
  return key.startsWith(p) ? parseSubnetKeyName(key.slice(p.length)) : undefined;
}

// ---- the lease value -------------------------------------------------------------------
// Whoever can write etcd (or patch a Node) writes these values, and they end up in kernel
// entries on every node. So they are parsed here, once, into typed values (Ip, Mac, integers
// in range, a known backend name) and nothing downstream ever sees the raw text. A value
// that fails is refused whole with the field it failed on: never half-applied.

/** flannel's backend names: a lease of one twill does not run is valid, just not routable. */
export const LEASE_BACKEND_TYPES = [
  'vxlan', 'host-gw', 'udp', 'ipip', 'wireguard', 'ipsec', 'alloc', 'extension', 'gce', 'aws-vpc', 'alivpc', 'tencent-vpc',
] as const;
export type LeaseBackendType = (typeof LEASE_BACKEND_TYPES)[number];

export interface VxlanBackendData {
  VNI: number;
  VtepMAC: Mac;
}

/** The lease value, with flannel's field names; JSON.stringify gives flannel's wire form. */
export interface LeaseAttrs {
  PublicIP: Ip;
  PublicIPv6?: Ip;
  BackendType: LeaseBackendType | BackendType;
  /** vxlan: VNI and VtepMAC; null for every other type (twill reads nothing else) */
  BackendData?: VxlanBackendData | null;
  BackendV6Data?: VxlanBackendData | null;
}

/** flannel's values are ~150 bytes; anything far larger is not a lease. */
export const MAX_LEASE_VALUE_LENGTH = 4096;
const MAX_VNI = 0xffffff;

export class LeaseValueError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'LeaseValueError';
  }
}

/** Where each value field came from, for messages (a Node annotation, say). */
export type LeaseFieldNames = Partial<Record<'PublicIP' | 'PublicIPv6' | 'BackendType' | 'BackendData' | 'BackendV6Data', string>>;

export function parseLeaseAttrs(text: string): LeaseAttrs {
  if (typeof text !== 'string') throw new LeaseValueError('(value)', 'must be text');
  if (text.length > MAX_LEASE_VALUE_LENGTH) throw new LeaseValueError('(value)', `is ${text.length} characters long (at most ${MAX_LEASE_VALUE_LENGTH})`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text: keep only its printable head
    throw new LeaseValueError('(value)', `is not JSON: ${describe((e as Error).message)}`);
  }
  return leaseAttrsFromObject(v);
}

/** Validates an already decoded value (etcd JSON, or fields gathered from Node annotations). */
export function leaseAttrsFromObject(v: unknown, names: LeaseFieldNames = {}): LeaseAttrs {
  const name = (f: keyof LeaseFieldNames) => names[f] ?? f;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LeaseValueError('(value)', 'must be a JSON object');
  const o = v as Record<string, unknown>;
  const type = o.BackendType;
  if (typeof type !== 'string') throw new LeaseValueError(name('BackendType'), `must be a string, got ${describe(type)}`);
  if (!(LEASE_BACKEND_TYPES as readonly string[]).includes(type)) {
    throw new LeaseValueError(name('BackendType'), `${describe(type)} is not a known backend type`);
  }
  // flannel's IPv6-only nodes publish PublicIP "0.0.0.0" (the field is not optional there)
  const v6Only = o.PublicIP === '0.0.0.0' && typeof o.PublicIPv6 === 'string' && o.PublicIPv6 !== '';
  const attrs: LeaseAttrs = {
    PublicIP: v6Only ? NO_IPV4 : parsePublicIp(o.PublicIP, name('PublicIP'), 4),
    BackendType: type as LeaseBackendType,
    BackendData: parseBackendData(type as LeaseBackendType, o.BackendData, name('BackendData')),
  };
  if (o.PublicIPv6 !== undefined && o.PublicIPv6 !== null && o.PublicIPv6 !== '') {
    attrs.PublicIPv6 = parsePublicIp(o.PublicIPv6, name('PublicIPv6'), 6);
    if (o.BackendV6Data !== undefined && o.BackendV6Data !== null) {
      attrs.BackendV6Data = parseBackendData(type as LeaseBackendType, o.BackendV6Data, name('BackendV6Data'));
    }
  }
  return attrs;
}

/** The PublicIP of a node with no IPv4 endpoint (IPv6-only network), as flannel writes it. */
export const NO_IPV4 = Ip.parse('0.0.0.0');

export function hasIpv4Endpoint(attrs: LeaseAttrs): boolean {
  return !attrs.PublicIP.equals(NO_IPV4);
}

/**
 * Whether two lease values name the same node: by PublicIP, or by PublicIPv6 where there is
 * no IPv4 endpoint (every IPv6-only node's PublicIP is 0.0.0.0).
 */
export function sameNode(a: LeaseAttrs, b: LeaseAttrs): boolean {
  if (hasIpv4Endpoint(a) || hasIpv4Endpoint(b)) return a.PublicIP.equals(b.PublicIP);
  return !!a.PublicIPv6 && !!b.PublicIPv6 && a.PublicIPv6.equals(b.PublicIPv6);
}

/** flannel's lease JSON for a typed value (Ip and Mac print themselves canonically). */
export function encodeLeaseAttrs(attrs: LeaseAttrs): string {
  return JSON.stringify(attrs);
}

/** Only characters an address can have: no whitespace, no zone, no control characters. */
const ADDRESS_TEXT = /^[0-9A-Fa-f.:]{2,45}$/;

/**
 * A tunnel endpoint: a unicast address of the family, strictly spelled. Loopback,
 * unspecified, multicast, broadcast and IPv6 link-local addresses name no remote node.
 */
export function parsePublicIp(v: unknown, field: string, family: 4 | 6): Ip {
  if (typeof v !== 'string') throw new LeaseValueError(field, `must be a string, got ${describe(v)}`);
  const ip = ADDRESS_TEXT.test(v) ? Ip.tryParse(v) : undefined;
  if (!ip) throw new LeaseValueError(field, `${describe(v)} is not an IP address`);
  if (ip.family !== family) throw new LeaseValueError(field, `${ip} is not an IPv${family} address`);
  const reason = nonUnicastReason(ip);
  if (reason) throw new LeaseValueError(field, `${ip} is ${reason}, not a node's address`);
  return ip;
}

const SPECIAL_TEXT: Record<4 | 6, [string, string][]> = {
  4: [['0.0.0.0/8', 'unspecified'], ['127.0.0.0/8', 'a loopback address'],
    ['224.0.0.0/4', 'a multicast address'], ['255.255.255.255/32', 'the broadcast address']],
  6: [['::/128', 'unspecified'], ['::1/128', 'a loopback address'],
    ['ff00::/8', 'a multicast address'], ['fe80::/10', 'a link-local address']],
};
// parsed on first use, once: a start-up checks every lease's PublicIP against them
let special: Record<4 | 6, [Cidr, string][]> | undefined;

function nonUnicastReason(ip: Ip): string | undefined {
  special ??= {
    4: SPECIAL_TEXT[4].map(([net, why]) => [Cidr.parse(net), why]),
    6: SPECIAL_TEXT[6].map(([net, why]) => [Cidr.parse(net), why]),
  };
  for (const [net, why] of special[ip.family]) if (net.contains(ip)) return why;
  return undefined;
}

function parseBackendData(type: LeaseBackendType, raw: unknown, field: string): VxlanBackendData | null {
  // twill reads backend data of vxlan only; other types' data is never used, so not carried.
  if (type !== 'vxlan') return null;
  // a reservation nobody has taken yet carries no VTEP: valid, just not routable
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new LeaseValueError(field, `must be an object with VNI and VtepMAC, got ${describe(raw)}`);
  }
  const d = raw as Record<string, unknown>;
  const vni = d.VNI ?? 1; // flannel's default VNI
  if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > MAX_VNI) {
    throw new LeaseValueError(`${field}.VNI`, `must be an integer from 0 to ${MAX_VNI}, got ${describe(d.VNI)}`);
  }
  let mac: Mac;
  try {
    mac = Mac.parse(d.VtepMAC as string);
  } catch (e) {
    throw new LeaseValueError(`${field}.VtepMAC`, e instanceof MacParseError ? `${describe(d.VtepMAC)} ${e.reason}` : String(e));
  }
  return { VNI: vni, VtepMAC: mac };
}

/** A short, printable rendering of a hostile value for messages: bounded, no control characters. */
export function describe(v: unknown): string {
  return printable(describeInput(v));
}

export function vxlanData(attrs: LeaseAttrs): VxlanBackendData | undefined {
  return attrs.BackendType === 'vxlan' && attrs.BackendData ? attrs.BackendData : undefined;
}

// ---- leases against the network --------------------------------------------------------

/** A key under the subnets prefix whose key or value is refused. */
export interface InvalidLease {
  invalid: true;
  key: string;
  field: string;
  reason: string;
  modRevision?: string;
  /** etcd lease id (hex string); undefined = reservation or a Node */
  leaseId?: string;
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
  /** the etcd revision that created the key: among two keys claiming one subnet, the older wins */
  createRevision?: string;
}

