// Waiting for and talking to the DaemonSet twill's manifests create.
import { waitFor } from '../../../harness/world.js';
import type { K8sCluster } from './cluster.js';

export const TWILL_NS = 'kube-twill';

export interface TwillPod {
  name: string;
  node: string;
}

/** Waits until the DaemonSet has rolled out: one Ready, up-to-date pod on every node. */
export async function waitTwillReady(c: K8sCluster, timeoutMs = 300000): Promise<TwillPod[]> {
  return (await waitFor('kube-twill-ds Ready on every node', async () => {
    for (const n of c.nodes) n.assertRunning();
    const ds = await c.kubectlJson(['-n', TWILL_NS, 'get', 'ds', 'kube-twill-ds']);
    const st = ds.status;
    const want = c.nodes.length;
    if (st.observedGeneration !== ds.metadata.generation) return undefined;
    if (st.desiredNumberScheduled !== want || st.numberReady !== want || st.updatedNumberScheduled !== want || st.numberAvailable !== want) return undefined;
    const pods = (await c.kubectlJson(['-n', TWILL_NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=twill'])).items as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    if (live.length !== want) return undefined;
    return live.map((p) => ({ name: p.metadata.name as string, node: p.spec.nodeName as string }));
  }, timeoutMs, 1000))!;
}

/** Runs a command in the twill pod on `node` (kubectl exec), resolving to stdout. */
export async function execTwill(c: K8sCluster, node: string, args: string[]): Promise<string> {
  const pods = await waitTwillReady(c);
  const pod = pods.find((p) => p.node === node);
  if (!pod) throw new Error(`no twill pod on ${node}`);
  return c.kubectl(['-n', TWILL_NS, 'exec', pod.name, '-c', 'kube-twill', '--', ...args]);
}
