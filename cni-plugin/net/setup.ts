// Pod plumbing over in-process rtnetlink (lib/kernel/netlink): no `ip` process on the ADD
// or DEL path. One socket in the node namespace runs the host sequence, one socket inside
// the pod namespace runs the pod sequence (see plan.ts); each sequence stops at its first
// failure, as `ip -batch` did, and the failure names the step in `ip` words.
import { closeSync, openSync } from 'node:fs';
// Modules, not the netlink index: re-exporting everything costs the plugin ~1 ms at start.
import { RTM_NEWLINK } from '../../lib/kernel/netlink/constants.js';
import { decodeLink } from '../../lib/kernel/netlink/decode.js';
import { EEXIST, NetlinkError } from '../../lib/kernel/netlink/errors.js';
import { getLinkOn } from '../../lib/kernel/netlink/query.js';
import { delLink } from '../../lib/kernel/netlink/requests.js';
import { NetlinkSocket, withSocket } from '../../lib/kernel/netlink/socket.js';
import { writeSysctlIn } from '../../lib/kernel/sysctl.js';
import { createBridgeRequest, hostRequests, PodLink, podRequests, vethRequestIndex } from './plan.js';

export { bridgeMac, createBridgeLine, hostLines, parseLinkMac, podLines } from './plan.js';
export type { PodLink } from './plan.js';

/** A host-side failure, and whether the veth pair already existed by then (undo needed). */
export class HostSetupError extends Error {
  constructor(
    readonly reason: unknown,
    readonly vethCreated: boolean,
    /** `link add` found the host veth name or the pod's CNI_IFNAME taken */
    readonly nameTaken = false,
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

/**
 * Runs the host sequence. When the bridge is missing, creates it first: concurrent ADDs may
 * all find it missing, so EEXIST from the create is success. A failure at or before the veth
 * creation means this ADD created no veth, so the undo must not delete one (it may belong to
 * an earlier ADD of the same container).
 *
 * Synchronous on purpose: each request is a few microseconds of kernel work, and the plugin
 * has nothing else to do meanwhile.
 */
export function setupHostSide(l: PodLink): { bridgeMac?: string } {
  let podNetnsFd: number;
  try {
    podNetnsFd = openSync(l.netns, 'r');
  } catch (e) {
    throw new HostSetupError(e, false);
  }
  try {
    return withSocket(undefined, (s) => {
      const bridgeIndex = ensureBridge(s, l);
      const requests = hostRequests(l, bridgeIndex, podNetnsFd);
      const vethAt = vethRequestIndex(requests);
      let replies;
      try {
        replies = s.run(requests);
      } catch (e) {
        if (!(e instanceof NetlinkError)) throw new HostSetupError(e, true);
        throw new HostSetupError(e, e.index > vethAt, e.index === vethAt && e.errno === EEXIST);
      }
      const readBack = replies[replies.length - 1].find((m) => m.type === RTM_NEWLINK);
      const mac = readBack ? decodeLink(readBack).address : undefined;
      return mac ? { bridgeMac: mac } : {};
    });
  } catch (e) {
    throw e instanceof HostSetupError ? e : new HostSetupError(e, false);
  } finally {
    closeSync(podNetnsFd);
  }
}

/** The bridge's ifindex, creating the bridge when it is missing. */
function ensureBridge(s: NetlinkSocket, l: PodLink): number {
  const existing = getLinkOn(s, l.bridge);
  if (existing) return existing.ifindex;
  try {
    s.run([createBridgeRequest(l)]);
  } catch (e) {
    if (!(e instanceof NetlinkError && e.errno === EEXIST)) throw e;
  }
  const created = getLinkOn(s, l.bridge);
  if (!created) throw new Error(`bridge ${l.bridge} disappeared right after it was created`);
  return created.ifindex;
}

/**
 * Runs the pod sequence inside the pod namespace. An IPv6 pod first stops taking router
 * advertisements on its interface, while it is still down: its bridge neighbours are other
 * pods, and an RA from one of them would give this pod routes and SLAAC addresses.
 */
export function setupPodSide(l: PodLink): void {
  withSocket(l.netns, (s) => {
    const pod = getLinkOn(s, l.ifname);
    if (!pod) throw new Error(`${l.ifname} did not appear in ${l.netns} after the veth pair was created`);
    if (l.addrs.some((a) => a.ip.family === 6)) writeSysctlIn(l.netns, ['net', 'ipv6', 'conf', l.ifname, 'accept_ra'], '0');
    s.run(podRequests(l, pod.ifindex));
  });
}

/** Deleting the host end destroys the pair, wherever the peer is. Missing is fine. */
export function removeHostVeths(names: string[]): void {
  if (names.length === 0) return;
  try {
    withSocket(undefined, (s) => s.runAll(names.map((n) => delLink(n))));
  } catch {
    /* best effort: DEL and rollback treat "already gone" and "could not" alike */
  }
}
