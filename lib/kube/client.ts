// One place that turns flags and environment into a Kubernetes API client. Order: an explicit
// kubeconfig file (--kubeconfig-file), $KUBECONFIG, the in-cluster service account (the
// DaemonSet case), ~/.kube/config, and last --kube-api-url alone (no credentials, as flannel
// allows). No source at all is an error, not client-node's silent http://localhost:8080.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export interface KubeClientOptions {
  /** --kubeconfig-file: a kubeconfig path (wins over everything) */
  kubeconfigFile?: string;
  /** --kube-api-url: overrides the server of whatever config was loaded */
  apiUrl?: string;
}

export interface KubeClient {
  config: KubeConfig;
  core: CoreV1Api;
  /** the API server URL in use, for logs and errors */
  server: string;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(o: KubeClientOptions = {}): KubeConfig {
  const env = process.env; // client-node's loadFromDefault reads it too
  const kc = new KubeConfig();
  const home = path.join(env.HOME ?? homedir(), '.kube', 'config');
  const inCluster = !!env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN);
  const from = o.kubeconfigFile ?? env.KUBECONFIG ?? (inCluster ? 'in-cluster service account' : home);
  try {
    if (o.kubeconfigFile) {
      if (!existsSync(o.kubeconfigFile)) throw new Error('file not found');
      kc.loadFromFile(o.kubeconfigFile);
    } else if (env.KUBECONFIG) {
      kc.loadFromDefault();
    } else if (inCluster) {
      kc.loadFromCluster();
    } else if (existsSync(home)) {
      kc.loadFromFile(home);
    } else if (o.apiUrl) {
      // flannel's --kube-api-url alone: an API server that needs no credentials
      kc.loadFromClusterAndUser({ name: 'api', server: o.apiUrl, skipTLSVerify: isPlainHttp(o.apiUrl) }, { name: 'anonymous' });
    } else {
      // client-node would fall back to http://localhost:8080; a host with no cluster must not retry that forever
      throw new Error('no --kubeconfig-file, $KUBECONFIG, ~/.kube/config or in-cluster service account');
    }
  } catch (e) {
    throw new Error(`kubeconfig (${from}): ${(e as Error).message}`);
  }
  if (o.apiUrl) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`--kube-api-url ${o.apiUrl}: the kubeconfig has no current cluster`);
    // clusters are read-only in client-node's types; replace the entry by name
    kc.clusters = kc.clusters.map((c) => (c.name === cluster.name
      ? { ...c, server: o.apiUrl!, skipTLSVerify: c.skipTLSVerify || isPlainHttp(o.apiUrl!) }
      : c));
  }
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes API server configured (no kubeconfig, not in a cluster)');
  return kc;
}

/**
 * client-node refuses an http:// server unless skipTLSVerify is set, even though plain HTTP has
 * no certificate to verify; flannel's --kube-api-url http://... (an API server on a trusted
 * local port) must work, so for http:// the flag is set: it changes nothing else.
 */
function isPlainHttp(url: string): boolean {
  return url.toLowerCase().startsWith('http:');
}

export function connectKube(o: KubeClientOptions = {}): KubeClient {
  const config = loadKubeConfig(o);
  return { config, core: config.makeApiClient(CoreV1Api), server: config.getCurrentCluster()!.server };
}

/** HTTP status of a client-node error (ApiException.code), or undefined for network errors. */
export function apiStatus(e: unknown): number | undefined {
  const o = e as { code?: unknown; statusCode?: unknown };
  if (typeof o?.code === 'number') return o.code;
  if (typeof o?.statusCode === 'number') return o.statusCode;
  return undefined;
}

/** A short, single-line description of a client-node error (its bodies can be whole Status objects). */
export function describeApiError(e: unknown): string {
  const status = apiStatus(e);
  const body = (e as { body?: unknown })?.body;
  let msg = (e as Error)?.message ?? String(e);
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const m = (parsed as { message?: unknown } | undefined)?.message;
  if (typeof m === 'string' && m) msg = m;
  // ApiException's own message is "HTTP-Code: N\nMessage: TEXT\nBody: ...\nHeaders: ..."
  else msg = /^Message: (.*)$/m.exec(msg)?.[1] ?? msg;
  return status ? `HTTP ${status}: ${msg.split('\n')[0]}` : msg.split('\n')[0];
}
