// flannel's Node annotations, under a configurable prefix. Keeping flannel's names (default
// prefix flannel.alpha.coreos.com) means a cluster can move node by node from flanneld to
// twilld: each side reads the other's public IP, backend type and VtepMAC from the Node.
import { Cidr } from '../ip/cidr.js';
import { InvalidLease, Lease, LeaseAttrs, leaseAttrsFromObject, LeaseValueError } from '../schema/lease.js';
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

/**
 * "example.com" -> "example.com/backend-type"; "example.com/twill" -> "example.com/twill-backend-type".
 * The result must be a valid Kubernetes annotation key: a DNS-style domain, one slash, a name.
 */
export function annotationNames(prefix: string = DEFAULT_ANNOTATION_PREFIX): AnnotationNames {
  let p = prefix;
  const slashes = (p.match(/\//g) ?? []).length;
  if (slashes > 1) throw new Error(`annotation prefix "${prefix}": at most one "/" allowed`);
  if (slashes === 0) p += '/';
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  if (!/^(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/.test(p)) {
    throw new Error(`annotation prefix "${prefix}": must look like "domain.tld" or "domain.tld/name"`);
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
    [names.publicIP]: attrs.PublicIP.toString(),
  };
  if (attrs.PublicIPv6) {
    out[names.publicIPv6] = attrs.PublicIPv6.toString();
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

export interface NodeLeaseOptions {
  enableIPv6?: boolean;
  /** false: an IPv6-only network (the lease's `subnet` is the Node's v6 pod CIDR) */
  enableIPv4?: boolean;
}

/** The leases of every routable Node, in key order (what the kube manager and twillctl both read). */
export function nodesToLeases(names: AnnotationNames, nodes: Iterable<NodeLike>, opts: NodeLeaseOptions = {}): Lease[] {
  return nodesToLeaseSet(names, nodes, opts).leases;
}

/** Every kube-managed Node as a lease, or as an invalid one naming the annotation that failed. */
export function nodesToLeaseSet(names: AnnotationNames, nodes: Iterable<NodeLike>, opts: NodeLeaseOptions = {}): { leases: Lease[]; invalid: InvalidLease[] } {
  const leases: Lease[] = [];
  const invalid: InvalidLease[] = [];
  for (const n of nodes) {
    const r = readNodeLease(names, n, opts);
    if (r?.lease) leases.push(r.lease);
    if (r?.invalid) invalid.push(r.invalid);
  }
  leases.sort((a, b) => a.key.localeCompare(b.key));
  return { leases, invalid };
}

/**
 * A peer's lease, read from its Node: undefined unless the node is kube-managed and has a
 * pod CIDR, a public IP and a backend type (a half-started node is not routable yet), or
 * when one of its annotations is refused (see readNodeLease for why).
 */
export function nodeToLease(names: AnnotationNames, node: NodeLike, opts: NodeLeaseOptions = {}): Lease | undefined {
  return readNodeLease(names, node, opts)?.lease;
}

/**
 * The Node's lease, validated like an etcd lease value: anyone who may patch Nodes writes
 * these annotations, and they reach every node's kernel. undefined: not a member (yet).
 */
export function readNodeLease(names: AnnotationNames, node: NodeLike, opts: NodeLeaseOptions = {}): { lease?: Lease; invalid?: InvalidLease } | undefined {
  const ann = node.metadata?.annotations ?? {};
  const name = node.metadata?.name;
  if (!name || ann[names.kubeSubnetManager] !== 'true') return undefined;
  const { v4, v6 } = nodePodCidrs(node);
  const ip4Key = ann[names.publicIPOverwrite] ? names.publicIPOverwrite : names.publicIP;
  const ip6Key = ann[names.publicIPv6Overwrite] ? names.publicIPv6Overwrite : names.publicIPv6;
  if (!ann[names.backendType]) return undefined;
  const key = leaseKeyForNode(name);
  if (opts.enableIPv4 === false) {
    // IPv6 only: the Node's v6 pod CIDR and public-ipv6 are all there is
    if (!v6 || !ann[ip6Key]) return undefined;
  } else if (!v4 || !ann[ip4Key]) {
    return undefined;
  }
  const withV6 = !!((opts.enableIPv6 || opts.enableIPv4 === false) && v6 && ann[ip6Key]);
  let attrs: LeaseAttrs;
  try {
    attrs = leaseAttrsFromObject({
      PublicIP: opts.enableIPv4 === false ? ann[ip4Key] ?? '0.0.0.0' : ann[ip4Key],
      BackendType: ann[names.backendType],
      BackendData: parseJsonAnnotation(ann[names.backendData], names.backendData),
      ...(withV6 ? { PublicIPv6: ann[ip6Key], BackendV6Data: parseJsonAnnotation(ann[names.backendV6Data], names.backendV6Data) } : {}),
    }, { PublicIP: ip4Key, PublicIPv6: ip6Key, BackendType: names.backendType, BackendData: names.backendData, BackendV6Data: names.backendV6Data });
  } catch (e) {
    if (!(e instanceof LeaseValueError)) throw e;
    return { invalid: { key, field: e.field, reason: e.reason, invalid: true } };
  }
  if (opts.enableIPv4 === false) return { lease: { key, subnet: v6!, attrs } };
  return { lease: { key, subnet: v4!, ...(withV6 ? { subnet6: v6 } : {}), attrs } };
}

function parseJsonAnnotation(text: string | undefined, field: string): unknown {
  if (text === undefined || text === '') return null;
  if (text.length > 4096) throw new LeaseValueError(field, `is ${text.length} characters long (at most 4096)`);
  try {
    return JSON.parse(text);
  } catch {
    throw new LeaseValueError(field, 'is not JSON');
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
