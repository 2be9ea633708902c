// A twill node and a node set up the way flannel sets itself up (device flannel.1, VNI 1,
// port 8472, subnet .0/32 on it, lease JSON in flannel's format under /coreos.com/network):
// twill reads the flannel lease, the flannel-style node reads twill's, and pods talk across.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bridgeBatch, ipBatch } from '../../lib/kernel/ip.js';
import { writeSysctl } from '../../lib/kernel/sysctl.js';
import { EtcdServer } from '../../harness/etcd.js';
import { addPod, ping } from '../../harness/pods.js';
import { netConfig, Twilld, startEtcdWorld } from '../../harness/twilld.js';
import { netnsPath, Underlay, waitFor, World } from '../../harness/world.js';
import { writeSubnetEnv } from '../../lib/schema/subnet-env.js';

describe('twilld next to a flannel-style node', function () {
  this.timeout(90000);
  const world = new World('dfl');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  const FLANNEL_MAC = '02:fa:00:00:00:02';

  before(async () => {
    ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig()));
  });
  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  it('pods on a twill node and a flannel-style node ping each other', async () => {
    // the flannel-style node: its device, its lease (with a TTL, as flanneld writes it)
    const fl = ul.nodes[1];
    const flNs = netnsPath(fl.ns);
    await writeSysctl(flNs, 'net.ipv4.ip_forward', '1');
    await ipBatch(flNs, [
      `link add flannel.1 address ${FLANNEL_MAC} mtu 1450 type vxlan id 1 dev eth0 local ${fl.ip} dstport 8472 nolearning`,
      'addr add 10.244.50.0/32 dev flannel.1',
      'link set flannel.1 up',
    ]);
    const grant = await etcd.ctl(['lease', 'grant', '120']);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant)![1];
    await etcd.ctl(['put', '--lease', leaseId, '/coreos.com/network/subnets/10.244.50.0-24',
      JSON.stringify({ PublicIP: fl.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: FLANNEL_MAC } })]);
    const flEnv = `${world.tmp}/flannel.subnet.env`;
    await writeSubnetEnv(flEnv, { network: '10.244.0.0/16', subnet: '10.244.50.1/24', mtu: 1450, ipMasq: false });
    const flPod = await addPod(world, fl.ns, flEnv, 1);

    // the twill node
    d1 = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint }).start();
    await d1.waitReady();
    const twPod = await addPod(world, ul.nodes[0].ns, d1.subnetFile, 1);

    // what flanneld on the other node would program for twill's lease
    const tw = /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/.exec(readFileSync(d1.subnetFile, 'utf8'))![1];
    const twLease = JSON.parse(await etcd.ctl(['get', `/coreos.com/network/subnets/${tw}.0-24`, '--print-value-only']));
    assert.equal(twLease.BackendType, 'vxlan');
    await ipBatch(flNs, [
      `neigh replace ${tw}.0 lladdr ${twLease.BackendData.VtepMAC} dev flannel.1 nud permanent`,
      `route replace ${tw}.0/24 via ${tw}.0 dev flannel.1 onlink`,
    ]);
    await bridgeBatch(flNs, [`fdb append ${twLease.BackendData.VtepMAC} dev flannel.1 dst ${twLease.PublicIP} self permanent`]);

    assert.ok(await waitFor('twill pod -> flannel pod', () => ping(world, twPod, flPod.ip), 15000));
    assert.ok(await ping(world, flPod, twPod.ip), 'flannel pod -> twill pod');
    assert.equal(await d1.metric('twill_peers'), 1);
  });
});
