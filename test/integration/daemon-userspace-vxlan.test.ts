// Two nodes running the built twilld with --vxlan-userspace on a real underlay and etcd:
// the lease is plain vxlan's, the device is a TAP carrying the same route and neighbour
// entries (and no FDB), the engine's counters and health are on /metrics and /healthz, and a
// deleted TAP or a daemon restart is survived.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { getLink, ipBatch, listFdb, listNeighbours, listRoutes } from '../../lib/kernel/ip.js';
import { EtcdServer } from '../../harness/etcd.js';
import { Pod, ping } from '../../harness/pods.js';
import { netConfig, Twilld, startEtcdWorld, startTwoNodes } from '../../harness/twilld.js';
import { netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

describe('twilld vxlan with the userspace dataplane: two nodes', function () {
  this.timeout(120000);
  const world = new World('dus');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  let d2: Twilld;
  let p1: Pod;
  let p2: Pod;
  const n1 = () => netnsPath(ul.nodes[0].ns);

  before(async () => {
    ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig()));
    ({ d1, d2, p1, p2 } = await startTwoNodes(world, ul, etcd, ['--vxlan-userspace', '--vxlan-userspace-queues', '2']));
  });
  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n--- n2 ---\n${d2?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  it('publishes a plain vxlan lease whose VtepMAC is the TAP device\'s MAC', async () => {
    const out = await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '--print-value-only']);
    const mine = out.trim().split('\n').map((l) => JSON.parse(l)).find((v) => v.PublicIP === ul.nodes[0].ip);
    assert.equal(mine.BackendType, 'vxlan');
    assert.equal(mine.BackendData.VNI, 1);
    const dev = await getLink(n1(), 'twill.1');
    assert.equal(dev?.linkinfo?.info_kind, 'tun');
    const info = dev!.linkinfo!.info_data as Record<string, unknown>;
    assert.equal(info.type, 'tap');
    assert.equal(info.multi_queue, true);
    assert.equal(info.vnet_hdr, true);
    assert.equal(info.persist, true);
    assert.equal(dev!.address, mine.BackendData.VtepMAC);
    assert.equal(dev!.mtu, 1450);
  });

  it('pods on different nodes ping each other', async () => {
    assert.ok(await waitFor('p1 -> p2', () => ping(world, p1, p2.ip), 15000));
    assert.ok(await ping(world, p2, p1.ip));
  });

  it('programs the route and the neighbour on the TAP, and no FDB entry', async () => {
    const peerSubnet = /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/.exec(readFileSync(d2.subnetFile, 'utf8'))![1];
    const r = (await listRoutes(n1())).find((x) => x.dst === `${peerSubnet}.0/24`);
    assert.equal(r?.dev, 'twill.1');
    assert.equal(r?.gateway, `${peerSubnet}.0`);
    assert.ok(r?.flags.includes('onlink'));
    const peerMac = (await getLink(netnsPath(ul.nodes[1].ns), 'twill.1'))!.address;
    const neigh = (await listNeighbours(n1(), 'twill.1')).find((n) => n.dst === `${peerSubnet}.0`);
    assert.equal(neigh?.lladdr, peerMac);
    assert.ok(neigh?.state?.includes('PERMANENT'));
    assert.equal((await listFdb(n1(), 'twill.1')).filter((f) => f.dst).length, 0);
  });

  it('serves the engine\'s counters on /metrics and is healthy', async () => {
    assert.equal(await d1.metric('twill_userspace_vxlan_up'), 1);
    assert.equal(await d1.metric('twill_userspace_vxlan_peers'), 1);
    assert.equal(await d1.metric('twill_userspace_vxlan_threads'), 4);
    // the default steering with two queues, on a machine with CPUs 0 and 1
    assert.equal(await d1.metric('twill_userspace_vxlan_cpu_steering'), availableParallelism() >= 2 ? 1 : 0);
    assert.equal(await d1.metric('twill_userspace_vxlan_offload', 'name="udp_gso"'), 1);
    assert.equal(await d1.metric('twill_userspace_vxlan_offload', 'name="tap_tso4"'), 1);
    assert.ok((await d1.metric('twill_userspace_vxlan_packets_total', 'direction="rx"'))! > 0);
    assert.ok((await d1.metric('twill_userspace_vxlan_packets_total', 'direction="tx"'))! > 0);
    assert.equal((await d1.http('/healthz')).status, 200);
  });

  it('hands the engine a new peer table only when the peers changed, not on every pass', async () => {
    const passes = async () => (await d1.metric('twill_reconcile_runs_total', 'result="ok"')) ?? 0;
    const swaps = await d1.metric('twill_userspace_vxlan_peer_table_swaps_total');
    const p0 = await passes();
    await waitFor('three more reconcile passes', async () => (await passes()) >= p0 + 3, 20000, 200);
    assert.equal(await d1.metric('twill_userspace_vxlan_peer_table_swaps_total'), swaps);
  });

  it('counts a malformed packet sent to its VXLAN port', async () => {
    const before = (await d1.metric('twill_userspace_vxlan_dropped_total', 'reason="malformed"')) ?? 0;
    await world.exec(ul.nodes[1].ns, process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      s.send(Buffer.alloc(30), 8472, ${JSON.stringify(ul.nodes[0].ip)}, () => s.close());`]);
    await waitFor('malformed counted', async () => ((await d1.metric('twill_userspace_vxlan_dropped_total', 'reason="malformed"')) ?? 0) > before, 5000);
  });

  it('re-creates a deleted TAP device with the same MAC and gets traffic back', async () => {
    const mac = (await getLink(n1(), 'twill.1'))!.address;
    await ipBatch(n1(), ['link del twill.1']);
    await waitFor('device back', async () => (await getLink(n1(), 'twill.1'))?.flags.includes('UP'), 20000);
    assert.equal((await getLink(n1(), 'twill.1'))!.address, mac);
    assert.ok(await waitFor('p1 -> p2 after device repair', () => ping(world, p1, p2.ip), 15000));
    assert.ok(await ping(world, p2, p1.ip));
    assert.ok((await d1.metric('twill_reconcile_repairs_total', 'kind="device"'))! >= 1);
    assert.equal(await d1.metric('twill_userspace_vxlan_up'), 1);
  });

  it('re-attaches to its persistent TAP after a restart, routes kept', async () => {
    assert.equal(await d1.stop(), 0, 'clean exit on SIGTERM');
    assert.ok(await getLink(n1(), 'twill.1'), 'the TAP persists while the daemon is down');
    assert.ok((await listRoutes(n1())).some((r) => r.dev === 'twill.1'), 'routes stay');
    d1.start();
    await d1.waitReady();
    assert.ok(await waitFor('p1 -> p2 after restart', () => ping(world, p1, p2.ip), 15000));
    assert.equal(await d1.metric('twill_userspace_vxlan_up'), 1);
  });
});
