// Pods for the tests: agnhost netexec (HTTP on 8080, UDP on 8081) pinned to a node, created
// with kubectl as a user would, and the netexec /dial request the e2e suite uses to send one
// request from inside a pod (TCP or UDP) and report the answers.
import { waitFor } from '../../../harness/world.js';
import type { K8sCluster } from './cluster.js';

export const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.56';
export const TEST_NS = 'twill-test';

export interface PodSpecOptions {
  hostPort?: number;
  labels?: Record<string, string>;
  args?: string[];
}

export function netexecPod(name: string, nodeName: string, o: PodSpecOptions = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: TEST_NS, labels: { app: 'netexec', ...o.labels } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 0,
      containers: [{
        name: 'netexec',
        image: AGNHOST,
        args: o.args ?? ['netexec', '--http-port=8080', '--udp-port=8081'],
        ports: [
          { containerPort: 8080, protocol: 'TCP', ...(o.hostPort ? { hostPort: o.hostPort } : {}) },
          { containerPort: 8081, protocol: 'UDP' },
        ],
        readinessProbe: o.args ? undefined : { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
      }],
    },
  };
}

export async function ensureNamespace(c: K8sCluster): Promise<void> {
  await c.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: TEST_NS } }));
}

export async function createPods(c: K8sCluster, pods: object[]): Promise<void> {
  await c.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
}

export interface PodInfo {
  name: string;
  node: string;
  /** status.podIP, the primary (IPv4 in this suite's clusters) */
  ip: string;
  /** status.podIPs: one per family of the cluster */
  ips: string[];
}

/** Waits until every pod named is Ready; returns node and address of each. */
export async function waitPodsReady(c: K8sCluster, names: string[], timeoutMs = 300000): Promise<PodInfo[]> {
  return (await waitFor(`pods ${names.length > 3 ? `${names[0]} … (${names.length})` : names.join(', ')} Ready`, async () => {
    const items = (await c.kubectlJson(['-n', TEST_NS, 'get', 'pods'])).items as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const byName = new Map(items.map((p) => [p.metadata.name, p]));
    const out: PodInfo[] = [];
    for (const n of names) {
      const p = byName.get(n);
      const ready = p?.status?.conditions?.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True');
      if (!ready || !p.status.podIP) return undefined;
      out.push({ name: n, node: p.spec.nodeName, ip: p.status.podIP, ips: (p.status.podIPs ?? []).map((x: { ip: string }) => x.ip) });
    }
    return out;
  }, timeoutMs, 1000))!;
}

export async function deletePods(c: K8sCluster, names: string[]): Promise<void> {
  if (names.length) await c.kubectl(['-n', TEST_NS, 'delete', 'pod', '--wait=true', '--grace-period=0', '--force', ...names]);
}

/** One request from inside pod `from` to `to`:port over TCP (http) or UDP; the answers netexec collected. */
export async function dial(c: K8sCluster, from: string, protocol: 'http' | 'udp', host: string, port: number, request = 'hostname'): Promise<string[]> {
  const url = `http://127.0.0.1:8080/dial?request=${request}&protocol=${protocol}&host=${host}&port=${port}&tries=1`;
  const out = await c.kubectl(['-n', TEST_NS, 'exec', from, '--', 'curl', '-sS', '--max-time', '20', url]);
  const parsed = JSON.parse(out) as { responses?: string[]; errors?: string[] };
  if (parsed.errors?.length) throw new Error(`dial ${protocol} ${from} -> ${host}:${port}: ${parsed.errors.join('; ')}`);
  return parsed.responses ?? [];
}
