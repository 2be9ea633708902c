// Names and MAC addresses the plugin derives instead of reading back from the kernel: each
// `ip` read would cost another process (~3-5 ms), and DEL/GC must find the host veth with no
// namespace and no saved state. No node:crypto here: loading it costs the plugin ~3 ms of
// start-up, and neither a link name nor a host-side MAC needs cryptographic strength.
import { Ip } from '../../lib/ip/cidr.js';

export const HOST_VETH_PREFIX = 'twv';

/** "twv" + 12 hex digits (48 bits) of FNV-1a 64 over (containerID, ifname): 15 chars, stable across ADD/DEL/GC. */
export function hostVethName(containerId: string, ifname: string): string {
  return `${HOST_VETH_PREFIX}${fnv1a64(`${containerId}\0${ifname}`).toString(16).padStart(16, '0').slice(0, 12)}`;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a, 64 bits, over the UTF-8 bytes of `s`. */
export function fnv1a64(s: string): bigint {
  let h = FNV_OFFSET;
  for (const b of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

export function isHostVethName(name: string): boolean {
  return name.length === 15 && name.startsWith(HOST_VETH_PREFIX) && /^[0-9a-f]{12}$/.test(name.slice(3));
}

/**
 * 0a:58:<IPv4 bytes>, the convention of kubenet and the reference plugins: locally
 * administered, unicast, and the same IP always gets the same MAC, so neighbours' ARP
 * entries stay right when an address is reused.
 */
export function macFromIp(ip: Ip): string {
  if (ip.family !== 4) throw new Error(`macFromIp needs an IPv4 address, got ${ip}`);
  const v = ip.value;
  const bytes = [0x0a, 0x58, Number((v >> 24n) & 0xffn), Number((v >> 16n) & 0xffn), Number((v >> 8n) & 0xffn), Number(v & 0xffn)];
  return formatMac(bytes);
}

/** A random locally administered unicast MAC (for host-side veths, never addressed). */
export function randomMac(): string {
  const b = Array.from({ length: 6 }, () => Math.floor(Math.random() * 256));
  b[0] = (b[0] & 0xfc) | 0x02;
  return formatMac(b);
}

function formatMac(bytes: number[]): string {
  return bytes.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
