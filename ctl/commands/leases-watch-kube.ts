// `leases watch --kube-subnet-mgr`: the daemon's Node list+watch (node-watch.ts), turned into
// the same events as in etcd mode. A Node whose lease appears or changes (podCIDR, public IP,
// VtepMAC) is a "put", one that goes away (or stops being routable) a "delete"; kubelet's
// frequent status updates change no lease and print nothing. `revision` is the Node's
// resourceVersion. watchNodes re-lists by itself after 410 Gone or a broken stream, and the
// diff below turns a re-list into the puts and deletes it implies, so no "resync" is needed.
import type { NodeLike } from '../../lib/kube/annotations.js';
import type { Lease } from '../../lib/schema/lease.js';
import { readNetConf, listKubeLeases, openKube } from '../kube.js';
import { leaseView } from '../lease-view.js';
import type { Ctx, KubeSettings } from '../options.js';
import { renderStreamItem, stderrWarnings } from '../output.js';
import { tableLine, WatchEventView } from './leases-watch.js';

interface Known {
  lease: Lease;
  /** what the dataplane cares about: a change here is an event */
  sig: string;
  revision: string;
}

const signature = (l: Lease) => JSON.stringify([String(l.subnet), String(l.subnet6 ?? ''), l.attrs]);

export async function watchNodeLeases(ctx: Ctx, s: KubeSettings, count?: number): Promise<void> {
  const config = await readNetConf(s).catch(() => undefined);
  // one bounded list first: an unreachable or forbidden API is an error, not an endless retry
  await listKubeLeases(s, config);
  const k = await openKube(s);
  const [{ watchNodes }, { nodeToLease }] = await Promise.all([import('../../lib/kube/node-watch.js'), import('../../lib/kube/annotations.js')]);
  const enableIPv6 = config?.EnableIPv6 ?? true;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let seen = 0;
  let known: Map<string, Known> | undefined; // undefined until the first list: that is the baseline
  const deletedAt = new Map<string, string>();
  const print = (v: WatchEventView) => {
    if (stop.signal.aborted) return;
    process.stdout.write(renderStreamItem(ctx.output, v, () => tableLine(v)));
    if (count !== undefined && ++seen >= count) stop.abort();
  };
  const onSync = (nodes: ReadonlyMap<string, NodeLike>) => {
    const now = new Map<string, Known>();
    for (const n of nodes.values()) {
      const lease = nodeToLease(k.names, n, { enableIPv6 });
      if (lease) now.set(lease.key, { lease, sig: signature(lease), revision: n.metadata?.resourceVersion ?? '' });
    }
    if (known) {
      for (const [key, v] of now) {
        if (known.get(key)?.sig !== v.sig) print({ type: 'put', revision: v.revision, subnet: v.lease.subnet.toString(), lease: leaseView(v.lease) });
      }
      for (const [key, v] of known) {
        if (!now.has(key)) print({ type: 'delete', revision: deletedAt.get(key) ?? v.revision, subnet: v.lease.subnet.toString(), lease: null });
      }
    } else if (ctx.output === 'table') {
      // progress on stderr so stdout stays a clean event stream
      process.stderr.write(`watching Nodes at ${k.kube.server} (${now.size} leases)\n`);
    }
    deletedAt.clear();
    known = now;
  };
  const onDeleted = (n: NodeLike) => {
    const lease = nodeToLease(k.names, n, { enableIPv6 });
    if (lease && n.metadata?.resourceVersion) deletedAt.set(lease.key, n.metadata.resourceVersion);
  };
  try {
    await watchNodes(k.kube, { onSync, onDeleted }, stop.signal, { log: stderrWarnings });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
