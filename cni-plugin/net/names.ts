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
 * entries stay right when an address is reused. An IPv6-only pod (no IPv4 address to take
 * it from) gets 0a:58: + the low 32 bits of its IPv6 address, which are distinct for the
 * pods of one subnet as long as it has fewer than 2^32 of them.
 */
export function macFromIp(ip: Ip): string {
  const v = ip.value;
  return formatMac([0x0a, 0x58, Number((v >> 24n) & 0xffn), Number((v >> 16n) & 0xffn), Number((v >> 8n) & 0xffn), Number(v & 0xffn)]);
}

/**
 * The modified EUI-64 link-local address of a MAC (RFC 4291 appendix A): fe80:: + the MAC
 * with ff:fe in the middle and the universal/local bit flipped, what the kernel itself would
 * have made. The plugin adds it itself so that it can add it without DAD.
 */
export function linkLocalFromMac(mac: string): Ip {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const iid = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]].reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
  return Ip.of(6, (0xfe80n << 112n) | iid);
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
