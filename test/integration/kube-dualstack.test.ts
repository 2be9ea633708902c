// Kube mode, dual stack: Nodes with an IPv4 and an IPv6 pod CIDR (spec.podCIDRs, as
// kube-controller-manager allocates them with two cluster CIDRs), a dual-stack net-conf.json,
// the built twilld --kube-subnet-mgr in each node namespace. Each node takes both pod CIDRs,
// publishes public-ipv6 and backend-v6-data, and pods ping and ping6 across nodes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { annotationNames } from '../../lib/kube/annotations.js';
import { getLink } from '../../lib/kernel/ip.js';
import { readSubnetEnv } from '../../lib/schema/subnet-env.js';
import { FakeKubeApiServer, KubeNode, serveApiInUnderlay } from '../../harness/kube-apiserver.js';
import { addPod, Pod } from '../../harness/pods.js';
import { Twilld } from '../../harness/twilld.js';
import { DualUnderlay, dualUnderlay, ping4, ping6 } from '../../harness/underlay6.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';

const F = annotationNames();

describe('kube mode, dual stack (twilld --kube-subnet-mgr, test API server)', function () {
  this.timeout(120000);
  const world = new World('kds');
  const api = new FakeKubeApiServer({ token: 'ds' });
  let ul: DualUnderlay;
  const daemons: Twilld[] = [];
  const pods: Pod[] = [];
  const name = (i: number) => `n${i + 1}`;

  before(async () => {
    ul = await dualUnderlay(world, 2);
    const kubeconfig = await serveApiInUnderlay(world, ul.ns, api, 'ds');
    const netConf = path.join(world.tmp, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'vxlan' } }));
    ul.nodes.forEach((n, i) => api.createNode({
      metadata: { name: name(i) },
      spec: { podCIDR: `10.244.${i + 1}.0/24`, podCIDRs: [`10.244.${i + 1}.0/24`, `fd00:10:244:${i + 1}::/64`] },
      status: { addresses: [{ type: 'InternalIP', address: n.ip }, { type: 'InternalIP', address: ul.ip6[i] }] },
    } as KubeNode));
    for (const [i, n] of ul.nodes.entries()) {
      daemons.push(new Twilld(world, n, {
        etcd: 'http://127.0.0.1:2379', healthzPort: 9400 + i,
        args: ['--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf, '--node-name', name(i)],
      }).start());
    }
    await Promise.all(daemons.map((d) => d.waitReady(60000)));
    for (const [i, n] of ul.nodes.entries()) pods.push(await addPod(world, n.ns, daemons[i].subnetFile, 1));
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${daemons[0]?.logs.slice(-3000)}\n`);
    for (const d of daemons) await d.stop();
    await world.cleanup();
  });

  it('takes both pod CIDRs of its Node and writes them to subnet.env', () => {
    for (const [i] of ul.nodes.entries()) {
      const env = readSubnetEnv(daemons[i].subnetFile);
      assert.equal(String(env.subnet), `10.244.${i + 1}.0/24`);
      assert.equal(String(env.ipv6Subnet), `fd00:10:244:${i + 1}::/64`);
    }
  });

  it('publishes public-ipv6 and backend-v6-data with the IPv6 device\'s MAC', async () => {
    for (const [i, n] of ul.nodes.entries()) {
      const ann = api.getNode(name(i))!.metadata.annotations ?? {};
      assert.equal(ann[F.publicIPv6], ul.ip6[i]);
      const dev = await getLink(netnsPath(n.ns), 'twill6.1');
      assert.deepEqual(JSON.parse(ann[F.backendV6Data]), { VNI: 1, VtepMAC: dev!.address });
    }
  });

  it('pods ping and ping6 each other across nodes', async () => {
    await waitFor('ping6 n1 -> n2', () => ping6(world, pods[0], pods[1].ip6!), 20000, 250);
    assert.ok(await ping6(world, pods[1], pods[0].ip6!));
    assert.ok(await ping4(world, pods[0], pods[1].ip));
  });
});
