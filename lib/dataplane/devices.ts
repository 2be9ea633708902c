// The tunnel devices' names and header overheads: what twilld creates and twillctl doctor
// checks, so the two can never disagree on them.

/** VXLAN adds 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const VXLAN_OVERHEAD = 50;
/** Over an IPv6 underlay the outer header is 40 bytes: 70 in all. */
export const VXLAN6_OVERHEAD = 70;

export function vxlanDeviceName(vni: number): string {
  return `twill.${vni}`;
}

/** flannel's `flannel-v6.<VNI>` would not fit IFNAMSIZ for large VNIs: twill6.16777215 does. */
export function vxlan6DeviceName(vni: number): string {
  return `twill6.${vni}`;
}

/**
 * The MTU of the family's overlay device (and of pods, for host-gw): Backend.MTU when set,
 * else the uplink's minus the tunnel header. twilld sets it, twillctl doctor expects it.
 */
export function overlayMtu(backend: { Type: string; MTU?: number }, uplinkMtu: number, family: 4 | 6 = 4): number {
  if (backend.MTU !== undefined) return backend.MTU;
  if (backend.Type !== 'vxlan') return uplinkMtu;
  return uplinkMtu - (family === 4 ? VXLAN_OVERHEAD : VXLAN6_OVERHEAD);
}
