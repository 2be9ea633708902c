// Kube mode's data source (--kube-subnet-mgr): leases are the Node objects, read with the
// daemon's own client and converted with the daemon's nodesToLeases, so twillctl shows
// exactly what twilld routes to; the network config is the net-conf.json file the DaemonSet
// mounts. @kubernetes/client-node is loaded on first use (like etcd3 in etcd.ts): it costs
// ~100 ms of start-up that etcd-mode commands, --help and usage errors must not pay.
import { readFile } from 'node:fs/promises';
import type { AnnotationNames } from '../lib/kube/annotations.js';
import type { KubeClient } from '../lib/kube/client.js';
import type { InvalidLease, Lease } from '../lib/schema/lease.js';
import { NetworkConfig, parseNetworkConfig } from '../lib/schema/network-config.js';
import { CtlError, UsageError } from './errors.js';
import type { KubeSettings } from './options.js';

export interface KubeSession {
  kube: KubeClient;
  names: AnnotationNames;
  /** one-line description of a client-node error */
  describe: (e: unknown) => string;
}

export async function openKube(s: KubeSettings): Promise<KubeSession> {
  const [{ connectKube, describeApiError }, { annotationNames }] = await Promise.all([
    import('../lib/kube/client.js'),
    import('../lib/kube/annotations.js'),
  ]);
  let names: AnnotationNames;
  try {
    names = annotationNames(s.annotationPrefix);
  } catch (e) {
    throw new UsageError(`--kube-annotation-prefix: ${(e as Error).message}`);
  }
  try {
    return { kube: connectKube({ kubeconfigFile: s.kubeconfigFile, apiUrl: s.apiUrl }), names, describe: describeApiError };
  } catch (e) {
    throw new CtlError(`cannot use the Kubernetes API: ${(e as Error).message}`);
  }
}

/** `work`, or a CtlError naming the API server once it fails or takes longer than the deadline. */
export async function kubeCall<T>(k: KubeSession, s: KubeSettings, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${s.timeoutMs} ms`)), s.timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (e) {
    // fetch's own message is just "fetch failed"; the reason (ECONNREFUSED, ...) is its cause
    const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
    const why = cause ? ` (${cause.code ?? cause.message})` : '';
    throw new CtlError(`Kubernetes API at ${k.kube.server}: ${what}: ${k.describe(e)}${why}`);
  } finally {
    clearTimeout(timer);
  }
}

export interface KubeLeases {
  leases: Lease[];
  /** kube-managed Nodes whose annotations are refused */
  invalid: InvalidLease[];
  /** the NodeList's resourceVersion */
  revision: string;
}

/** Every routable Node as a lease. IPv6 subnets are shown unless the network config says IPv4 only. */
export async function listKubeLeases(s: KubeSettings, config?: NetworkConfig): Promise<KubeLeases> {
  const k = await openKube(s);
  const { nodesToLeaseSet } = await import('../lib/kube/annotations.js');
  const list = await kubeCall(k, s, 'list nodes', k.kube.core.listNode());
  const enableIPv6 = config ? config.EnableIPv6 : (await readNetConf(s).catch(() => undefined))?.EnableIPv6 ?? true;
  return { ...nodesToLeaseSet(k.names, list.items, { enableIPv6 }), revision: list.metadata?.resourceVersion ?? '' };
}

/** The raw text of net-conf.json; a CtlError naming the file when it cannot be read. */
export async function readNetConfText(s: KubeSettings): Promise<string> {
  try {
    return await readFile(s.netConfPath, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CtlError(`cannot read the network config ${s.netConfPath} (--net-config-path): ${err.code ?? err.message}`);
  }
}

export async function readNetConf(s: KubeSettings): Promise<NetworkConfig> {
  const text = await readNetConfText(s);
  try {
    return parseNetworkConfig(text);
  } catch (e) {
    throw new CtlError(`network config ${s.netConfPath} is invalid: ${(e as Error).message}`);
  }
}
