// Every Kubernetes API call twilld makes, as RBAC rules. manifests/ grants exactly these
// (test/unit/manifests-*.test.ts compares the ClusterRole with this list, and the kube tests
// check every request the code sends against it with test/helpers/kube-permissions.ts), so
// the two cannot drift apart.
export interface ApiUse {
  resource: string;
  verbs: readonly string[];
  why: string;
}

export const KUBE_API_USES: readonly ApiUse[] = [
  { resource: 'nodes', verbs: ['get', 'list', 'watch'], why: 'own podCIDR, peers in kube mode, Node deletions in etcd mode' },
  // annotations and the NetworkUnavailable condition go through the status subresource, as
  // flannel does, so the daemon never needs write access to Node specs
  { resource: 'nodes/status', verbs: ['patch'], why: 'publish annotations and NetworkUnavailable=false' },
];
