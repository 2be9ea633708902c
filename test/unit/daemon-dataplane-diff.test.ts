import assert from 'node:assert/strict';
import { DataplaneOp, opText, planDataplane as plan, planPeerChange } from '../../lib/dataplane/plan.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';
import { isPeer, samePeerSelection } from '../../lib/dataplane/peers.js';
import { vxlanAttrs } from '../helpers/lease-attrs.js';

/** The plan's operations as the `ip`/`bridge` commands that would do the same. */
function planDataplane(...args: Parameters<typeof plan>) {
  const p = plan(...args);
  const lines = (tool: string) => p.ops.map(opText).filter((l) => l.startsWith(`${tool} `)).map((l) => l.slice(tool.length + 1));
  return { ipLines: lines('ip'), bridgeLines: lines('bridge'), changes: p.changes, ops: p.ops as DataplaneOp[] };
}

const route = (dst: string, via: string, dev = 'twill.1', onlink = true) => ({ dst: Cidr.parse(dst), via: Ip.parse(via), dev, onlink });
const neigh = (dst: string, lladdr: string, permanent = true) => ({ dst: Ip.parse(dst), lladdr: Mac.parse(lladdr), dev: 'twill.1', permanent });
const fdb = (mac: string, dst: string, permanent = true) => ({ mac: Mac.parse(mac), dst: Ip.parse(dst), dev: 'twill.1', permanent });

describe('dataplane plan (typed operations)', () => {
  it('programs every entry of a new peer in one ip and one bridge script', () => {
    const p = planDataplane(
      { routes: [route('10.244.2.0/24', '10.244.2.0')], neighs: [neigh('10.244.2.0', '02:aa:00:00:00:02')], fdb: [fdb('02:aa:00:00:00:02', '198.18.0.12')], nexthops: [] },
      { routes: [], neighs: [], fdb: [], nexthops: [] },
    );
    assert.deepEqual(p.ipLines, [
      'route replace 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink',
      'neigh replace 10.244.2.0 lladdr 02:aa:00:00:00:02 dev twill.1 nud permanent',
    ]);
    assert.deepEqual(p.bridgeLines, ['fdb append 02:aa:00:00:00:02 dev twill.1 dst 198.18.0.12 self permanent']);
    assert.equal(p.changes.length, 3);
  });

  it('changes nothing when the kernel already matches', () => {
    const want = { routes: [route('10.244.2.0/24', '10.244.2.0')], neighs: [neigh('10.244.2.0', '02:aa:00:00:00:02')], fdb: [fdb('02:aa:00:00:00:02', '198.18.0.12')], nexthops: [] };
    const p = planDataplane(want, { routes: want.routes, neighs: [neigh('10.244.2.0', '02:AA:00:00:00:02')], fdb: want.fdb, nexthops: [] });
    assert.deepEqual(p, { ipLines: [], bridgeLines: [], changes: [], ops: [] });
  });

  it('fixes drifted entries and prunes stale ones, deletions first', () => {
    const p = planDataplane(
      { routes: [route('10.244.2.0/24', '10.244.2.0')], neighs: [neigh('10.244.2.0', '02:aa:00:00:00:02')], fdb: [fdb('02:aa:00:00:00:02', '198.18.0.12')], nexthops: [] },
      {
        routes: [route('10.244.2.0/24', '198.18.0.12', 'eth0', false), route('10.244.9.0/24', '10.244.9.0')],
        neighs: [neigh('10.244.2.0', '02:aa:00:00:00:02', false), neigh('10.244.9.0', '02:aa:00:00:00:09')],
        fdb: [fdb('02:aa:00:00:00:02', '198.18.0.99'), fdb('02:aa:00:00:00:09', '198.18.0.19')],
        nexthops: [],
      },
    );
    assert.deepEqual(p.ipLines, [
      'route del 10.244.9.0/24 via 10.244.9.0 dev twill.1',
      'neigh del 10.244.9.0 dev twill.1',
      'route replace 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink',
      'neigh replace 10.244.2.0 lladdr 02:aa:00:00:00:02 dev twill.1 nud permanent',
    ]);
    assert.deepEqual(p.bridgeLines, [
      'fdb del 02:aa:00:00:00:02 dev twill.1 dst 198.18.0.99 self',
      'fdb del 02:aa:00:00:00:09 dev twill.1 dst 198.18.0.19 self',
      'fdb append 02:aa:00:00:00:02 dev twill.1 dst 198.18.0.12 self permanent',
    ]);
    assert.deepEqual(p.changes.filter((c) => c.op === 'del').map((c) => c.kind).sort(), ['fdb', 'fdb', 'neigh', 'route']);
  });

  it('plans 5000 peers as 15000 operations, routes and neighbours before FDB entries', () => {
    const want = { routes: [] as ReturnType<typeof route>[], neighs: [] as ReturnType<typeof neigh>[], fdb: [] as ReturnType<typeof fdb>[], nexthops: [] };
    for (let i = 0; i < 5000; i++) {
      const s = `10.${100 + (i >> 8)}.${i & 255}`;
      const mac = `02:bb:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      want.routes.push(route(`${s}.0/24`, `${s}.0`));
      want.neighs.push(neigh(`${s}.0`, mac));
      want.fdb.push(fdb(mac, `198.19.${i >> 8}.${i & 255}`));
    }
    const p = planDataplane(want, { routes: [], neighs: [], fdb: [], nexthops: [] });
    assert.equal(p.ipLines.length, 10000);
    assert.equal(p.bridgeLines.length, 5000);
  });

  it('one peer\'s change touches only that peer\'s entries: new, changed MAC, gone', () => {
    const a = { routes: [route('10.244.2.0/24', '10.244.2.0')], neighs: [{ dst: Ip.parse('10.244.2.0'), lladdr: Mac.parse('02:aa:00:00:00:02'), dev: 'twill.1' }], fdb: [{ mac: Mac.parse('02:aa:00:00:00:02'), dst: Ip.parse('198.18.0.12'), dev: 'twill.1' }], nexthops: [] };
    assert.deepEqual(planPeerChange(undefined, a).ops.map(opText), [
      'ip route replace 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink',
      'ip neigh replace 10.244.2.0 lladdr 02:aa:00:00:00:02 dev twill.1 nud permanent',
      'bridge fdb append 02:aa:00:00:00:02 dev twill.1 dst 198.18.0.12 self permanent',
    ]);
    const b = { ...a, neighs: [{ ...a.neighs[0], lladdr: Mac.parse('02:aa:00:00:00:03') }], fdb: [{ ...a.fdb[0], mac: Mac.parse('02:aa:00:00:00:03') }] };
    assert.deepEqual(planPeerChange(a, b).ops.map(opText), [
      'bridge fdb del 02:aa:00:00:00:02 dev twill.1 dst 198.18.0.12 self',
      'ip neigh replace 10.244.2.0 lladdr 02:aa:00:00:00:03 dev twill.1 nud permanent',
      'bridge fdb append 02:aa:00:00:00:03 dev twill.1 dst 198.18.0.12 self permanent',
    ]);
    assert.deepEqual(planPeerChange(b, undefined).ops.map(opText), [
      'ip route del 10.244.2.0/24 via 10.244.2.0 dev twill.1',
      'ip neigh del 10.244.2.0 dev twill.1',
      'bridge fdb del 02:aa:00:00:00:03 dev twill.1 dst 198.18.0.12 self',
    ]);
  });

  it('nexthop objects: written before the routes naming them, deleted after; a route is right when it names the right one', () => {
    const sub = Cidr.parse('10.244.2.0/24');
    const nh = { id: 183763456, via: sub.first, dev: 'twill.1', onlink: true };
    const r = { dst: sub, via: sub.first, dev: 'twill.1', onlink: true, nhid: nh.id };
    const want = { routes: [r], neighs: [], fdb: [], nexthops: [nh] };
    assert.deepEqual(plan(want, { routes: [], neighs: [], fdb: [], nexthops: [] }).ops.map(opText), [
      'ip nexthop add id 183763456 via 10.244.2.0 dev twill.1 onlink',
      'ip route replace 10.244.2.0/24 nhid 183763456',
    ]);
    // the kernel reports the object's gateway on the route: a wrong one is the object's to fix
    const elsewhere = { ...nh, via: Ip.parse('10.244.9.0') };
    assert.deepEqual(plan(want, { routes: [{ ...r, via: elsewhere.via }], neighs: [], fdb: [], nexthops: [elsewhere] }).ops.map(opText), [
      'ip nexthop replace id 183763456 via 10.244.2.0 dev twill.1 onlink',
    ]);
    assert.deepEqual(plan(want, { routes: [{ dst: sub, via: sub.first, dev: 'twill.1', onlink: true }], neighs: [], fdb: [], nexthops: [nh] }).ops.map(opText), [
      'ip route replace 10.244.2.0/24 nhid 183763456',
    ], 'a plain route where one naming the object belongs (an older twill\'s)');
    assert.deepEqual(plan({ routes: [{ dst: sub, via: sub.first, dev: 'twill.1', onlink: true }], neighs: [], fdb: [], nexthops: [] },
      { routes: [r], neighs: [], fdb: [], nexthops: [nh] }).ops.map(opText), [
      'ip route replace 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink',
      'ip nexthop del id 183763456',
    ], 'back to a plain route: the route is rewritten before its object goes (deleting it would take the route along)');
    assert.deepEqual(planPeerChange(want, undefined).ops.map(opText), ['ip route del 10.244.2.0/24 nhid 183763456', 'ip nexthop del id 183763456']);
    assert.deepEqual(plan(want, { routes: [r], neighs: [], fdb: [], nexthops: [nh] }).ops, []);
  });
});

describe('peer selection', () => {
  const lease = (key: string, subnet: string, ip: string, more: { subnet6?: string; ip6?: string; rev?: string } = {}) => ({
    key, subnet: Cidr.parse(subnet), ...(more.subnet6 ? { subnet6: Cidr.parse(more.subnet6) } : {}), modRevision: more.rev,
    attrs: { ...vxlanAttrs(ip, '02:aa:bb:cc:dd:ee'), ...(more.ip6 ? { PublicIPv6: Ip.parse(more.ip6) } : {}) },
  });
  const own = lease('a', '10.244.1.0/24', '198.18.0.1', { subnet6: 'fd00:1::/64', ip6: 'fd99::1', rev: '5' });
  const others = [
    lease('a', '10.244.9.0/24', '198.18.0.9'), lease('b', '10.244.1.0/24', '198.18.0.2'), lease('c', '10.244.3.0/24', '198.18.0.1'),
    lease('d', '10.244.4.0/24', '198.18.0.4', { subnet6: 'fd00:1::/64' }), lease('e', '10.244.5.0/24', '198.18.0.5'),
    lease('f', '10.244.6.0/24', '198.18.0.6', { subnet6: 'fd00:6::/64', ip6: 'fd99::1' }),
  ];

  it('a renewed own lease selects the same peers; a changed key, subnet or address may not (samePeerSelection)', () => {
    const renewed = { ...own, modRevision: '9', expiresAt: 1 };
    assert.ok(samePeerSelection(own, renewed));
    assert.deepEqual(others.map((l) => isPeer(renewed, l)), others.map((l) => isPeer(own, l)));
    const moved = [
      { ...own, key: 'z' }, { ...own, subnet: Cidr.parse('10.244.4.0/24') }, { ...own, subnet6: Cidr.parse('fd00:6::/64') },
      { ...own, subnet6: undefined }, { ...own, attrs: { ...own.attrs, PublicIP: Ip.parse('198.18.0.5') } },
      { ...own, attrs: { ...own.attrs, PublicIPv6: undefined } },
    ];
    for (const m of moved) assert.equal(samePeerSelection(own, m), false, JSON.stringify(m));
    // and each of those changes does change some answer, so none of the fields is checked for nothing
    const lookalike = [lease('z', '10.244.8.0/24', '198.18.0.8'), ...others, lease('g', '10.244.7.0/24', '198.18.0.7', { subnet6: 'fd00:6::/64' })];
    for (const m of moved.slice(0, 5)) assert.notDeepEqual(lookalike.map((l) => isPeer(m, l)), lookalike.map((l) => isPeer(own, l)), JSON.stringify(m));
  });
});
