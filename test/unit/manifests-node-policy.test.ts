// manifests/04-node-policy.yaml, the ValidatingAdmissionPolicy that lets a twill pod change
// only its own Node. Its CEL is evaluated here the way the API server applies a policy
// (matchConstraints, then matchConditions, then variables and validations) with a CEL
// implementation from npm, on admission requests shaped like the API server's; the schema
// check is in manifests-validate.test.ts, and the real cluster suite proves it end to end.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { KUBE_API_USES } from '../../daemon/kube/permissions.js';
import { REPO_ROOT } from '../../harness/cni.js';

type Obj = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Evaluate = (expr: string, ctx: Record<string, unknown>) => unknown;

const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name';
const load = (f: string) => (loadAll(readFileSync(path.join(REPO_ROOT, 'manifests', f), 'utf8')) as Obj[]).filter(Boolean);
const [policy, binding] = load('04-node-policy.yaml');
const sa = load('01-rbac.yaml').find((o) => o.kind === 'ServiceAccount');
const TWILL = `system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`;

interface Req { user: string; extra?: Record<string, string[]>; node: string; subresource?: string; operation?: string }

/** What the API server decides: not matched (the policy does not apply), allowed, or denied with a message. */
function admit(evaluate: Evaluate, r: Req): { result: 'not matched' | 'allowed' | 'denied'; message?: string } {
  const operation = r.operation ?? 'UPDATE';
  const resource = r.subresource ? `nodes/${r.subresource}` : 'nodes';
  const ruleMatches = policy.spec.matchConstraints.resourceRules.some((rule: Obj) =>
    rule.apiGroups.includes('') && rule.apiVersions.includes('v1') && rule.operations.includes(operation) && rule.resources.includes(resource));
  if (!ruleMatches) return { result: 'not matched' };
  const request = {
    operation,
    name: r.node,
    resource: { group: '', version: 'v1', resource: 'nodes' },
    subResource: r.subresource ?? '',
    userInfo: { username: r.user, ...(r.extra ? { extra: r.extra } : {}) },
  };
  const object = { apiVersion: 'v1', kind: 'Node', metadata: { name: r.node } };
  const ctx: Record<string, unknown> = { request, object, oldObject: object };
  for (const c of policy.spec.matchConditions) if (evaluate(c.expression, ctx) !== true) return { result: 'not matched' };
  const variables: Record<string, unknown> = {};
  ctx.variables = variables;
  for (const v of policy.spec.variables ?? []) variables[v.name] = evaluate(v.expression, ctx);
  for (const v of policy.spec.validations) {
    if (evaluate(v.expression, ctx) !== true) return { result: 'denied', message: String(v.messageExpression ? evaluate(v.messageExpression, ctx) : v.message) };
  }
  return { result: 'allowed' };
}

describe('manifests: a twill pod may change only its own Node (ValidatingAdmissionPolicy)', () => {
  let evaluate: Evaluate;
  before(async () => {
    // ESM-only package
    ({ evaluate } = (await import('@marcbachmann/cel-js')) as unknown as { evaluate: Evaluate });
  });
  const twillOn = (node: string) => ({ user: TWILL, extra: { [NODE_NAME_KEY]: [node] } });

  it('lets twill on node-a patch node-a (status subresource, where its writes go, and the Node itself)', () => {
    assert.deepEqual(admit(evaluate, { ...twillOn('node-a'), node: 'node-a', subresource: 'status' }), { result: 'allowed' });
    assert.deepEqual(admit(evaluate, { ...twillOn('node-a'), node: 'node-a' }), { result: 'allowed' });
  });

  it('refuses twill on node-a a patch of node-b, and says why', () => {
    for (const subresource of ['status', undefined]) {
      assert.deepEqual(admit(evaluate, { ...twillOn('node-a'), node: 'node-b', subresource }),
        { result: 'denied', message: 'twill on node node-a may not change Node node-b' });
    }
  });

  it('refuses a twill token that names no node, or more than one', () => {
    const none = admit(evaluate, { user: TWILL, node: 'node-a', subresource: 'status' });
    assert.equal(none.result, 'denied');
    assert.match(none.message!, /names no node/);
    assert.equal(admit(evaluate, { user: TWILL, extra: { 'other-key': ['x'] }, node: 'node-a', subresource: 'status' }).result, 'denied');
    assert.equal(admit(evaluate, { user: TWILL, extra: { [NODE_NAME_KEY]: ['node-a', 'node-b'] }, node: 'node-a', subresource: 'status' }).result, 'denied');
  });

  it('leaves everyone else alone: kubelets, controllers, admins, other service accounts', () => {
    for (const user of ['system:node:node-a', 'system:serviceaccount:kube-system:node-controller', 'kubernetes-admin', 'system:serviceaccount:kube-twill:other']) {
      assert.deepEqual(admit(evaluate, { user, extra: { [NODE_NAME_KEY]: ['node-a'] }, node: 'node-b', subresource: 'status' }), { result: 'not matched' }, user);
    }
  });

  it('covers every write twilld makes, and nothing but Node updates', () => {
    const writes = KUBE_API_USES.filter((u) => u.verbs.some((v) => ['patch', 'update', 'create', 'delete'].includes(v))).map((u) => u.resource);
    assert.deepEqual(writes, ['nodes/status']);
    for (const w of writes) assert.ok(policy.spec.matchConstraints.resourceRules.some((r: Obj) => r.resources.includes(w) && r.operations.includes('UPDATE')), w);
    assert.equal(admit(evaluate, { ...twillOn('node-a'), node: 'node-b', operation: 'DELETE' }).result, 'not matched', 'RBAC already refuses deletes');
  });

  it('is enforced: failurePolicy Fail, bound with validationActions Deny to every namespace', () => {
    assert.equal(policy.apiVersion, 'admissionregistration.k8s.io/v1');
    assert.equal(policy.spec.failurePolicy, 'Fail');
    assert.equal(binding.kind, 'ValidatingAdmissionPolicyBinding');
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
    assert.equal(binding.spec.matchResources, undefined, 'no narrowing: Nodes are cluster-scoped');
  });
});
