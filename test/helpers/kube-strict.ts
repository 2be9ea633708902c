// Unknown-field check for Kubernetes objects (what `kubectl apply --validate=strict` refuses):
// the schema validators from npm accept misspelt fields, so a typo such as `hostNetwrok`
// would pass them and be silently dropped by the API server. Walks an object against the
// field tables of @kubernetes/client-node's generated models.
import * as k8s from '@kubernetes/client-node';

type AttrMap = { name: string; baseName: string; type: string }[];
type ModelClass = { getAttributeTypeMap?: () => AttrMap };

const SCALARS = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

/** Paths of fields the type does not define; [] when everything is known. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined || SCALARS.has(type)) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1], `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value as object).flatMap(([k, v]) => unknownFields(v, map[1], `${path}.${k}`));
  const cls = (k8s as unknown as Record<string, ModelClass>)[type];
  if (!cls?.getAttributeTypeMap) throw new Error(`no model for type ${type} at ${path || '(root)'}`);
  const fields = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as object)) {
    const t = fields.get(k);
    if (t === undefined) out.push(`${path}.${k}`);
    else out.push(...unknownFields(v, t, `${path}.${k}`));
  }
  return out;
}

/** The model type of a top-level object: apps/v1 DaemonSet -> V1DaemonSet. */
export function modelTypeOf(obj: { apiVersion?: string; kind?: string }): string {
  const version = (obj.apiVersion ?? '').split('/').pop() ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${obj.kind}`;
}
