// The daemon's netlink requests against the real kernel, in a namespace this test creates:
// permanent neighbours, VXLAN FDB entries and onlink routes (IPv4 and IPv6) written as one
// batch and read back with `ip`/`bridge -json` (independent readers), per-request errors with
// their errno, the dumps reconcile reads, and kernel events delivered to JS.
import assert from 'node:assert/strict';
import { ipBatch, ipJson, listFdb, listNeighbours } from '../../lib/kernel/ip.js';
import { runIn } from '../../lib/kernel/ns.js';
import { readKernelDataplane } from '../../lib/kernel/dataplane.js';
import * as C from '../../lib/kernel/netlink/constants.js';
import { ENOENT } from '../../lib/kernel/netlink/errors.js';
import { dropOwnWritesFilter, KernelEvent, subscribeKernel } from '../../lib/kernel/netlink/events.js';
import { getLinkOn } from '../../lib/kernel/netlink/query.js';
import { delFdb, delNeigh, delRoute, replaceNeigh, replaceRoute, setFdb } from '../../lib/kernel/netlink/requests.js';
import { NetlinkSocket } from '../../lib/kernel/netlink/socket.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';

const mac = (i: number) => `0e:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const sub = (i: number) => `10.${100 + ((i >> 8) & 255)}.${i & 255}`;

describe('netlink dataplane requests against the kernel', function () {
  const world = new World('nd');
  let ns: string;
  let s: NetlinkSocket;
  let vx: number;
  after(async () => {
    s?.close();
    await world.cleanup();
  });

  before(async () => {
    ns = netnsPath(await world.addNetns('node'));
    await ipBatch(ns, [
      'link add ul0 type veth peer name ul1', 'addr add 198.18.0.1/24 dev ul0', 'link set ul0 up', 'link set ul1 up',
      'link add vx1 type vxlan id 1 dev ul0 local 198.18.0.1 dstport 8472 nolearning', 'link set vx1 up',
    ]);
    s = NetlinkSocket.open(ns);
    vx = getLinkOn(s, 'vx1')!.ifindex;
  });

  it('writes 3000 peers\' neighbours, FDB entries and onlink routes in one batch, as ip and bridge read them back', async () => {
    const reqs = [];
    for (let i = 0; i < 3000; i++) {
      reqs.push(replaceNeigh({ index: vx, dev: 'vx1', dst: `${sub(i)}.0`, lladdr: mac(i) }));
      reqs.push(setFdb({ index: vx, dev: 'vx1', mac: mac(i), dst: `198.19.${i >> 8}.${i & 255}` }));
      reqs.push(replaceRoute({ dst: `${sub(i)}.0/24`, gw: `${sub(i)}.0`, oif: vx, dev: 'vx1', onlink: true }));
    }
    const outcomes = s.batch(reqs);
    assert.equal(outcomes.length, 9000);
    assert.deepEqual(outcomes.filter((o) => o.error).map((o) => o.error!.message), []);
    const neighs = await listNeighbours(ns, 'vx1');
    assert.equal(neighs.length, 3000);
    const n7 = neighs.find((n) => n.dst === `${sub(7)}.0`)!;
    assert.equal(n7.lladdr, mac(7));
    assert.deepEqual(n7.state, ['PERMANENT']);
    const fdb = await listFdb(ns, 'vx1');
    const f7 = fdb.find((f) => f.mac === mac(7))!;
    assert.equal(f7.dst, '198.19.0.7');
    assert.equal(f7.state, 'permanent');
    assert.ok(f7.flags?.includes('self') || !f7.master, 'a self entry of the vxlan device');
    const routes = await ipJson<{ dst: string; gateway?: string; flags: string[] }>(ns, ['route', 'show', 'dev', 'vx1']);
    assert.equal(routes.length, 3000);
    const r7 = routes.find((r) => r.dst === `${sub(7)}.0/24`)!;
    assert.equal(r7.gateway, `${sub(7)}.0`);
    assert.ok(r7.flags.includes('onlink'));
  });

  it('reads the same entries back through the dumps reconcile uses', () => {
    const k = readKernelDataplane(s, ['vx1'], true);
    assert.equal(k.neighs.filter((n) => n.dst?.startsWith('10.')).length, 3000);
    assert.ok(k.neighs.every((n) => n.dev === 'vx1' && n.family !== C.AF_BRIDGE));
    const n7 = k.neighs.find((n) => n.dst === `${sub(7)}.0`)!;
    assert.equal(n7.lladdr, mac(7));
    assert.ok(n7.state & C.NUD_PERMANENT);
    const f7 = k.fdb.find((f) => f.lladdr === mac(7))!;
    assert.equal(f7.dst, '198.19.0.7');
    assert.ok(f7.flags & C.NTF_SELF);
    const r7 = k.routes.find((r) => r.dst === `${sub(7)}.0/24`)!;
    assert.equal(r7.dev, 'vx1');
    assert.equal(r7.gateway, `${sub(7)}.0`);
    assert.deepEqual(r7.flags, ['onlink']);
  });

  it('replaces in place and deletes exactly one peer\'s entries', async () => {
    const out = s.batch([
      delRoute({ dst: `${sub(1)}.0/24`, gw: `${sub(1)}.0`, oif: vx, dev: 'vx1' }),
      delNeigh({ index: vx, dev: 'vx1', dst: `${sub(1)}.0` }),
      delFdb({ index: vx, dev: 'vx1', mac: mac(1), dst: '198.19.0.1' }),
      replaceNeigh({ index: vx, dev: 'vx1', dst: `${sub(2)}.0`, lladdr: '0e:00:00:00:ff:ff' }),
      setFdb({ index: vx, dev: 'vx1', mac: mac(2), dst: '198.19.9.9' }, 'replace'),
    ]);
    assert.deepEqual(out.map((o) => o.error?.code), [undefined, undefined, undefined, undefined, undefined]);
    const neighs = await listNeighbours(ns, 'vx1');
    assert.equal(neighs.find((n) => n.dst === `${sub(1)}.0`), undefined);
    assert.equal(neighs.find((n) => n.dst === `${sub(2)}.0`)!.lladdr, '0e:00:00:00:ff:ff');
    const fdb = await listFdb(ns, 'vx1');
    assert.equal(fdb.find((f) => f.mac === mac(1)), undefined);
    assert.deepEqual(fdb.filter((f) => f.mac === mac(2)).map((f) => f.dst), ['198.19.9.9']);
    const routes = await ipJson<{ dst: string }>(ns, ['route', 'show', 'dev', 'vx1']);
    assert.equal(routes.find((r) => r.dst === `${sub(1)}.0/24`), undefined);
  });

  it('IPv6: permanent neighbours and onlink routes via a v6 next hop', async () => {
    const out = s.batch([
      replaceNeigh({ index: vx, dev: 'vx1', dst: 'fd00:10:2::', lladdr: '0e:00:00:00:66:01' }),
      replaceRoute({ dst: 'fd00:10:2::/64', gw: 'fd00:10:2::', oif: vx, dev: 'vx1', onlink: true }),
    ]);
    assert.deepEqual(out.map((o) => o.error?.message), [undefined, undefined]);
    const n = (await ipJson<{ dst: string; lladdr: string; state: string[] }>(ns, ['-6', 'neigh', 'show', 'dev', 'vx1'])).find((x) => x.dst === 'fd00:10:2::')!;
    assert.equal(n.lladdr, '0e:00:00:00:66:01');
    assert.deepEqual(n.state, ['PERMANENT']);
    const r = (await ipJson<{ dst: string; gateway: string; flags: string[] }>(ns, ['-6', 'route', 'show', 'dev', 'vx1'])).find((x) => x.dst === 'fd00:10:2::/64')!;
    assert.equal(r.gateway, 'fd00:10:2::');
    assert.ok(r.flags.includes('onlink'));
    const k = readKernelDataplane(s, ['vx1'], true);
    assert.equal(k.routes.find((x) => x.dst === 'fd00:10:2::/64')?.gateway, 'fd00:10:2::');
    assert.equal(k.neighs.find((x) => x.dst === 'fd00:10:2::')?.lladdr, '0e:00:00:00:66:01');
    s.batch([delRoute({ dst: 'fd00:10:2::/64', gw: 'fd00:10:2::', oif: vx, dev: 'vx1' }), delNeigh({ index: vx, dev: 'vx1', dst: 'fd00:10:2::' })])
      .forEach((o) => assert.equal(o.error, undefined));
    assert.equal((await ipJson(ns, ['-6', 'route', 'show', 'dev', 'vx1'])).filter((x) => (x as { dst: string }).dst === 'fd00:10:2::/64').length, 0);
  });

  it('reports each failure of a batch with its errno at its own index, and runs the rest', async () => {
    const out = s.batch([
      replaceNeigh({ index: vx, dev: 'vx1', dst: '10.99.0.1', lladdr: '0e:00:00:00:99:01' }),
      delNeigh({ index: vx, dev: 'vx1', dst: '10.99.9.9' }), // not there
      replaceRoute({ dst: '10.99.1.0/24', gw: '10.99.1.0', oif: 999999, dev: 'nodev', onlink: true }), // no such device
      replaceNeigh({ index: vx, dev: 'vx1', dst: '10.99.0.2', lladdr: '0e:00:00:00:99:02' }),
    ]);
    assert.equal(out[0].error, undefined);
    assert.equal(out[1].error?.errno, ENOENT);
    assert.equal(out[1].error?.index, 1);
    assert.match(out[1].error!.message, /^neigh del 10\.99\.9\.9 dev vx1.*ENOENT/);
    assert.equal(out[2].error?.code, 'ENODEV');
    assert.equal(out[3].error, undefined);
    const neighs = await listNeighbours(ns, 'vx1');
    assert.ok(neighs.some((n) => n.dst === '10.99.0.2'), 'the request after the failures ran');
  });

  it('delivers kernel events to JS: a deleted neighbour, a deleted route, a link going down', async () => {
    const events: KernelEvent[] = [];
    const lost: number[] = [];
    const subscription = subscribeKernel(ns, [C.RTNLGRP_LINK, C.RTNLGRP_NEIGH, C.RTNLGRP_IPV4_ROUTE], (e) => events.push(...e), (e) => lost.push(e));
    try {
      await runIn(ns, 'ip', ['neigh', 'del', `${sub(3)}.0`, 'dev', 'vx1']);
      await runIn(ns, 'ip', ['route', 'del', `${sub(3)}.0/24`, 'dev', 'vx1']);
      await runIn(ns, 'ip', ['link', 'set', 'ul1', 'down']);
      await waitFor('three events', () => events.some((e) => e.kind === 'link' && e.link.ifname === 'ul1' && !e.link.flags.includes('UP')), 10000, 10);
      const n = events.find((e) => e.kind === 'neigh' && e.deleted);
      assert.ok(n && n.kind === 'neigh');
      assert.equal(n.neigh.dst, `${sub(3)}.0`);
      assert.equal(n.neigh.ifindex, vx);
      const r = events.find((e) => e.kind === 'route' && e.deleted);
      assert.ok(r && r.kind === 'route');
      assert.equal(r.route.dst, `${sub(3)}.0/24`);
      assert.equal(r.route.oif, vx);
      assert.deepEqual(lost, []);
    } finally {
      subscription.stop();
    }
  });

  it('with the own-writes filter, the kernel drops new routes, other tables and permanent entries; deletions and non-permanent neighbours pass', async () => {
    const events: KernelEvent[] = [];
    const subscription = subscribeKernel(ns, [C.RTNLGRP_NEIGH, C.RTNLGRP_IPV4_ROUTE], (e) => events.push(...e), () => {}, dropOwnWritesFilter());
    try {
      s.batch([
        replaceRoute({ dst: '10.98.0.0/24', gw: '10.98.0.0', oif: vx, dev: 'vx1', onlink: true }),
        replaceNeigh({ index: vx, dev: 'vx1', dst: '10.98.0.0', lladdr: '0e:00:00:00:98:00' }),
        setFdb({ index: vx, dev: 'vx1', mac: '0e:00:00:00:98:00', dst: '198.19.98.0' }),
      ]).forEach((o) => assert.equal(o.error, undefined));
      await runIn(ns, 'ip', ['neigh', 'replace', '10.98.0.1', 'lladdr', '0e:00:00:00:98:01', 'dev', 'vx1', 'nud', 'reachable']);
      await runIn(ns, 'ip', ['route', 'add', '10.97.0.0/24', 'dev', 'vx1', 'table', '97']);
      await runIn(ns, 'ip', ['route', 'del', '10.97.0.0/24', 'dev', 'vx1', 'table', '97']);
      await runIn(ns, 'ip', ['route', 'del', '10.98.0.0/24', 'dev', 'vx1']);
      await waitFor('the deletion', () => events.some((e) => e.kind === 'route' && e.deleted), 10000, 10);
      assert.deepEqual(events.filter((e) => e.kind === 'route').map((e) => e.kind === 'route' && [e.route.dst, e.deleted]), [['10.98.0.0/24', true]], 'only the main table\'s deletion');
      const neighs = events.filter((e): e is Extract<KernelEvent, { kind: 'neigh' }> => e.kind === 'neigh');
      assert.deepEqual(neighs.map((e) => [e.neigh.dst, e.deleted]), [['10.98.0.1', false]], 'only the non-permanent neighbour');
    } finally {
      subscription.stop();
    }
  });
});
