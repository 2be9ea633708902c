// Which RBAC permission an HTTP request against the core API needs, and whether twilld's
// declared API uses (daemon/kube/permissions.ts, what manifests/ grants) cover it: the kube
// tests check every request the code sent, so a call the ClusterRole lacks fails a test
// instead of a cluster.
import { KUBE_API_USES } from '../../daemon/kube/permissions.js';

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
