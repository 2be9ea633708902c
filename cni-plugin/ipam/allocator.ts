// Picks the pod's address in one family: the requested one if it is usable and free,
// otherwise the next free one after the last reservation (round robin, like host-local, so a
// just-released address is not handed straight to the next pod while stale ARP/neighbour and
// conntrack entries linger).
//
// The pool is host-local's default range for the subnet: from the network address + 1 to
// the last address, minus the gateway; IPv4 also loses its broadcast address. IPv6 has no
// broadcast, but its network address is the subnet-router anycast address (RFC 4291 2.6.1),
// which no pod may hold either.
import { CniError, ErrorCode } from '../../lib/cni/errors.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { RequestedIp } from '../config.js';
import { IpamStore, Owner } from './store.js';

export interface Pool {
  subnet: Cidr;
  gateway: Ip;
}

/** Index of the pool's highest address in its subnet: the broadcast address is not one in IPv4. */
function lastIndex(subnet: Cidr): bigint {
  return subnet.family === 4 ? subnet.size - 2n : subnet.size - 1n;
}

/** Addresses a pod may get: all but network, gateway and (IPv4) broadcast. */
export function usableCount(pool: Pool): bigint {
  return lastIndex(pool.subnet) - 1n;
}

export function isUsable(pool: Pool, ip: Ip): boolean {
  if (!pool.subnet.contains(ip) || ip.equals(pool.gateway)) return false;
  const index = ip.value - pool.subnet.network;
  return index >= 1n && index <= lastIndex(pool.subnet);
}

export function allocate(store: IpamStore, pool: Pool, owner: Owner, requested?: RequestedIp): Ip {
  if (requested) return reserveRequested(store, pool, owner, requested);
  const { subnet } = pool;
  // Host addresses run from index 1 to lastIndex; start just after the last reservation.
  const hosts = lastIndex(subnet);
  const last = store.lastReserved();
  let offset = last && subnet.contains(last) ? last.value - subnet.network : 0n; // index of last, 0 = none
  for (let tried = 0n; tried < hosts; tried++) {
    offset = (offset % hosts) + 1n; // 1..hosts, wrapping
    const ip = subnet.nth(offset);
    if (!isUsable(pool, ip)) continue;
    if (store.tryReserve(ip, owner)) {
      store.setLastReserved(ip);
      return ip;
    }
  }
  throw new CniError(
    ErrorCode.AddressRangeFull,
    `no free address in ${subnet}: all ${usableCount(pool)} pod addresses are allocated`,
    `dataDir ${store.dir}`,
  );
}

function reserveRequested(store: IpamStore, pool: Pool, owner: Owner, req: RequestedIp): Ip {
  const { ip, source } = req;
  if (!pool.subnet.contains(ip)) {
    throw new CniError(ErrorCode.InvalidConfig, `${source}: requested IP ${ip} is not in this node's subnet ${pool.subnet}`);
  }
  if (!isUsable(pool, ip)) {
    const what = ip.equals(pool.gateway)
      ? 'the gateway'
      : !ip.equals(pool.subnet.first)
        ? 'the broadcast address'
        : ip.family === 6
          ? 'the subnet-router anycast (network) address'
          : 'the network address';
    throw new CniError(ErrorCode.InvalidConfig, `${source}: requested IP ${ip} is ${what} of ${pool.subnet}`);
  }
  if (!store.tryReserve(ip, owner)) {
    const holder = store.owner(ip);
    throw new CniError(
      ErrorCode.AddressInUse,
      `${source}: requested IP ${ip} is already allocated${holder ? ` to container ${holder.containerId} (${holder.ifname})` : ''}`,
    );
  }
  return ip;
}
