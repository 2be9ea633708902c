// One address per family the node has, all or none: a dual-stack pod gets its IPv4 and its
// IPv6 address from the node's two subnets, and when the second cannot be had the first is
// released again before the error goes out. Every family's reservations live in the one
// dataDir (host-local's layout for a network with several ranges); each family keeps its
// own round-robin hint, `last_reserved_ip.<range id>`, the range id being the family's
// position in the node's list (IPv4 first).
import { CniError, ErrorCode } from '../../lib/cni/errors.js';
import { Ip } from '../../lib/ip/cidr.js';
import { RequestedIp } from '../config.js';
import { FamilySubnet, NodeSubnet } from '../subnet.js';
import { allocate } from './allocator.js';
import { IpamStore, Owner } from './store.js';

export interface Reserved {
  ip: Ip;
  family: FamilySubnet;
}

/** A store handle for each family; index = range id. */
export function familyStores(dataDir: string, node: NodeSubnet): IpamStore[] {
  return node.families.map((_, i) => new IpamStore(dataDir, String(i)));
}

/**
 * Requested addresses by family. Asking for a family the node has no subnet for is a config
 * error (code 7) naming the subnet file key that is missing.
 */
export function requestFor(node: NodeSubnet, requested: RequestedIp[], subnetFile: string): Map<number, RequestedIp> {
  const out = new Map<number, RequestedIp>();
  for (const r of requested) {
    if (!node.families.some((f) => f.family === r.ip.family)) {
      const key = r.ip.family === 4 ? 'FLANNEL_SUBNET' : 'FLANNEL_IPV6_SUBNET';
      throw new CniError(ErrorCode.InvalidConfig, `${r.source}: requested IP ${r.ip} is IPv${r.ip.family}, but ${subnetFile} has no ${key}: this node gives pods no IPv${r.ip.family} address`);
    }
    out.set(r.ip.family, r);
  }
  return out;
}

/** Reserves one address in each family; on any failure releases what it had and rethrows. */
export function reserveAll(dataDir: string, node: NodeSubnet, owner: Owner, requested: Map<number, RequestedIp>): Reserved[] {
  const stores = familyStores(dataDir, node);
  stores[0].ensure();
  const got: Reserved[] = [];
  try {
    node.families.forEach((family, i) => {
      const ip = allocate(stores[i], { subnet: family.subnet, gateway: family.gateway }, owner, requested.get(family.family));
      got.push({ ip, family });
    });
  } catch (e) {
    releaseAll(dataDir, got, owner);
    throw e;
  }
  return got;
}

/** Best effort: used on the failure paths, where the original error is the one to report. */
export function releaseAll(dataDir: string, reserved: Reserved[], owner: Owner): void {
  const store = new IpamStore(dataDir);
  for (const r of reserved) {
    try {
      store.release(r.ip.toString(), owner);
    } catch {
      /* see above */
    }
  }
}
