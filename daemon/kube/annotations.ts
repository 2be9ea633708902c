// flannel's Node annotations, under a configurable prefix. Keeping flannel's names (default
// prefix flannel.alpha.coreos.com) means a cluster can move node by node from flanneld to
// twilld: each side reads the other's public IP, backend type and VtepMAC from the Node.
import { Cidr } from '../../lib/ip/cidr.js';
import type { Lease, LeaseAttrs } from '../../lib/schema/lease.js';
import { DEFAULT_ANNOTATION_PREFIX } from './defaults.js';

export { DEFAULT_ANNOTATION_PREFIX };

export interface AnnotationNames {
  kubeSubnetManager: string;
  backendType: string;
  backendData: string;
  backendV6Data: string;
  publicIP: string;
  publicIPv6: string;
  /** set by an operator to force the address peers tunnel to */
  publicIPOverwrite: string;
  publicIPv6Overwrite: string;
}

export class AnnotationPrefixError extends Error {}

/**
 * "example.com" -> "example.com/backend-type"; "example.com/twill" -> "example.com/twill-backend-type".
 * The result must be a valid Kubernetes annotation key: a DNS-style domain, one slash, a name.
 */
export function annotationNames(prefix: string = DEFAULT_ANNOTATION_PREFIX): AnnotationNames {
  let p = prefix;
  const slashes = (p.match(/\//g) ?? []).length;
  if (slashes > 1) throw new AnnotationPrefixError(`annotation prefix "${prefix}": at most one "/" allowed`);
  if (slashes === 0) p += '/';
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  if (!/^(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/.test(p)) {
    throw new AnnotationPrefixError(`annotation prefix "${prefix}": must look like "domain.tld" or "domain.tld/name"`);
  }
  return {
    kubeSubnetManager: `${p}kube-subnet-manager`,
    backendType: `${p}backend-type`,
    backendData: `${p}backend-data`,
    backendV6Data: `${p}backend-v6-data`,
    publicIP: `${p}public-ip`,
    publicIPv6: `${p}public-ipv6`,
    publicIPOverwrite: `${p}public-ip-overwrite`,
    publicIPv6Overwrite: `${p}public-ipv6-overwrite`,
  };
}

/**
 * The annotations this node publishes. `kubeManaged` marks the node as a member of a
 * kube-subnet-mgr network (peers ignore Nodes without it, as flannel does).
 */
export function leaseAnnotations(names: AnnotationNames, attrs: LeaseAttrs, kubeManaged: boolean): Record<string, string> {
  const out: Record<string, string> = {
    [names.backendType]: String(attrs.BackendType),
    [names.backendData]: JSON.stringify(attrs.BackendData ?? null),
    [names.publicIP]: attrs.PublicIP,
  };
  if (attrs.PublicIPv6) {
    out[names.publicIPv6] = attrs.PublicIPv6;
    out[names.backendV6Data] = JSON.stringify(attrs.BackendV6Data ?? null);
  }
  if (kubeManaged) out[names.kubeSubnetManager] = 'true';
  return out;
}

/** The subset of a Node object this code reads (client-node's V1Node fits). */
export interface NodeLike {
  metadata?: { name?: string; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
}

/** The Node's pod CIDRs by family (spec.podCIDRs, else spec.podCIDR). */
export function nodePodCidrs(node: NodeLike): { v4?: Cidr; v6?: Cidr } {
  const raw = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  const out: { v4?: Cidr; v6?: Cidr } = {};
  for (const s of raw) {
    const c = Cidr.tryParse(s);
    if (!c) continue;
    if (c.family === 4 && !out.v4) out.v4 = c;
    if (c.family === 6 && !out.v6) out.v6 = c;
  }
  return out;
}

const NODE_LEASE_KEY = 'kube/nodes/';

export function leaseKeyForNode(name: string): string {
  return `${NODE_LEASE_KEY}${name}`;
}

/** The Node name of a lease made by nodeToLease; undefined for an etcd lease. */
export function nodeNameOfLease(key: string): string | undefined {
  return key.startsWith(NODE_LEASE_KEY) ? key.slice(NODE_LEASE_KEY.length) : undefined;
}

/** The leases of every routable Node, in key order (what the kube manager and twillctl both read). */
export function nodesToLeases(names: AnnotationNames, nodes: Iterable<NodeLike>, opts: { enableIPv6?: boolean } = {}): Lease[] {
  return [...nodes]
    .map((n) => nodeToLease(names, n, opts))
    .filter((l): l is Lease => !!l)
    .sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * A peer's lease, read from its Node: undefined unless the node is kube-managed and has a
 * pod CIDR, a public IP and a backend type (a half-started node is not routable yet).
 */
export function nodeToLease(names: AnnotationNames, node: NodeLike, opts: { enableIPv6?: boolean } = {}): Lease | undefined {
  const ann = node.metadata?.annotations ?? {};
  const name = node.metadata?.name;
  if (!name || ann[names.kubeSubnetManager] !== 'true') return undefined;
  const { v4, v6 } = nodePodCidrs(node);
  const publicIP = ann[names.publicIPOverwrite] || ann[names.publicIP];
  const backendType = ann[names.backendType];
  if (!v4 || !publicIP || !backendType) return undefined;
  const attrs: LeaseAttrs = { PublicIP: publicIP, BackendType: backendType, BackendData: parseJsonObject(ann[names.backendData]) };
  const lease: Lease = { key: leaseKeyForNode(name), subnet: v4, attrs };
  if (opts.enableIPv6 && v6 && (ann[names.publicIPv6Overwrite] || ann[names.publicIPv6])) {
    lease.subnet6 = v6;
    attrs.PublicIPv6 = ann[names.publicIPv6Overwrite] || ann[names.publicIPv6];
    attrs.BackendV6Data = parseJsonObject(ann[names.backendV6Data]);
  }
  return lease;
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Every address peers could know a node by: its public-ip annotations and status addresses. */
export function nodeAddresses(names: AnnotationNames, node: NodeLike): Set<string> {
  const ann = node.metadata?.annotations ?? {};
  const out = new Set<string>();
  for (const k of [names.publicIP, names.publicIPOverwrite, names.publicIPv6, names.publicIPv6Overwrite]) if (ann[k]) out.add(ann[k]);
  for (const a of node.status?.addresses ?? []) if (a.type === 'InternalIP' || a.type === 'ExternalIP') out.add(a.address);
  return out;
}
