// --kube-subnet-mgr: subnets come from Kubernetes instead of etcd, as in flannel's kube mode.
//   network config  a net-conf.json file (the DaemonSet mounts it from a ConfigMap)
//   own subnet      the Node's spec.podCIDR(s), assigned by kube-controller-manager
//                   (kubeadm --pod-network-cidr); we wait until it is set
//   own lease       published as annotations on our Node (public IP, backend type and data)
//   peers           every Node with a pod CIDR and our annotations, via list + watch
// Nothing expires: a Node's subnet lives as long as the Node object.
import { readFile } from 'node:fs/promises';
import { Lease, parsePublicIp } from '../../lib/schema/lease.js';
import { ConfigError, NetworkConfig, parseNetworkConfig } from '../../lib/schema/network-config.js';
import {
  AnnotationNames, annotationNames, DEFAULT_ANNOTATION_PREFIX, leaseKeyForNode, NodeLike, nodePodCidrs, nodesToLeaseSet,
} from '../../lib/kube/annotations.js';
import { connectKube } from '../../lib/kube/client.js';
import { publishNodeAnnotations, readNode } from '../kube/node-publisher.js';
import { KubeNodes, kubeNodes } from '../kube/nodes.js';
import type { LeaseRequest, LeaseSetListener, SubnetManager } from './manager.js';
import { Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { DEFAULT_NET_CONF_PATH } from '../../lib/kube/defaults.js';

export { DEFAULT_NET_CONF_PATH };

export interface KubeManagerOptions {
  /** Node objects: the kube client (kubeNodes), or a fake in tests */
  nodes: KubeNodes;
  /** this node's Node object name (NODE_NAME from the downward API) */
  nodeName: string;
  netConfPath?: string;
  annotationPrefix?: string;
  log: Logger;
  /** how often to look again for a missing config or podCIDR */
  pollMs?: number;
  /** the poll waits; systemClock unless a test fakes it */
  clock?: Clock;
}

export class KubeSubnetManager implements SubnetManager {
  readonly kind = 'kube' as const;
  readonly names: AnnotationNames;
  private config?: NetworkConfig;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly o: KubeManagerOptions) {
    if (!o.nodeName) throw new ConfigError('NODE_NAME', '--kube-subnet-mgr needs the node name (env NODE_NAME)');
    this.names = annotationNames(o.annotationPrefix ?? DEFAULT_ANNOTATION_PREFIX);
    this.log = o.log;
    this.clock = o.clock ?? systemClock;
  }

  get netConfPath(): string {
    return this.o.netConfPath ?? DEFAULT_NET_CONF_PATH;
  }

  async getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig> {
    let lastProblem = '';
    for (;;) {
      signal.throwIfAborted();
      try {
        this.config = parseNetworkConfig(await readFile(this.netConfPath, 'utf8'));
        return this.config;
      } catch (e) {
        // said once at warn; repeats of the same problem only at debug
        const problem = (e as Error).message;
        const fields = { file: this.netConfPath, error: problem };
        if (problem !== lastProblem) this.log.warn('no valid network config yet; waiting', fields);
        else this.log.debug('no valid network config yet; waiting', fields);
        lastProblem = problem;
      }
      await this.clock.sleep(this.o.pollMs ?? 1000, signal);
    }
  }

  async acquireLease(config: NetworkConfig, req: LeaseRequest, signal: AbortSignal): Promise<Lease> {
    this.config = config;
    let lastProblem = '';
    for (;;) {
      signal.throwIfAborted();
      try {
        const node = await readNode(this.o.nodes, this.o.nodeName);
        const lease = this.ownLease(node, config, req);
        await publishNodeAnnotations(this.o.nodes, this.o.nodeName, this.names, lease.attrs, true, node);
        return lease;
      } catch (e) {
        const problem = (e as Error).message;
        const fields = { node: this.o.nodeName, error: problem };
        if (problem !== lastProblem) this.log.warn('this node\'s lease cannot be formed yet; waiting', fields);
        else this.log.debug('this node\'s lease cannot be formed yet; waiting', fields);
        lastProblem = problem;
      }
      await this.clock.sleep(this.o.pollMs ?? 1000, signal);
    }
  }

  /** Our lease from our Node; throws (with the reason) while it cannot be formed. */
  private ownLease(node: NodeLike, config: NetworkConfig, req: LeaseRequest): Lease {
    const { v4, v6 } = nodePodCidrs(node);
    const who = `kube: node ${this.o.nodeName}`;
    if (config.EnableIPv4 && !v4) throw new Error(`${who} has no IPv4 spec.podCIDR yet (kube-controller-manager --allocate-node-cidrs assigns it)`);
    if (v4 && !config.Network.contains(v4)) throw new Error(`${who}: podCIDR ${v4} is outside Network ${config.Network} of ${this.netConfPath}`);
    if (config.EnableIPv6) {
      if (!v6) throw new Error(`${who} has no IPv6 pod CIDR yet`);
      if (!config.IPv6Network!.contains(v6)) throw new Error(`${who}: pod CIDR ${v6} is outside IPv6Network ${config.IPv6Network}`);
    }
    const attrs = this.publishedAttrs(node, req);
    const key = leaseKeyForNode(this.o.nodeName);
    // an IPv6-only lease holds its v6 subnet as `subnet` (see LeaseSubnets)
    if (!config.EnableIPv4) return { key, subnet: v6!, attrs };
    return { key, subnet: v4!, ...(config.EnableIPv6 ? { subnet6: v6! } : {}), attrs };
  }

  async renewLease(lease: Lease, req: LeaseRequest, signal: AbortSignal): Promise<Lease | undefined> {
    signal.throwIfAborted();
    const node = await readNode(this.o.nodes, this.o.nodeName);
    const { v4, v6 } = nodePodCidrs(node);
    // a re-created Node can come back with another podCIDR: the caller re-acquires
    if (!v4 || !v4.equals(lease.subnet)) return undefined;
    if (lease.subnet6 && (!v6 || !v6.equals(lease.subnet6))) return undefined;
    // someone may have stripped our annotations (kubectl annotate --overwrite, node re-registration)
    const attrs = this.publishedAttrs(node, req);
    await publishNodeAnnotations(this.o.nodes, this.o.nodeName, this.names, attrs, true, node);
    return { ...lease, attrs };
  }

  /**
   * What we publish: our attributes, with an operator's public-ip-overwrite annotation taking
   * the place of the detected address (as in flannel), so our lease equals what peers read.
   */
  private publishedAttrs(node: NodeLike, req: LeaseRequest) {
    const ann = node.metadata?.annotations ?? {};
    const attrs = { ...req.attrs };
    const overwrite = (key: string, family: 4 | 6) => {
      try {
        return parsePublicIp(ann[key], key, family);
      } catch (e) {
        // peers refuse the same value (nodeToLease), so publishing it would cut us off
        this.log.warn('ignoring an invalid public IP annotation', { node: this.o.nodeName, error: e });
        return undefined;
      }
    };
    if (ann[this.names.publicIPOverwrite]) attrs.PublicIP = overwrite(this.names.publicIPOverwrite, 4) ?? attrs.PublicIP;
    if (attrs.PublicIPv6 && ann[this.names.publicIPv6Overwrite]) attrs.PublicIPv6 = overwrite(this.names.publicIPv6Overwrite, 6) ?? attrs.PublicIPv6;
    return attrs;
  }

  async watchLeases(onChange: LeaseSetListener, signal: AbortSignal): Promise<void> {
    let last = '';
    await this.o.nodes.watch({
      onSync: (nodes) => {
        const { leases, invalid } = nodesToLeaseSet(this.names, nodes.values(), { enableIPv6: this.config?.EnableIPv6, enableIPv4: this.config?.EnableIPv4 });
        // kubelet status updates touch Nodes often; only lease changes matter to the dataplane
        const sig = JSON.stringify([leases.map((l) => [l.key, String(l.subnet), String(l.subnet6 ?? ''), l.attrs]), invalid]);
        if (sig === last) return;
        last = sig;
        onChange({ leases: new Map(leases.map((l) => [l.key, l])), invalid: new Map(invalid.map((l) => [l.key, l])) });
      },
    }, signal, { log: this.log, retryMs: this.o.pollMs });
  }

  async close(): Promise<void> {
    // nothing held open: watches end with their signals
  }
}

/** The registry's factory input: flags as parsed by daemon/options.ts. */
export interface KubeManagerFlags {
  nodeName?: string;
  kubeconfigFile?: string;
  kubeApiUrl?: string;
  netConfigPath?: string;
  kubeAnnotationPrefix?: string;
}

export function createKubeSubnetManager(flags: KubeManagerFlags, log: Logger): KubeSubnetManager {
  return new KubeSubnetManager({
    nodes: kubeNodes(connectKube({ kubeconfigFile: flags.kubeconfigFile, apiUrl: flags.kubeApiUrl })),
    nodeName: flags.nodeName ?? '',
    netConfPath: flags.netConfigPath,
    annotationPrefix: flags.kubeAnnotationPrefix,
    log,
  });
}
