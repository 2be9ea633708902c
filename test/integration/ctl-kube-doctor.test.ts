// twillctl doctor --kube-subnet-mgr against the real twilld in kube mode: two node namespaces
// run the built twilld with --kube-subnet-mgr (Nodes with podCIDRs in the test API server,
// reached through a relay in the underlay namespace, as in kube-e2e); doctor on each node
// must find nothing wrong. Then, with n1's daemon stopped (it leaves the dataplane in place,
// as flanneld does, so nothing repairs it), a deleted route to n2 must be reported with its fix.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { nexthopIdFor } from '../../lib/dataplane/entries.js';
import { Ip } from '../../lib/ip/cidr.js';
import { ipBatch } from '../../lib/kernel/ip.js';
import { FakeKubeApiServer, KubeNode, serveApiInUnderlay } from '../../harness/kube-apiserver.js';
import { CtlOutcome, runCtl } from '../helpers/twillctl.js';
import { Twilld } from '../../harness/twilld.js';
import { buildUnderlay, netnsPath, Underlay, UnderlayNode, waitFor, World } from '../../harness/world.js';

const podCidrOf = (i: number) => `10.247.${i}.0/24`;

describe('twillctl doctor --kube-subnet-mgr with the real twilld in kube mode', function () {
  this.timeout(180000);
  const world = new World('ck');
  const api = new FakeKubeApiServer({ token: 'ck-doctor' });
  let ul: Underlay;
  let kubeconfig: string;
  let netConf: string;
  const daemons = new Map<string, Twilld>();
  const nodeName = (n: UnderlayNode) => n.ns.slice(world.prefix.length + 1);

  const doctor = (n: UnderlayNode) => runCtl(['doctor', '--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf,
    '--subnet-file', daemons.get(n.ns)!.subnetFile, '-o', 'json'], { netns: n.ns });

  before(async () => {
    ul = await buildUnderlay(world, 2);
    kubeconfig = await serveApiInUnderlay(world, ul.ns, api, 'ck-doctor');
    netConf = path.join(world.tmp, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify({ Network: '10.247.0.0/16', Backend: { Type: 'vxlan' } }));
    ul.nodes.forEach((n, i) => api.createNode({
      metadata: { name: nodeName(n) },
      spec: { podCIDR: podCidrOf(i + 1), podCIDRs: [podCidrOf(i + 1)] },
      status: { addresses: [{ type: 'InternalIP', address: n.ip }] },
    } as KubeNode));
    await Promise.all(ul.nodes.map(async (n, i) => {
      const d = new Twilld(world, n, {
        etcd: 'http://127.0.0.1:2379', // unused in kube mode
        healthzPort: 9340 + i,
        args: ['--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf, '--node-name', nodeName(n), '--ip-masq'],
      }).start();
      daemons.set(n.ns, d);
      world.onCleanup(async () => void (await d.stop()));
      await d.waitReady(60000);
    }));
  });
  after(() => world.cleanup());

  /** doctor output once the daemon has programmed its peer (no errors), or the last output on timeout. */
  async function settled(n: UnderlayNode): Promise<CtlOutcome> {
    let last: CtlOutcome | undefined;
    try {
      return await waitFor(`doctor clean on ${n.ns}`, async () => {
        last = await doctor(n);
        return last.json && last.json.errors === 0 && last.json.peers === 1 ? last : undefined;
      }, 60000, 500) as CtlOutcome;
    } catch (e) {
      throw new Error(`${(e as Error).message}\nlast doctor: ${JSON.stringify(last)}\ntwilld log: ${daemons.get(n.ns)!.logs.slice(-3000)}`);
    }
  }

  it('finds no errors on either node: this node is the Node whose podCIDR subnet.env names', async () => {
    for (const [i, n] of ul.nodes.entries()) {
      const r = await settled(n);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json.node, { publicIP: n.ip, subnet: podCidrOf(i + 1), backendType: 'vxlan', device: 'twill.1', interface: n.iface });
      // warnings may remain (checksum offload depends on the daemon's choice); errors may not
      assert.deepEqual(r.json.findings.filter((f: { check: string }) => f.check !== 'offload'), []);
    }
  });

  it('finds this node by --public-ip too', async () => {
    const n = ul.nodes[1];
    const r = await runCtl(['doctor', '--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf,
      '--subnet-file', daemons.get(n.ns)!.subnetFile, '--public-ip', n.ip, '-o', 'json'], { netns: n.ns });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.node.subnet, podCidrOf(2));
  });

  it('reports a deleted route to a peer, with the command that fixes it', async () => {
    const [n1, n2] = ul.nodes;
    await daemons.get(n1.ns)!.stop();
    await ipBatch(netnsPath(n1.ns), [`route del ${podCidrOf(2)}`]);
    const r = await doctor(n1);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.json.errors, 1);
    assert.deepEqual(r.json.findings.filter((f: { check: string }) => f.check !== 'offload'), [{
      severity: 'error', check: 'route', subject: `${podCidrOf(2)} (node ${n2.ip})`,
      problem: `no route to ${podCidrOf(2)}: pods on node ${n2.ip} are unreachable`,
      fix: `ip route replace ${podCidrOf(2)} nhid ${nexthopIdFor(Ip.parse('10.247.2.0'))}`,
    }]);
  });
});
