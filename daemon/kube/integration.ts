// The daemon's Kubernetes side jobs, started only when the node knows its Node name
// (NODE_NAME from the downward API) and an API server is configured:
//  - once the dataplane is ready: publish the lease as flannel's annotations and clear the
//    NetworkUnavailable condition (both modes; kube mode's manager publishes annotations
//    itself while acquiring, this repeats them idempotently);
//  - etcd mode: release the leases of deleted Nodes (lease-releaser.ts), through the subnet
//    manager's own store: one etcd client per daemon.
// Failures here never stop the dataplane: they are logged and retried with backoff.
import { sleep, Backoff } from '../../lib/backoff.js';
import type { Logger } from '../log.js';
import type { Lease } from '../../lib/schema/lease.js';
import { annotationNames, AnnotationNames, DEFAULT_ANNOTATION_PREFIX } from '../../lib/kube/annotations.js';
import { connectKube } from '../../lib/kube/client.js';
import { KubeNodes, kubeNodes } from './nodes.js';
import { runLeaseReleaser } from './lease-releaser.js';
import { markNetworkAvailable, publishNodeAnnotations } from './node-publisher.js';
import type { LeaseReleaseStore } from '../subnet/store.js';

export interface KubeIntegrationOptions {
  nodeName?: string;
  kubeconfigFile?: string;
  kubeApiUrl?: string;
  kubeAnnotationPrefix?: string;
  kubeSubnetMgr: boolean;
}

export interface KubeIntegration {
  /** The dataplane is up with this lease: (re)publish its attributes and the condition. */
  ready(lease: Lease): void;
  stop(): Promise<void>;
}

/**
 * undefined when there is no Node name or no reachable configuration (plain etcd hosts).
 * `leases` is the etcd subnet manager's store (etcd mode): deleted Nodes' leases are released
 * through it; the integration opens no etcd client of its own.
 */
export function startKubeIntegration(
  o: KubeIntegrationOptions, log: Logger, signal: AbortSignal, leases?: LeaseReleaseStore,
): KubeIntegration | undefined {
  if (!o.nodeName) {
    log.debug('no node name (NODE_NAME): not publishing to Kubernetes');
    return undefined;
  }
  let nodes: KubeNodes;
  let names: AnnotationNames;
  try {
    nodes = kubeNodes(connectKube({ kubeconfigFile: o.kubeconfigFile, apiUrl: o.kubeApiUrl }));
    names = annotationNames(o.kubeAnnotationPrefix ?? DEFAULT_ANNOTATION_PREFIX);
  } catch (e) {
    if (o.kubeSubnetMgr) throw e;
    log.warn('Kubernetes API not configured: no node annotations, no lease release for deleted nodes', { error: e });
    return undefined;
  }
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  signal.addEventListener('abort', onOuterAbort, { once: true });
  const tasks: Promise<void>[] = [];

  if (!o.kubeSubnetMgr && leases) {
    tasks.push(runLeaseReleaser(nodes, leases, names, stop.signal, { log }));
    log.info('releasing the leases of deleted Nodes', { api: nodes.server });
  }

  let publishing: AbortController | undefined;
  const ready = (lease: Lease) => {
    publishing?.abort();
    const mine = new AbortController();
    publishing = mine;
    stop.signal.addEventListener('abort', () => mine.abort(), { once: true });
    tasks.push((async () => {
      const backoff = new Backoff(1000, 30000);
      while (!mine.signal.aborted) {
        try {
          await publishNodeAnnotations(nodes, o.nodeName!, names, lease.attrs, o.kubeSubnetMgr);
          await markNetworkAvailable(nodes, o.nodeName!);
          log.info('published to the Node: annotations, NetworkUnavailable=False', { node: o.nodeName, subnet: String(lease.subnet) });
          return;
        } catch (e) {
          log.warn('publishing to the Node failed; retrying', { node: o.nodeName, error: e });
          await sleep(backoff.next(), mine.signal);
        }
      }
    })());
  };

  return {
    ready,
    async stop() {
      stop.abort();
      signal.removeEventListener('abort', onOuterAbort);
      await Promise.allSettled(tasks);
    },
  };
}
