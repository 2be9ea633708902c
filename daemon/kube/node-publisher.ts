// What a node tells Kubernetes about its network: flannel's annotations (public IP, backend
// type and data: what peers need to tunnel to it) and the NetworkUnavailable condition,
// which cloud route controllers set to true and the network provider clears once it is up.
// Both are strategic-merge patches of nodes/status: conditions merge by type, annotations by
// key, so the kubelet's own conditions and other annotations are left alone.
import type { LeaseAttrs } from '../../lib/schema/lease.js';
import type { AnnotationNames, NodeLike } from '../../lib/kube/annotations.js';
import { leaseAnnotations } from '../../lib/kube/annotations.js';
import type { KubeNodes } from './nodes.js';

async function patchStatus(nodes: KubeNodes, node: string, body: object, what: string): Promise<NodeLike> {
  try {
    return await nodes.patchStatus(node, body);
  } catch (e) {
    throw new Error(`kube: ${what} on node ${node}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Publishes the node's lease attributes as annotations; a no-op when they are already there
 * (a restart must not bump the Node's resourceVersion and wake every peer's watch).
 */
export async function publishNodeAnnotations(
  nodes: KubeNodes, node: string, names: AnnotationNames, attrs: LeaseAttrs, kubeManaged: boolean, current?: NodeLike,
): Promise<boolean> {
  const want = leaseAnnotations(names, attrs, kubeManaged);
  const have = current?.metadata?.annotations ?? (await readNode(nodes, node)).metadata?.annotations ?? {};
  if (Object.entries(want).every(([k, v]) => have[k] === v)) return false;
  await patchStatus(nodes, node, { metadata: { annotations: want } }, 'publishing annotations');
  return true;
}

export async function readNode(nodes: KubeNodes, node: string): Promise<NodeLike> {
  try {
    return await nodes.read(node);
  } catch (e) {
    throw new Error(`kube: reading node ${node}: ${(e as Error).message}`, { cause: e });
  }
}

/** Sets NetworkUnavailable=False (reason TwillIsUp) on the node. */
export async function markNetworkAvailable(nodes: KubeNodes, node: string, now = new Date()): Promise<void> {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z'); // metav1.Time has second precision
  const condition = {
    type: 'NetworkUnavailable',
    status: 'False',
    reason: 'TwillIsUp',
    message: 'twilld is running on this node',
    lastTransitionTime: ts,
    lastHeartbeatTime: ts,
  };
  await patchStatus(nodes, node, { status: { conditions: [condition] } }, 'setting NetworkUnavailable=False');
}
