// host-gw: no tunnel, each peer's pod subnet routed via the peer's public IP. Also vxlan with
// DirectRouting, which does the same for peers on our L2 network.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getLink, ipBatch, listRoutes } from '../../lib/kernel/ip.js';
import { EtcdServer } from '../../harness/etcd.js';
import { Pod, ping } from '../../harness/pods.js';
import { netConfig, Twilld, startEtcdWorld, startTwoNodes } from '../../harness/twilld.js';
import { netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

const subnetOf = (d: Twilld) => /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/.exec(readFileSync(d.subnetFile, 'utf8'))![1] + '.0/24';

for (const variant of ['host-gw', 'vxlan+DirectRouting'] as const) {
  describe(`twilld ${variant}: two nodes`, function () {
    this.timeout(120000);
    const world = new World(variant === 'host-gw' ? 'dhg' : 'ddr');
    let ul: Underlay;
    let etcd: EtcdServer;
    let d1: Twilld;
    let d2: Twilld;
    let p1: Pod;
    let p2: Pod;

    before(async () => {
      const backend = variant === 'host-gw' ? { Type: 'host-gw' } : { DirectRouting: true };
      ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig({}, backend)));
      ({ d1, d2, p1, p2 } = await startTwoNodes(world, ul, etcd));
    });

    after(async function () {
      if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n`);
      await world.cleanup();
    });

    it('routes the peer subnet via the peer\'s public IP', async () => {
      const r = (await listRoutes(netnsPath(ul.nodes[0].ns))).find((x) => x.dst === subnetOf(d2));
      assert.equal(r?.gateway, ul.nodes[1].ip);
      assert.equal(r?.dev, 'eth0');
      const dev = await getLink(netnsPath(ul.nodes[0].ns), 'twill.1');
      assert.equal(!!dev, variant !== 'host-gw', 'a vxlan device only for the vxlan backend');
      const lease = JSON.parse(await etcd.ctl(['get', `/coreos.com/network/subnets/${subnetOf(d1).replace('/', '-')}`, '--print-value-only']));
      assert.equal(lease.BackendType, variant === 'host-gw' ? 'host-gw' : 'vxlan');
    });

    it('pods on different nodes ping each other', async () => {
      assert.ok(await waitFor('p1 -> p2', () => ping(world, p1, p2.ip), 15000));
      assert.ok(await ping(world, p2, p1.ip));
    });

    it('MTU is the interface MTU for host-gw, minus 50 for vxlan', () => {
      assert.match(readFileSync(d1.subnetFile, 'utf8'), variant === 'host-gw' ? /FLANNEL_MTU=1500/ : /FLANNEL_MTU=1450/);
    });

    it('repairs a deleted route and prunes one it does not want', async () => {
      const stale = '10.244.250.0/24'; // inside the cluster Network, no lease: stale
      await ipBatch(netnsPath(ul.nodes[0].ns), [`route del ${subnetOf(d2)}`, `route add ${stale} via ${ul.nodes[1].ip} dev eth0`]);
      await waitFor('route repaired, stale pruned', async () => {
        const routes = await listRoutes(netnsPath(ul.nodes[0].ns));
        return routes.some((x) => x.dst === subnetOf(d2) && x.gateway === ul.nodes[1].ip) && !routes.some((x) => x.dst === stale);
      }, 15000, 200);
      // the node's own routes are not ours to touch
      const own = await listRoutes(netnsPath(ul.nodes[0].ns));
      assert.ok(own.some((x) => x.dst === 'default' && x.gateway === ul.hostIp));
      assert.ok(own.some((x) => x.dst === subnetOf(d1) && x.dev === 'cni0'));
      assert.ok(await ping(world, p1, p2.ip));
    });
  });
}
