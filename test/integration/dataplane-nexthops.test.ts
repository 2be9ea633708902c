// IPv4 tunnel routes that name nexthop objects (lib/dataplane/entries.ts NexthopSpec), on a
// real kernel: a clean write is held whole on the next read; every kind of drift of the new
// kind (a nexthop deleted, and its route with it, unannounced; a route turned plain; a
// nexthop with another gateway; a gone peer's nexthop) is planned the same with the held
// shortcut as with the full decode, and written back; nexthop_compat_mode=0 (routes dumped
// without their gateway) changes nothing; an id held by someone else's nexthop is never
// taken over; and the own-writes event filter drops our nexthop writes but not a deletion.
import assert from 'node:assert/strict';
import { DataplaneEntries, nexthopIdFor } from '../../lib/dataplane/entries.js';
import { opText, planDataplane } from '../../lib/dataplane/plan.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';
import { ipBatch } from '../../lib/kernel/ip.js';
import { applyDataplaneOps, kernelHasNexthops, ourEntries, readKernelDataplane } from '../../lib/kernel/dataplane.js';
import * as C from '../../lib/kernel/netlink/constants.js';
import { dropOwnWritesFilter, KernelEvent, subscribeKernel } from '../../lib/kernel/netlink/events.js';
import { getLinkOn } from '../../lib/kernel/netlink/query.js';
import { NetlinkSocket } from '../../lib/kernel/netlink/socket.js';
import { runIn } from '../../lib/kernel/ns.js';
import type { Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { heldPlans } from '../helpers/held-plans.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';

const PEERS = 300;
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const subnet = (i: number) => Cidr.parse(`10.${100 + (i >> 8)}.${i & 255}.0/24`);
const idOf = (i: number) => nexthopIdFor(subnet(i).first);

function desiredFor(peers: number): DataplaneEntries {
  const d: DataplaneEntries = { routes: [], neighs: [], fdb: [], nexthops: [] };
  for (let i = 0; i < peers; i++) {
    const s4 = subnet(i);
    const mac = Mac.parse(`0e:00:00:04:${hex2(i >> 8)}:${hex2(i & 255)}`);
    const id = nexthopIdFor(s4.first);
    d.nexthops.push({ id, via: s4.first, dev: 'vx4', onlink: true });
    d.routes.push({ dst: s4, via: s4.first, dev: 'vx4', onlink: true, nhid: id });
    d.neighs.push({ dst: s4.first, lladdr: mac, dev: 'vx4' });
    d.fdb.push({ mac, dst: Ip.parse(`198.19.${i >> 8}.${i & 255}`), dev: 'vx4' });
  }
  return d;
}

interface IpRoute { dst: string; nhid?: number; gateway?: string; dev?: string; flags: string[] }

describe('tunnel routes over nexthop objects, against the kernel', function () {
  const world = new World('dn');
  let name: string;
  let ns: string;
  let s: NetlinkSocket;
  const config = parseNetworkConfig({ Network: '10.0.0.0/8' });
  const own = { key: 'own', subnet: Cidr.parse('10.99.1.0/24'), attrs: {} } as unknown as Lease;
  const devices = ['vx4'];
  const desired = desiredFor(PEERS);
  const index = (dev: string) => getLinkOn(s, dev)?.ifindex;

  const plans = () => heldPlans(s, devices, false, desired, config, own);
  const routes = async () => JSON.parse(await runIn(ns, 'ip', ['-json', 'route', 'show', 'dev', 'vx4'])) as IpRoute[];
  const nexthopIds = async () => (JSON.parse(await runIn(ns, 'ip', ['-json', 'nexthop', 'show'])) as { id: number }[]).map((h) => h.id);

  before(async () => {
    name = await world.addNetns('node');
    ns = netnsPath(name);
    await ipBatch(ns, [
      'link add ul0 type veth peer name ul1', 'addr add 198.18.0.1/24 dev ul0', 'link set ul0 up', 'link set ul1 up',
      'link add vx4 type vxlan id 1 dev ul0 local 198.18.0.1 dstport 8472 nolearning', 'link set vx4 up',
    ]);
    s = NetlinkSocket.open(ns);
  });
  after(async () => {
    s?.close();
    await world.cleanup();
  });

  it('the kernel here has nexthop objects', () => {
    assert.equal(kernelHasNexthops(s), true);
    assert.equal(readKernelDataplane(s, devices, false).nexthopObjects, true);
  });

  it('writes nexthops before the routes that name them, and holds all of it on the next read', async () => {
    const ops = planDataplane(desired, { routes: [], neighs: [], fdb: [], nexthops: [] }).ops;
    assert.equal(opText(ops[0]), `ip nexthop add id ${idOf(0)} via 10.100.0.0 dev vx4 onlink`);
    assert.ok(ops.findIndex((o) => o.kind === 'route') > ops.findLastIndex((o) => o.kind === 'nexthop'), 'every nexthop before the first route');
    assert.deepEqual(applyDataplaneOps(s, ops, index), []);
    const p = plans();
    assert.equal(p.held, PEERS * 4, 'nexthop, route, neighbour and FDB entry per peer');
    assert.deepEqual(p.quick, []);
    assert.deepEqual(p.full, []);
    // what an operator sees: the route names the nexthop, and still shows where it leads
    const r = (await routes()).find((x) => x.dst === '10.100.7.0/24');
    assert.deepEqual({ nhid: r?.nhid, gateway: r?.gateway, onlink: r?.flags.includes('onlink') }, { nhid: idOf(7), gateway: '10.100.7.0', onlink: true });
    assert.equal((await nexthopIds()).length, PEERS);
  });

  it('plans the same repairs with and without the held shortcut for every kind of nexthop drift, and none once written', async () => {
    await ipBatch(ns, [
      `nexthop del id ${idOf(1)}`, // the nexthop gone, and its route with it (no route event)
      `route replace 10.100.2.0/24 via 10.100.2.0 dev vx4 onlink`, // a plain route where one naming the nexthop belongs
      `nexthop replace id ${idOf(3)} via 10.100.33.0 dev vx4 onlink`, // the nexthop leads elsewhere
      `nexthop add id ${nexthopIdFor(Ip.parse('10.120.0.0'))} via 10.120.0.0 dev vx4 onlink`, // a gone peer's nexthop
      `route add 10.120.0.0/24 nhid ${nexthopIdFor(Ip.parse('10.120.0.0'))}`, // and its route
    ]);
    assert.equal((await routes()).some((x) => x.dst === '10.100.1.0/24'), false, 'deleting a nexthop took its route along');
    const p = plans();
    assert.deepEqual(p.full, [
      `ip route del 10.120.0.0/24 nhid ${nexthopIdFor(Ip.parse('10.120.0.0'))}`,
      `ip nexthop add id ${idOf(1)} via 10.100.1.0 dev vx4 onlink`,
      `ip nexthop replace id ${idOf(3)} via 10.100.3.0 dev vx4 onlink`,
      `ip route replace 10.100.1.0/24 nhid ${idOf(1)}`,
      `ip route replace 10.100.2.0/24 nhid ${idOf(2)}`,
      `ip nexthop del id ${nexthopIdFor(Ip.parse('10.120.0.0'))}`,
    ]);
    assert.deepEqual(p.quick, p.full, 'the same operations in the same order');
    const k = readKernelDataplane(s, devices, false, desired);
    assert.deepEqual(applyDataplaneOps(s, planDataplane(desired, ourEntries(k, devices, config, own), k.held).ops, index).map((f) => f.message), []);
    const after = plans();
    assert.deepEqual(after.quick, []);
    assert.deepEqual(after.full, []);
    assert.equal(after.held, PEERS * 4);
    assert.equal((await nexthopIds()).length, PEERS, 'the gone peer\'s nexthop is gone');
  });

  it('with nexthop_compat_mode=0 (routes dumped without gateway and device) everything is still held, and a gone peer\'s route still found', async () => {
    await runIn(ns, 'sysctl', ['-qw', 'net.ipv4.nexthop_compat_mode=0']);
    try {
      const p = plans();
      assert.deepEqual(p.quick, []);
      assert.deepEqual(p.full, []);
      assert.equal(p.held, PEERS * 4);
      const gone = nexthopIdFor(Ip.parse('10.121.0.0'));
      await ipBatch(ns, [`nexthop add id ${gone} via 10.121.0.0 dev vx4 onlink`, `route add 10.121.0.0/24 nhid ${gone}`]);
      const q = plans();
      assert.deepEqual(q.full, [`ip route del 10.121.0.0/24 nhid ${gone}`, `ip nexthop del id ${gone}`]);
      assert.deepEqual(q.quick, q.full);
      const k = readKernelDataplane(s, devices, false, desired);
      assert.deepEqual(applyDataplaneOps(s, planDataplane(desired, ourEntries(k, devices, config, own), k.held).ops, index), []);
      assert.deepEqual(plans().full, []);
    } finally {
      await runIn(ns, 'sysctl', ['-qw', 'net.ipv4.nexthop_compat_mode=1']);
    }
  });

  it('never takes over an id held by someone else\'s nexthop: the add fails and the route naming it is not written', async () => {
    const extra = subnet(PEERS + 1);
    const id = nexthopIdFor(extra.first);
    await ipBatch(ns, [`nexthop add id ${id} via 198.18.0.77 dev ul0`]);
    const mac = Mac.parse('0e:00:00:05:00:01');
    const one: DataplaneEntries = {
      nexthops: [{ id, via: extra.first, dev: 'vx4', onlink: true }], routes: [{ dst: extra, via: extra.first, dev: 'vx4', onlink: true, nhid: id }],
      neighs: [{ dst: extra.first, lladdr: mac, dev: 'vx4' }], fdb: [{ mac, dst: Ip.parse('198.19.99.1'), dev: 'vx4' }],
    };
    const k = readKernelDataplane(s, devices, false);
    const failed = applyDataplaneOps(s, planDataplane(one, { ...ourEntries(k, devices, config, own), routes: [], neighs: [], fdb: [] }).ops.filter((o) => o.op !== 'del'), index);
    assert.deepEqual(failed.map((f) => [f.code, f.op]), [
      ['EEXIST', `ip nexthop add id ${id} via ${extra.first} dev vx4 onlink`],
      ['ENOENT', `ip route replace ${extra} nhid ${id}`],
    ]);
    const foreign = JSON.parse(await runIn(ns, 'ip', ['-json', 'nexthop', 'show', 'id', String(id)])) as { dev: string; gateway: string }[];
    assert.deepEqual(foreign.map((h) => [h.dev, h.gateway]), [['ul0', '198.18.0.77']], 'the other nexthop is as it was');
    assert.equal((await routes()).some((x) => x.dst === extra.toString()), false);
    await ipBatch(ns, [`nexthop del id ${id}`]);
  });

  it('with the own-writes filter, nexthop writes are dropped in the kernel and a deletion passes', async () => {
    const events: KernelEvent[] = [];
    const subscription = subscribeKernel(ns, [C.RTNLGRP_NEXTHOP, C.RTNLGRP_IPV4_ROUTE], (e) => events.push(...e), () => {}, dropOwnWritesFilter());
    try {
      const extra = subnet(PEERS + 2);
      const id = nexthopIdFor(extra.first);
      const one: DataplaneEntries = { nexthops: [{ id, via: extra.first, dev: 'vx4', onlink: true }], routes: [], neighs: [], fdb: [] };
      assert.deepEqual(applyDataplaneOps(s, planDataplane(one, { routes: [], neighs: [], fdb: [], nexthops: [] }).ops, index), []);
      await runIn(ns, 'ip', ['nexthop', 'del', 'id', String(id)]);
      await waitFor('the deletion', () => events.some((e) => e.kind === 'nexthop' && e.deleted), 10000, 10);
      const nh = events.filter((e): e is Extract<KernelEvent, { kind: 'nexthop' }> => e.kind === 'nexthop');
      assert.deepEqual(nh.map((e) => [e.nexthop.id, e.deleted, e.nexthop.oif === index('vx4')]), [[id, true, true]], 'only the deletion, naming our device');
    } finally {
      subscription.stop();
    }
  });
});
