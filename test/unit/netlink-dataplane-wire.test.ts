// The daemon's rtnetlink messages (lib/kernel/netlink): neighbours and FDB entries in struct
// ndmsg (12 bytes) with NDA_* attributes, route replace/delete as `ip route` sends them, and
// multicast events decoded back into typed values.
import assert from 'node:assert/strict';
import { opText, planPeerChange } from '../../lib/dataplane/plan.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';
import { encodeOps } from '../../lib/kernel/dataplane.js';
import * as C from '../../lib/kernel/netlink/constants.js';
import { encodeAll } from '../../lib/kernel/netlink/socket.js';
import { decodeNeigh, decodeNexthop, decodeRoute } from '../../lib/kernel/netlink/decode.js';
import { decodeEvents } from '../../lib/kernel/netlink/events.js';
import { delFdb, delNeigh, delRoute, dumpFdb, dumpNeighs, replaceNeigh, replaceRoute, setFdb } from '../../lib/kernel/netlink/requests.js';
import { attr, attrString, attrU32, formatMac, ifinfomsg, ipBytes, message, ndmsg, parseAttrs, parseMessages, rtmsg } from '../../lib/kernel/netlink/wire.js';

const attrsAfter = (n: number, r: { header: Buffer; attrs?: Buffer[] }) => parseAttrs(Buffer.concat([r.header, ...(r.attrs ?? [])]).subarray(n));

describe('netlink neighbour, FDB and route requests', () => {
  it('lays out struct ndmsg: family, pad, ifindex, state, flags, type', () => {
    const b = ndmsg({ family: C.AF_BRIDGE, index: 513, state: C.NUD_PERMANENT, flags: C.NTF_SELF, type: 1 });
    assert.equal(b.length, 12);
    assert.deepEqual([b[0], b[1], b[2], b[3]], [C.AF_BRIDGE, 0, 0, 0]);
    assert.equal(b.readInt32LE(4), 513);
    assert.equal(b.readUInt16LE(8), C.NUD_PERMANENT);
    assert.equal(b[10], C.NTF_SELF);
    assert.equal(b[11], 1);
  });

  it('replaces a neighbour as permanent, with its family from the address', () => {
    const r = replaceNeigh({ index: 7, dev: 'twill.1', dst: '10.244.2.0', lladdr: '02:aa:bb:cc:dd:ee' });
    assert.equal(r.op, 'neigh replace 10.244.2.0 lladdr 02:aa:bb:cc:dd:ee dev twill.1 nud permanent');
    assert.equal(r.type, C.RTM_NEWNEIGH);
    assert.equal(r.flags, C.NLM_F_CREATE | C.NLM_F_REPLACE);
    assert.equal(r.header[0], C.AF_INET);
    assert.equal(r.header.readInt32LE(4), 7);
    assert.equal(r.header.readUInt16LE(8), C.NUD_PERMANENT);
    const a = attrsAfter(12, r);
    assert.deepEqual([...a.get(C.NDA_DST)!], [10, 244, 2, 0]);
    assert.equal(formatMac(a.get(C.NDA_LLADDR)!), '02:aa:bb:cc:dd:ee');
    const v6 = replaceNeigh({ index: 8, dev: 'twill6.1', dst: 'fd00::', lladdr: '02:aa:bb:cc:dd:ee' });
    assert.equal(v6.header[0], C.AF_INET6);
    assert.equal(attrsAfter(12, v6).get(C.NDA_DST)!.length, 16);
    const d = delNeigh({ index: 7, dev: 'twill.1', dst: '10.244.2.0' });
    assert.equal(d.type, C.RTM_DELNEIGH);
    assert.equal(d.flags, 0);
    assert.equal(attrsAfter(12, d).has(C.NDA_LLADDR), false);
  });

  it('appends, replaces and deletes VXLAN FDB entries: AF_BRIDGE, NTF_SELF, NDA_LLADDR + NDA_DST', () => {
    const f = { index: 7, dev: 'twill.1', mac: '02:aa:bb:cc:dd:ee', dst: '198.18.0.12' };
    const ap = setFdb(f);
    assert.equal(ap.op, 'fdb append 02:aa:bb:cc:dd:ee dev twill.1 dst 198.18.0.12 self permanent');
    assert.equal(ap.flags, C.NLM_F_CREATE | C.NLM_F_APPEND);
    assert.equal(ap.header[0], C.AF_BRIDGE);
    assert.equal(ap.header[10], C.NTF_SELF);
    assert.equal(ap.header.readUInt16LE(8), C.NUD_PERMANENT);
    assert.deepEqual([...attrsAfter(12, ap).get(C.NDA_DST)!], [198, 18, 0, 12]);
    assert.equal(setFdb(f, 'replace').flags, C.NLM_F_CREATE | C.NLM_F_REPLACE);
    const del = delFdb(f);
    assert.equal(del.type, C.RTM_DELNEIGH);
    assert.equal(del.header[10], C.NTF_SELF);
    assert.equal(formatMac(attrsAfter(12, del).get(C.NDA_LLADDR)!), '02:aa:bb:cc:dd:ee');
  });

  it('replaces routes (onlink, via, dev) and deletes them matching any protocol and scope', () => {
    const r = replaceRoute({ dst: '10.244.2.0/24', gw: '10.244.2.0', oif: 7, dev: 'twill.1', onlink: true });
    assert.equal(r.op, 'route replace 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink');
    assert.equal(r.flags, C.NLM_F_CREATE | C.NLM_F_REPLACE);
    assert.equal(r.header.readUInt32LE(8), C.RTNH_F_ONLINK);
    assert.equal(r.header[5], C.RTPROT_BOOT);
    const d = delRoute({ dst: '10.244.2.0/24', gw: '10.244.2.0', oif: 7, dev: 'twill.1', onlink: true });
    assert.equal(d.op, 'route del 10.244.2.0/24 via 10.244.2.0 dev twill.1');
    assert.equal(d.type, C.RTM_DELROUTE);
    assert.deepEqual([d.header[5], d.header[6], d.header[7]], [0, C.RT_SCOPE_NOWHERE, 0]);
    assert.equal(d.header.readUInt32LE(8), 0);
    const d6 = delRoute({ dst: 'fd00:10:2::/64', gw: 'fd00:10:2::', oif: 8, dev: 'twill6.1' });
    assert.equal(d6.header[0], C.AF_INET6);
    assert.equal(d6.header[6], C.RT_SCOPE_UNIVERSE);
    assert.equal(attrsAfter(12, d6).get(C.RTA_OIF)!.readUInt32LE(0), 8);
  });

  it('dumps neighbours of every family, and FDB entries as AF_BRIDGE', () => {
    assert.equal(dumpNeighs().flags, C.NLM_F_DUMP);
    assert.equal(dumpNeighs().header[0], C.AF_UNSPEC);
    assert.equal(dumpFdb().header[0], C.AF_BRIDGE);
  });
});

describe('netlink neighbour replies and events', () => {
  const neighMsg = (type: number, family: number, index: number, state: number, flags: number, dst: string, mac: string) =>
    message(type, 0, 0, ndmsg({ family, index, state, flags }), [attr(C.NDA_DST, ipBytes(dst)), attr(C.NDA_LLADDR, Buffer.from(mac.split(':').map((x) => parseInt(x, 16)))), attrU32(C.NDA_MASTER, 3)]);

  it('decodes neighbours and FDB entries from the same ndmsg', () => {
    const [m] = parseMessages(neighMsg(C.RTM_NEWNEIGH, C.AF_BRIDGE, 7, C.NUD_PERMANENT, C.NTF_SELF, '198.18.0.12', '02:aa:bb:cc:dd:ee'));
    assert.deepEqual(decodeNeigh(m), { family: C.AF_BRIDGE, ifindex: 7, state: C.NUD_PERMANENT, flags: C.NTF_SELF, dst: '198.18.0.12', lladdr: '02:aa:bb:cc:dd:ee', master: 3 });
  });

  it('turns a burst of multicast messages into typed events, skipping other types', () => {
    const link = message(C.RTM_DELLINK, 0, 0, ifinfomsg({ index: 7, flags: 0 }), [attrString(C.IFLA_IFNAME, 'twill.1'), attrU32(C.IFLA_MTU, 1450)]);
    const route = message(C.RTM_DELROUTE, 0, 0, rtmsg({ family: C.AF_INET, dstLen: 24, table: C.RT_TABLE_MAIN, protocol: C.RTPROT_BOOT, type: C.RTN_UNICAST, flags: C.RTNH_F_ONLINK }),
      [attr(C.RTA_DST, ipBytes('10.244.2.0')), attr(C.RTA_GATEWAY, ipBytes('10.244.2.0')), attrU32(C.RTA_OIF, 7)]);
    const neigh = neighMsg(C.RTM_NEWNEIGH, C.AF_INET, 7, C.NUD_REACHABLE, 0, '10.244.2.0', '02:aa:bb:cc:dd:ee');
    const other = message(C.NLMSG_DONE, 0, 0, Buffer.alloc(4));
    const evs = decodeEvents(Buffer.concat([link, route, neigh, other]));
    assert.deepEqual(evs.map((e) => `${e.kind}:${e.deleted}`), ['link:true', 'route:true', 'neigh:false']);
    assert.ok(evs[0].kind === 'link' && evs[0].link.ifname === 'twill.1' && evs[0].link.mtu === 1450);
    assert.ok(evs[1].kind === 'route' && evs[1].route.dst === '10.244.2.0/24' && evs[1].route.oif === 7 && evs[1].route.flags[0] === 'onlink');
    assert.ok(evs[2].kind === 'neigh' && evs[2].neigh.state === C.NUD_REACHABLE);
  });
});

describe('the daemon\'s typed operations as netlink requests', () => {
  const entries = (v6: boolean) => {
    const sub = Cidr.parse(v6 ? 'fd00:10:2::/64' : '10.244.2.0/24');
    const mac = Mac.parse('02:aa:bb:cc:dd:ee');
    return { routes: [{ dst: sub, via: sub.first, dev: 'twill.1', onlink: true }], neighs: [{ dst: sub.first, lladdr: mac, dev: 'twill.1' }],
      fdb: [{ mac, dst: Ip.parse(v6 ? 'fd00::12' : '198.18.0.12'), dev: 'twill.1' }], nexthops: [] };
  };
  const sevens = (ops: readonly unknown[]) => ops.map(() => 7);

  for (const v6 of [false, true]) {
    it(`encodes each operation as the request builders do (IPv${v6 ? 6 : 4}), spelling it only for messages`, () => {
      const add = planPeerChange(undefined, entries(v6)).ops;
      const del = planPeerChange(entries(v6), undefined).ops;
      const sub = v6 ? 'fd00:10:2::/64' : '10.244.2.0/24';
      const gw = v6 ? 'fd00:10:2::' : '10.244.2.0';
      const dst = v6 ? 'fd00::12' : '198.18.0.12';
      const f = { index: 7, dev: 'twill.1', mac: '02:aa:bb:cc:dd:ee', dst };
      const want = [
        replaceRoute({ dst: sub, gw, oif: 7, dev: 'twill.1', onlink: true }), replaceNeigh({ index: 7, dev: 'twill.1', dst: gw, lladdr: '02:aa:bb:cc:dd:ee' }), setFdb(f),
        delRoute({ dst: sub, gw, oif: 7, dev: 'twill.1' }), delNeigh({ index: 7, dev: 'twill.1', dst: gw }), delFdb(f),
      ];
      const ops = [...add, ...del];
      // message by message, then the whole batch: framing, padding and sequence numbers too
      const got = parseMessages(encodeOps(ops, sevens(ops), 1));
      assert.deepEqual(got, parseMessages(encodeAll(want, 1)));
      assert.deepEqual(encodeOps(ops, sevens(ops), 1), encodeAll(want, 1));
      assert.deepEqual(ops.map((o) => opText(o).replace(/^(ip|bridge) /, '')), want.map((r) => r.op));
    });
  }

  it('frames a batch as consecutive messages with consecutive sequence numbers', () => {
    const ops = planPeerChange(undefined, entries(false)).ops;
    const msgs = parseMessages(encodeOps(ops, sevens(ops), 41));
    assert.deepEqual(msgs.map((m) => m.seq), [41, 42, 43]);
    assert.deepEqual(msgs.map((m) => m.type), [C.RTM_NEWROUTE, C.RTM_NEWNEIGH, C.RTM_NEWNEIGH]);
    assert.ok(msgs.every((m) => (m.flags & C.NLM_F_REQUEST) && !(m.flags & C.NLM_F_ACK)), 'the addon acks only the last of each send');
    const reqs = [replaceRoute({ dst: '10.244.2.0/24', gw: '10.244.2.0', oif: 7, dev: 'twill.1', onlink: true })];
    assert.deepEqual(encodeAll(reqs, 41), Buffer.concat(reqs.map((r, i) => message(r.type, C.NLM_F_REQUEST | r.flags, 41 + i, r.header, r.attrs))));
  });

  it('writes a tunnel route over a nexthop object: the object with id, device, gateway and onlink; the route naming only it', () => {
    const sub = Cidr.parse('10.244.2.0/24');
    const id = 0x0af40200;
    const e = { routes: [{ dst: sub, via: sub.first, dev: 'twill.1', onlink: true, nhid: id }], neighs: [], fdb: [], nexthops: [{ id, via: sub.first, dev: 'twill.1', onlink: true }] };
    const encode = (ops: Parameters<typeof encodeOps>[0]) => parseMessages(encodeOps(ops, sevens(ops), 1));
    const [nh, route] = encode(planPeerChange(undefined, e).ops);
    assert.equal(nh.type, C.RTM_NEWNEXTHOP);
    assert.equal(nh.flags, C.NLM_F_REQUEST | C.NLM_F_CREATE | C.NLM_F_EXCL, 'an add, never a takeover of an id someone else holds');
    // the kernel answers a dump with the same layout: read our request back as if it were one
    const asDump = (r: typeof nh) => ({ ...r, type: r.type === C.RTM_NEWNEXTHOP || r.type === C.RTM_DELNEXTHOP ? C.RTM_NEWNEXTHOP : C.RTM_NEWROUTE });
    assert.deepEqual(decodeNexthop(asDump(nh)), { id, family: C.AF_INET, flags: C.RTNH_F_ONLINK, protocol: C.RTPROT_BOOT, oif: 7, gateway: '10.244.2.0' });
    const r = decodeRoute(asDump(route));
    assert.deepEqual({ dst: r.dst, nhid: r.nhid, gateway: r.gateway, oif: r.oif, flags: r.flags }, { dst: '10.244.2.0/24', nhid: id, gateway: undefined, oif: undefined, flags: [] });
    const [routeDel, nhDel] = encode(planPeerChange(e, undefined).ops);
    assert.equal(routeDel.type, C.RTM_DELROUTE);
    assert.equal(decodeRoute(asDump(routeDel)).nhid, id, 'a delete names the object: one naming the gateway matches no such route');
    assert.equal(decodeRoute(asDump(routeDel)).gateway, undefined);
    assert.equal(nhDel.type, C.RTM_DELNEXTHOP);
    assert.deepEqual(decodeNexthop(asDump(nhDel)).id, id);
    assert.equal(nhDel.payload.length, 8 + 8, 'struct nhmsg and NHA_ID');
  });
});
