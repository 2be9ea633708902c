// Every Kubernetes API call twilld makes, as RBAC rules. manifests/ grants exactly these
// (test/unit/manifests-*.test.ts compares the ClusterRole with this list, and the kube tests
// check every request the code sends against it), so the two cannot drift apart.
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

/** The RBAC verb and resource of one HTTP request against the core API (undefined: not a core Node call). */
export function requestPermission(method: string, url: string): { resource: string; verb: string } | undefined {
  const u = new URL(url, 'http://x');
  const m = /^\/api\/v1\/nodes(?:\/([^/]+)(?:\/(status))?)?$/.exec(u.pathname);
  if (!m) return undefined;
  const resource = m[2] ? 'nodes/status' : 'nodes';
  const named = m[1] !== undefined;
  const verbs: Record<string, string> = named
    ? { GET: 'get', PATCH: 'patch', PUT: 'update', DELETE: 'delete' }
    : { GET: u.searchParams.get('watch') === 'true' ? 'watch' : 'list', POST: 'create', DELETE: 'deletecollection' };
  const verb = verbs[method.toUpperCase()];
  return verb ? { resource, verb } : undefined;
}

export function isPermitted(method: string, url: string): boolean {
  const p = requestPermission(method, url);
  return !!p && KUBE_API_USES.some((u) => u.resource === p.resource && u.verbs.includes(p.verb));
}
