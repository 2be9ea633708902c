// The Node port: the three things the daemon does with Node objects (read one, patch one's
// status subresource, list+watch them all), so the kube subnet manager, the Node publisher and
// the lease releaser are unit-tested on an in-memory fake (test/fakes/kube-nodes.ts). The real
// one below is lib's kube client; the fake Kubernetes API server in harness/ tests it on the
// wire, with the same managers on top.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { NodeLike } from '../../lib/kube/annotations.js';
import { describeApiError, KubeClient } from '../../lib/kube/client.js';
import { NodeWatchHandlers, NodeWatchOptions, watchNodes } from '../../lib/kube/node-watch.js';

export interface KubeNodes {
  /** the API server, for messages */
  readonly server: string;
  /** rejects with the API's answer in one line (describeApiError), the cause attached */
  read(name: string): Promise<NodeLike>;
  /** a strategic-merge patch of nodes/status (annotations merge by key, conditions by type) */
  patchStatus(name: string, body: object): Promise<NodeLike>;
  /** list+watch until the signal aborts, re-listing by itself; never rejects for API errors */
  watch(h: NodeWatchHandlers, signal: AbortSignal, o: NodeWatchOptions): Promise<void>;
}

const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

export function kubeNodes(kube: KubeClient): KubeNodes {
  return {
    server: kube.server,
    async read(name) {
      try {
        return (await kube.core.readNode({ name })) as NodeLike;
      } catch (e) {
        throw new Error(describeApiError(e), { cause: e });
      }
    },
    async patchStatus(name, body) {
      try {
        return (await kube.core.patchNodeStatus({ name, body }, STRATEGIC)) as NodeLike;
      } catch (e) {
        throw new Error(describeApiError(e), { cause: e });
      }
    },
    watch: (h, signal, o) => watchNodes(kube, h, signal, o),
  };
}
