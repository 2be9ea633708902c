// Lease values for tests, written the way they appear in etcd (flannel's JSON) and parsed by
// the same validator the daemon uses, so a test can never hold a value the daemon would refuse.
import { leaseAttrsFromObject, LeaseAttrs } from '../../lib/schema/lease.js';

export function leaseAttrs(json: Record<string, unknown>): LeaseAttrs {
  return leaseAttrsFromObject(json);
}

export function vxlanAttrs(publicIp: string, vtepMac: string, vni = 1): LeaseAttrs {
  return leaseAttrs({ PublicIP: publicIp, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: vtepMac } });
}

/** A typed value as plain JSON data (Ip, Cidr and Mac print as their strings), for deepEqual. */
export function plain(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}
