// Which leases are remote peers of this node: not our own key, subnet or node (a re-taken or
// second lease of the same machine). The daemon and twillctl doctor select peers the same way.
import { Lease, sameNode } from '../schema/lease.js';

export function isPeer(own: Lease, l: Lease): boolean {
  if (l.key === own.key || l.subnet.equals(own.subnet) || sameNode(l.attrs, own.attrs)) return false;
  return !(own.subnet6 && l.subnet6?.equals(own.subnet6));
}

/**
 * Whether isPeer answers alike against either of two own leases, for every lease: the same
 * key, subnets and public addresses (a renewal changes none of them, only the lease's revision
 * and expiry).
 */
export function samePeerSelection(a: Lease, b: Lease): boolean {
  return a === b || (a.key === b.key && a.subnet.equals(b.subnet) && same(a.subnet6, b.subnet6)
    && same(a.attrs.PublicIP, b.attrs.PublicIP) && same(a.attrs.PublicIPv6, b.attrs.PublicIPv6));
}

function same<T extends { equals(o: T): boolean }>(x: T | undefined, y: T | undefined): boolean {
  return x && y ? x.equals(y) : x === y;
}
