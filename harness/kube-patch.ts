// The three patch formats of the Kubernetes API, for the test API server: JSON merge patch
// (RFC 7386), strategic merge patch (merge patch whose lists with a merge key merge element
// by element, e.g. Node conditions by `type`) and JSON patch (RFC 6902). Only the list merge
// keys of the Node type are known; that is all the fake server serves.
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export class PatchError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** Node fields whose lists merge by key under strategic merge patch (from the API's patchMergeKey tags). */
const NODE_MERGE_KEYS: Record<string, string> = {
  'status.conditions': 'type',
  'status.addresses': 'type',
  'spec.taints': 'key',
  'status.volumesAttached': 'name',
};

export function strategicMergePatch(target: Json, patch: Json, path = ''): Json {
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  const out: Obj = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    const p = path ? `${path}.${k}` : k;
    const key = NODE_MERGE_KEYS[p];
    if (v === null) delete out[k];
    else if (key && Array.isArray(v)) out[k] = mergeListByKey(Array.isArray(out[k]) ? (out[k] as Json[]) : [], v, key, p);
    else if (isObj(v)) out[k] = strategicMergePatch(out[k] ?? null, v, p);
    else out[k] = clone(v);
  }
  return out;
}

function mergeListByKey(target: Json[], patch: Json[], key: string, path: string): Json[] {
  const out = clone(target);
  for (const item of patch) {
    if (!isObj(item) || typeof item[key] !== 'string') throw new PatchError(400, `${path}: list element without merge key "${key}"`);
    const i = out.findIndex((o) => isObj(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = strategicMergePatch(out[i], item, path);
    else out.push(clone(item));
  }
  return out;
}

/** RFC 6902 with add, remove, replace and test (what kubectl and client libraries send). */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError(400, 'json patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops) {
    if (!isObj(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new PatchError(400, 'json patch: bad operation');
    const tokens = op.path === '' ? [] : op.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (tokens.length === 0) {
      if (op.op === 'test') {
        if (JSON.stringify(doc) !== JSON.stringify(op.value)) throw new PatchError(422, 'json patch: test failed at /');
        continue;
      }
      if (op.op === 'replace' || op.op === 'add') doc = clone(op.value ?? null);
      else throw new PatchError(422, `json patch: cannot ${op.op} the whole document`);
      continue;
    }
    const parent = walk(doc, tokens.slice(0, -1), op.path);
    const last = tokens[tokens.length - 1];
    const has = Array.isArray(parent) ? Number(last) < parent.length : isObj(parent) && last in parent;
    switch (op.op) {
      case 'test': {
        const cur = Array.isArray(parent) ? parent[Number(last)] : (parent as Obj)[last];
        if (!has || JSON.stringify(cur) !== JSON.stringify(op.value)) throw new PatchError(422, `json patch: test failed at ${op.path}`);
        break;
      }
      case 'remove':
      case 'replace':
        if (!has) throw new PatchError(422, `json patch: ${op.path} does not exist`);
        if (op.op === 'remove') {
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else delete (parent as Obj)[last];
          break;
        }
        if (Array.isArray(parent)) parent[Number(last)] = clone(op.value ?? null);
        else (parent as Obj)[last] = clone(op.value ?? null);
        break;
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, clone(op.value ?? null));
        else (parent as Obj)[last] = clone(op.value ?? null);
        break;
      default:
        throw new PatchError(422, `json patch: unsupported op "${op.op}"`);
    }
  }
  return doc;
}

function walk(doc: Json, tokens: string[], path: string): Obj | Json[] {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObj(cur)) cur = cur[t];
    else cur = null;
    if (cur === undefined || cur === null) throw new PatchError(422, `json patch: path ${path} does not exist`);
  }
  if (!Array.isArray(cur) && !isObj(cur)) throw new PatchError(422, `json patch: ${path} is not inside an object or array`);
  return cur;
}

export type { Json, Obj };
