// Which leases are remote peers of this node: not our own key, subnet or node (a re-taken or
// second lease of the same machine). The daemon and twillctl doctor select peers the same way.
import { Lease, sameNode } from '../schema/lease.js';

export function isPeer(own: Lease, l: Lease): boolean {
  if (l.key === own.key || l.subnet.equals(own.subnet) || sameNode(l.attrs, own.attrs)) return false;
  return !(own.subnet6 && l.subnet6?.equals(own.subnet6));
}
