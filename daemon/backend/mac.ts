// The VTEP MAC is derived from what identifies the tunnel endpoint (VNI, public IP), so it is
// the same after a daemon restart or after the device was deleted and re-created: peers'
// neighbour and FDB entries for us stay valid and no traffic is lost while they catch up.
import { createHash } from 'node:crypto';
import type { Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';

export function vtepMac(vni: number, publicIp: Ip): Mac {
  const h = createHash('sha256').update(`twill-vtep/${vni}/${publicIp.toString()}`).digest();
  // locally administered (bit 1), unicast (bit 0 clear)
  h[0] = (h[0] & 0xfc) | 0x02;
  return Mac.parse([...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'));
}
