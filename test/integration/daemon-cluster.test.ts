// Three nodes: one joins after the others are running and must become reachable from them;
// then etcd restarts under the running daemons, and they must follow lease changes made
// after it came back (their watch re-lists), while pods keep talking throughout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getLink, ipBatch, listFdb, listRoutes } from '../../lib/kernel/ip.js';
import { runIn } from '../../lib/kernel/ns.js';
import { EtcdServer } from '../../harness/etcd.js';
import { addPod, Pod, ping } from '../../harness/pods.js';
import { netConfig, Twilld, startEtcdWorld } from '../../harness/twilld.js';
import { addUnderlayNode, netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

describe('twilld: three nodes, late join, etcd restart', function () {
  this.timeout(120000);
  const world = new World('dcl');
  let ul: Underlay;
  let etcd: EtcdServer;
  const daemons: Twilld[] = [];
  const pods: Pod[] = [];
  const subnetOf = (d: Twilld) => /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/.exec(readFileSync(d.subnetFile, 'utf8'))![1] + '.0/24';

  before(async () => {
    ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig({ Network: '10.96.0.0/16' }, { VNI: 7 })));
    for (const n of ul.nodes) daemons.push(new Twilld(world, n, { etcd: etcd.endpoint }).start());
    await Promise.all(daemons.map((d) => d.waitReady()));
    for (const [i, d] of daemons.entries()) pods.push(await addPod(world, ul.nodes[i].ns, d.subnetFile, 1));
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') for (const d of daemons) process.stderr.write(`--- ${d.node.ns} ---\n${d.logs.slice(-2500)}\n`);
    await world.cleanup();
  });

  it('uses the configured VNI in the device name', async () => {
    const routes = await listRoutes(netnsPath(ul.nodes[0].ns));
    assert.ok(routes.some((r) => r.dst === subnetOf(daemons[1]) && r.dev === 'twill.7'));
    assert.ok(await waitFor('p1 -> p2', () => ping(world, pods[0], pods[1].ip), 15000));
  });

  it('a node joining later is reachable from the others', async () => {
    const n3 = await addUnderlayNode(world, ul);
    // a periodic pass far in the future: repairs on this node can only come from kernel events
    const d3 = new Twilld(world, n3, { etcd: etcd.endpoint, args: ['--reconcile-interval', '10m'] }).start();
    daemons.push(d3);
    await d3.waitReady();
    pods.push(await addPod(world, n3.ns, d3.subnetFile, 1));
    assert.ok(await waitFor('p1 -> p3', () => ping(world, pods[0], pods[2].ip), 15000));
    assert.ok(await ping(world, pods[1], pods[2].ip), 'p2 -> p3');
    assert.ok(await ping(world, pods[2], pods[0].ip), 'p3 -> p1');
    assert.equal(await daemons[0].metric('twill_peers'), 2);
  });

  it('repairs on kernel events, without waiting for the periodic pass', async () => {
    const ns = netnsPath(daemons[2].node.ns);
    const peer = subnetOf(daemons[0]);
    const peerMac = (await getLink(netnsPath(ul.nodes[0].ns), 'twill.7'))!.address!;
    await ipBatch(ns, [`route del ${peer}`]);
    await waitFor('route back', async () => (await listRoutes(ns)).some((r) => r.dst === peer), 15000, 100);
    await runIn(ns, 'bridge', ['fdb', 'del', peerMac, 'dev', 'twill.7', 'dst', ul.nodes[0].ip, 'self']);
    await waitFor('fdb back', async () => (await listFdb(ns, 'twill.7')).some((f) => f.mac === peerMac), 15000, 100);
    assert.ok(await ping(world, pods[2], pods[0].ip));
  });

  it('survives an etcd restart and follows lease changes made after it', async () => {
    await etcd.stop();
    // the dataplane does not depend on etcd being up
    assert.ok(await ping(world, pods[0], pods[2].ip), 'ping while etcd is down');
    await new Promise((r) => setTimeout(r, 2000));
    for (const d of daemons) assert.equal(d.child?.exitCode, null, `${d.node.ns} still running`);
    await etcd.start();
    await waitFor('watch resync on n1', async () => ((await daemons[0].metric('twill_watch_resyncs_total')) ?? 0) >= 1, 20000, 300);

    // node 3 goes away for good: its lease is deleted and the others prune its routes
    const d3 = daemons[2];
    const gone = subnetOf(d3);
    await d3.stop();
    await etcd.ctl(['del', `/coreos.com/network/subnets/${gone.replace('/', '-')}`]);
    for (const n of [ul.nodes[0], ul.nodes[1]]) {
      await waitFor(`route to ${gone} pruned on ${n.ns}`, async () => !(await listRoutes(netnsPath(n.ns))).some((r) => r.dst === gone), 20000, 200);
    }
    assert.equal(await daemons[0].metric('twill_peers'), 1);
    assert.equal(await ping(world, pods[0], pods[2].ip), false, 'no route to the departed node');

    // it comes back: same subnet (from its subnet.env), reachable again
    d3.start();
    await d3.waitReady();
    assert.equal(subnetOf(d3), gone);
    assert.ok(await waitFor('p1 -> p3 again', () => ping(world, pods[0], pods[2].ip), 20000));
    // renewals keep working against the restarted etcd
    await waitFor('renewal after restart', async () => ((await daemons[0].metric('twill_lease_renewals_total', 'result="ok"')) ?? 0) >= 1, 30000, 500);
  });
});
