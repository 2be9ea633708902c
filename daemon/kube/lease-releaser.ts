// etcd mode: when a Node object is deleted, release the etcd lease that node held. Without
// this a dead node keeps its subnet until the lease's 24 h TTL runs out, and clusters that
// replace nodes often (autoscaling, spot instances) run out of subnets: flannel's most
// repeated complaint.
//
// Leases do not name their node, so a lease belongs to a deleted Node when its PublicIP is
// one of the Node's addresses (the public-ip annotation twilld publishes, or the Node's
// InternalIP/ExternalIP) and no remaining Node claims that address (a node re-registered
// under a new name keeps its lease). Reservations (no etcd lease) are an operator's and are
// never touched. Every twilld runs this; the delete is guarded by the lease's mod revision,
// so the nodes racing for it cannot remove a lease that was re-acquired in between.
import { Mac } from '../../lib/ip/mac.js';
import type { Lease } from '../../lib/schema/lease.js';
import { vxlanData } from '../../lib/schema/lease.js';
import type { AnnotationNames, NodeLike } from '../../lib/kube/annotations.js';
import { nodeAddresses } from '../../lib/kube/annotations.js';
import type { KubeNodes } from './nodes.js';
import type { Logger } from '../log.js';
import type { LeaseReleaseStore } from '../subnet/store.js';

export interface ReleaserOptions {
  /** each release at info (node, subnet, publicIp), failures at warn */
  log: Logger;
  retryMs?: number;
}

/** The leases that belonged to `gone`, given the Nodes that still exist. Pure: unit-tested. */
export function leasesOfDeletedNode(names: AnnotationNames, gone: NodeLike, remaining: Iterable<NodeLike>, leases: readonly Lease[]): Lease[] {
  const addrs = nodeAddresses(names, gone);
  for (const n of remaining) {
    if (n.metadata?.name === gone.metadata?.name) continue;
    for (const a of nodeAddresses(names, n)) addrs.delete(a);
  }
  if (addrs.size === 0) return [];
  // A VtepMAC in the Node's annotations pins the lease further: the same IP with another
  // MAC is a different machine that took over the address.
  const data = parseBackendData(gone.metadata?.annotations?.[names.backendData]);
  return leases.filter((l) => {
    if (!l.leaseId) return false;
    if (!addrs.has(l.attrs.PublicIP.toString())) return false;
    const mac = vxlanData(l.attrs)?.VtepMAC;
    const gonesMac = data?.VtepMAC ? Mac.tryParse(data.VtepMAC) : undefined;
    return !(gonesMac && mac && !gonesMac.equals(mac));
  });
}

function parseBackendData(text: string | undefined): { VtepMAC?: string } | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as { VtepMAC?: string };
  } catch {
    return undefined;
  }
}

/** Watches Nodes until `signal` aborts, releasing the leases of deleted ones. */
export async function runLeaseReleaser(
  nodes: KubeNodes, store: LeaseReleaseStore, names: AnnotationNames, signal: AbortSignal, o: ReleaserOptions,
): Promise<void> {
  const { log } = o;
  let current: ReadonlyMap<string, NodeLike> = new Map();
  // deletions are handled one at a time, in order, off the watch callback
  let queue = Promise.resolve();
  const release = async (gone: NodeLike) => {
    const name = gone.metadata?.name ?? '?';
    try {
      const { leases } = await store.listLeases();
      for (const l of leasesOfDeletedNode(names, gone, current.values(), leases)) {
        if (await store.deleteLease(l, l.modRevision)) {
          log.info('released the lease of a deleted Node', { node: name, subnet: String(l.subnet), publicIp: String(l.attrs.PublicIP) });
        }
      }
    } catch (e) {
      log.warn('releasing the lease of a deleted Node failed', { node: name, error: e });
    }
  };
  await nodes.watch({
    onSync: (nodes) => (current = new Map(nodes)),
    onDeleted: (gone) => {
      queue = queue.then(() => release(gone));
    },
  }, signal, { log, retryMs: o.retryMs });
  await queue;
}
