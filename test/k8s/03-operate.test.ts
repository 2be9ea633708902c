// Operating twill on the real cluster: `twillctl leases list` in a twill pod lists every node
// with its podCIDR and public IP; `twillctl doctor` in each node's pod finds nothing wrong;
// `kubectl rollout restart` of the DaemonSet replaces every twill pod while pods that were
// already running keep talking across nodes (TCP and UDP) through the restart; the
// admission policy in manifests/ lets a twill pod patch its own Node and no other.
import assert from 'node:assert/strict';
import { theCluster } from './setup.js';
import { createPods, deletePods, dial, ensureNamespace, netexecPod, waitPodsReady } from './lib/pods.js';
import { execTwill, TWILL_NS, waitTwillReady } from './lib/twill.js';

describe('k8s: operating twill', function () {
  this.timeout(900000);
  const c = () => theCluster();

  before(async () => {
    await waitTwillReady(c());
    await ensureNamespace(c());
  });

  it('twillctl leases list (kubectl exec ds/kube-twill-ds) lists every node\'s lease', async () => {
    const out = JSON.parse(await c().kubectl(['-n', TWILL_NS, 'exec', 'ds/kube-twill-ds', '-c', 'kube-twill', '--', 'twillctl', 'leases', 'list', '-o', 'json']));
    const nodes = (await c().kubectlJson(['get', 'nodes'])).items as { metadata: { name: string }; spec: { podCIDR: string } }[];
    const leases = out.leases as { subnet: string; publicIP: string }[];
    assert.equal(leases.length, c().nodes.length, JSON.stringify(out));
    for (const n of nodes) {
      const ip = c().nodes.find((k) => k.name === n.metadata.name)!.ip;
      assert.ok(leases.some((l) => l.subnet === n.spec.podCIDR && l.publicIP === ip), `no lease ${n.spec.podCIDR} ${ip}: ${JSON.stringify(leases)}`);
    }
  });

  it('the admission policy lets a twill pod change its own Node, and refuses it every other Node', async () => {
    const [n1, n2] = c().nodes;
    // the pod's own bound token: it names the pod's node, which the policy compares with
    const token = (await execTwill(c(), n1.name, ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token'])).trim();
    // the call twilld makes: a merge patch of the Node's status subresource
    const patch = (node: string) => c().cp.requestWithToken(token, 'PATCH', `/api/v1/nodes/${node}/status`,
      { metadata: { annotations: { 'twill.test/policy-probe': 'yes' } } }, 'application/merge-patch+json');
    const mine = await patch(n1.name);
    assert.equal(mine.status, 200, mine.body);
    const own = await c().kubectlJson(['get', 'node', n1.name]);
    assert.equal(own.metadata.annotations['twill.test/policy-probe'], 'yes', 'its own Node was patched');
    const theirs = await patch(n2.name);
    assert.equal(theirs.status, 403, theirs.body);
    assert.match(theirs.body, /may not change Node/);
    const other = await c().kubectlJson(['get', 'node', n2.name]);
    assert.equal(other.metadata.annotations?.['twill.test/policy-probe'], undefined, 'the other Node is unchanged');
    await c().kubectl(['annotate', 'node', n1.name, 'twill.test/policy-probe-']);
  });

  it('twillctl doctor reports every node healthy', async () => {
    for (const n of c().nodes) {
      const out = await execTwill(c(), n.name, ['twillctl', 'doctor', '-o', 'json']);
      const report = JSON.parse(out);
      assert.equal(report.errors, 0, `${n.name}: ${out}`);
      assert.equal(report.node.publicIP, n.ip, `${n.name}: ${out}`);
      assert.equal(report.peers, c().nodes.length - 1, `${n.name}: ${out}`);
    }
  });

  it('keeps running pods talking across nodes through kubectl rollout restart ds/kube-twill-ds', async () => {
    const [n1, n2] = c().nodes;
    await createPods(c(), [netexecPod('steady-a', n1.name), netexecPod('steady-b', n2.name)]);
    const [a, b] = await waitPodsReady(c(), ['steady-a', 'steady-b']);
    const before = (await waitTwillReady(c())).map((p) => p.name).sort();
    const failures: string[] = [];
    let rounds = 0;
    const probe = async () => {
      for (const [from, to] of [[a, b], [b, a]]) {
        for (const proto of ['http', 'udp'] as const) {
          try {
            const got = await dial(c(), from.name, proto, to.ip, proto === 'http' ? 8080 : 8081);
            if (got[0] !== to.name) failures.push(`${proto} ${from.name} -> ${to.name}: ${JSON.stringify(got)}`);
          } catch (e) {
            failures.push((e as Error).message);
          }
        }
      }
      rounds++;
    };
    await probe();
    assert.deepEqual(failures, [], 'before the restart');
    await c().kubectl(['-n', TWILL_NS, 'rollout', 'restart', 'ds/kube-twill-ds']);
    const rollout = c().kubectl(['-n', TWILL_NS, 'rollout', 'status', 'ds/kube-twill-ds', '--timeout=600s']);
    let done = false;
    void rollout.then(() => (done = true), () => (done = true));
    while (!done) await probe();
    await rollout;
    const after = (await waitTwillReady(c())).map((p) => p.name).sort();
    await probe();
    assert.equal(after.filter((n) => before.includes(n)).length, 0, `every twill pod replaced: ${before} -> ${after}`);
    assert.deepEqual(failures, [], `${failures.length} of ${rounds * 4} requests failed during the restart`);
    await deletePods(c(), ['steady-a', 'steady-b']);
  });
});
