// The rtnetlink encoder/decoder (lib/kernel/netlink): byte layouts checked against the
// kernel's structs (nlmsghdr 16, ifinfomsg 16, ifaddrmsg 8, rtmsg 12, 4-byte aligned
// attributes), requests as the kernel must see them, replies and errors decoded.
import assert from 'node:assert/strict';
import * as C from '../../lib/kernel/netlink/constants.js';
import { decodeAddr, decodeLink, decodeRoute, nameMasters } from '../../lib/kernel/netlink/decode.js';
import { NetlinkError } from '../../lib/kernel/netlink/errors.js';
import { addAddr, addBridge, addRoute, addVeth, delLink, setAddrGenModeNone, setHairpin, setLink } from '../../lib/kernel/netlink/requests.js';
import { extAckMessage } from '../../lib/kernel/netlink/socket.js';
import { attr, attrNested, attrString, attrU32, formatIp, ifaddrmsg, ifinfomsg, ipBytes, ipv6Bytes, message, parseAttrs, parseMessages, readString, rtmsg } from '../../lib/kernel/netlink/wire.js';

/** Attributes of a request after its fixed header. */
function attrsOf(headerLen: number, r: { header: Buffer; attrs?: Buffer[] }): Map<number, Buffer> {
  return parseAttrs(Buffer.concat([r.header, ...(r.attrs ?? [])]).subarray(headerLen));
}

describe('netlink wire format', () => {
  it('pads attributes to 4 bytes but records the unpadded length', () => {
    const a = attrString(C.IFLA_IFNAME, 'eth0'); // 4 + "eth0\0" = 9 -> 12
    assert.equal(a.length, 12);
    assert.equal(a.readUInt16LE(0), 9);
    assert.equal(a.readUInt16LE(2), C.IFLA_IFNAME);
    assert.equal(a.subarray(4, 9).toString('latin1'), 'eth0\0');
    assert.deepEqual([...a.subarray(9)], [0, 0, 0]);
    const u = attrU32(C.IFLA_MTU, 1450);
    assert.equal(u.length, 8);
    assert.equal(u.readUInt32LE(4), 1450);
  });

  it('marks nested attributes NLA_F_NESTED, and parseAttrs strips the flag', () => {
    const n = attrNested(C.IFLA_LINKINFO, [attrString(C.IFLA_INFO_KIND, 'bridge')]);
    assert.equal(n.readUInt16LE(2), C.IFLA_LINKINFO | C.NLA_F_NESTED);
    const top = parseAttrs(n);
    assert.equal(readString(parseAttrs(top.get(C.IFLA_LINKINFO)!).get(C.IFLA_INFO_KIND)), 'bridge');
  });

  it('writes nlmsghdr (length, type, flags, seq, pid 0) and splits replies back', () => {
    const m = message(C.RTM_NEWLINK, C.NLM_F_REQUEST | C.NLM_F_ACK, 0xdeadbeef, ifinfomsg({ index: 7 }), [attrString(C.IFLA_IFNAME, 'a')]);
    assert.equal(m.readUInt32LE(0), 16 + 16 + 8, 'the attribute counts with its padding');
    assert.equal(m.length % 4, 0);
    assert.equal(m.readUInt16LE(4), C.RTM_NEWLINK);
    assert.equal(m.readUInt16LE(6), C.NLM_F_REQUEST | C.NLM_F_ACK);
    assert.equal(m.readUInt32LE(8), 0xdeadbeef);
    assert.equal(m.readUInt32LE(12), 0);
    const two = parseMessages(Buffer.concat([m, message(C.NLMSG_DONE, 0, 5, Buffer.alloc(4))]));
    assert.deepEqual(two.map((x) => [x.type, x.seq]), [[C.RTM_NEWLINK, 0xdeadbeef], [C.NLMSG_DONE, 5]]);
    assert.equal(two[0].payload.readInt32LE(4), 7);
    assert.throws(() => parseMessages(m.subarray(0, 20)), /truncated message at byte 0/);
  });

  it('keeps the first of repeated attributes and stops at a malformed one', () => {
    const b = Buffer.concat([attrU32(4, 1), attrU32(4, 2), Buffer.from([0xff, 0x00, 0x05, 0x00])]);
    const a = parseAttrs(b);
    assert.equal(a.get(4)!.readUInt32LE(0), 1);
    assert.equal(a.size, 1);
  });

  it('formats IPv4 and compressed IPv6 addresses', () => {
    assert.equal(formatIp(Buffer.from([10, 244, 3, 1])), '10.244.3.1');
    assert.equal(formatIp(Buffer.from('fe800000000000000000000000000001', 'hex')), 'fe80::1');
    assert.equal(formatIp(Buffer.from('20010db8000000010000000000000000', 'hex')), '2001:db8:0:1::');
  });
});

describe('netlink requests', () => {
  it('creates a bridge exclusively, with MAC, MTU and kind', () => {
    const r = addBridge({ name: 'cni0', mac: '0a:58:0a:f4:03:01', mtu: 1450 });
    assert.equal(r.type, C.RTM_NEWLINK);
    assert.equal(r.flags, C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.equal(r.op, 'link add name cni0 address 0a:58:0a:f4:03:01 mtu 1450 type bridge');
    const a = attrsOf(16, r);
    assert.equal(readString(a.get(C.IFLA_IFNAME)), 'cni0');
    assert.equal(a.get(C.IFLA_ADDRESS)!.toString('hex'), '0a580af40301');
    assert.equal(a.get(C.IFLA_MTU)!.readUInt32LE(0), 1450);
    assert.equal(readString(parseAttrs(a.get(C.IFLA_LINKINFO)!).get(C.IFLA_INFO_KIND)), 'bridge');
    assert.throws(() => addBridge({ name: 'x', mac: '0a:58:zz:00:00:00' }), /bad MAC address/);
  });

  it('creates a veth whose peer (ifinfomsg + name, MTU, MAC, netns fd) is born in the pod namespace', () => {
    const r = addVeth({ name: 'twv0123456789ab', mtu: 1450, mac: '02:00:00:00:00:01' }, { name: 'eth0', mtu: 1450, mac: '0a:58:0a:f4:03:02', netnsFd: 23, netnsLabel: '/var/run/netns/p' });
    assert.equal(r.op, 'link add name twv0123456789ab mtu 1450 address 02:00:00:00:00:01 type veth peer name eth0 mtu 1450 address 0a:58:0a:f4:03:02 netns /var/run/netns/p');
    const info = parseAttrs(attrsOf(16, r).get(C.IFLA_LINKINFO)!);
    assert.equal(readString(info.get(C.IFLA_INFO_KIND)), 'veth');
    const peerRaw = parseAttrs(info.get(C.IFLA_INFO_DATA)!).get(C.VETH_INFO_PEER)!;
    assert.deepEqual([...peerRaw.subarray(0, 16)], new Array(16).fill(0), 'an empty ifinfomsg leads the peer');
    const peer = parseAttrs(peerRaw.subarray(16));
    assert.equal(readString(peer.get(C.IFLA_IFNAME)), 'eth0');
    assert.equal(peer.get(C.IFLA_NET_NS_FD)!.readUInt32LE(0), 23);
    assert.equal(peer.get(C.IFLA_ADDRESS)!.toString('hex'), '0a580af40302');
    assert.equal(peer.get(C.IFLA_MTU)!.readUInt32LE(0), 1450);
  });

  it('sets flags only when asked (ifi_change limits the change to IFF_UP)', () => {
    const up = setLink({ index: 5, name: 'cni0' }, { mtu: 1450, up: true });
    assert.equal(up.op, 'link set dev cni0 mtu 1450 up');
    assert.equal(up.header.readInt32LE(4), 5);
    assert.equal(up.header.readUInt32LE(8), C.IFF_UP);
    assert.equal(up.header.readUInt32LE(12), C.IFF_UP);
    assert.equal(up.attrs!.length, 1, 'by index: no name attribute');
    const master = setLink('twv1', { master: 5, masterName: 'cni0' });
    assert.equal(master.op, 'link set dev twv1 master cni0');
    assert.equal(master.header.readUInt32LE(12), 0, 'flags untouched');
    assert.equal(attrsOf(16, master).get(C.IFLA_MASTER)!.readUInt32LE(0), 5);
  });

  it('turns hairpin on through the bridge port slave data', () => {
    const r = setHairpin('twv1', true);
    assert.equal(r.op, 'link set dev twv1 type bridge_slave hairpin on');
    const slave = parseAttrs(parseAttrs(attrsOf(16, r).get(C.IFLA_LINKINFO)!).get(C.IFLA_INFO_SLAVE_DATA)!);
    assert.equal(slave.get(C.IFLA_BRPORT_MODE)!.readUInt8(0), 1);
    assert.equal(r.flags & C.NLM_F_CREATE, 0, 'changes an existing link only');
  });

  it('adds addresses exclusively or replaces them', () => {
    const add = addAddr({ index: 3, dev: 'eth0', ip: '10.244.3.2', prefix: 24 });
    assert.equal(add.op, 'addr add 10.244.3.2/24 dev eth0');
    assert.equal(add.flags, C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.deepEqual([...add.header], [C.AF_INET, 24, 0, 0, 3, 0, 0, 0]);
    const a = attrsOf(8, add);
    assert.equal(formatIp(a.get(C.IFA_LOCAL)!), '10.244.3.2');
    assert.equal(formatIp(a.get(C.IFA_ADDRESS)!), '10.244.3.2');
    assert.equal(addAddr({ index: 3, dev: 'cni0', ip: '10.244.3.1', prefix: 24, replace: true }).flags, C.NLM_F_CREATE | C.NLM_F_REPLACE);
    assert.throws(() => addAddr({ index: 3, dev: 'x', ip: '10.244.3.256', prefix: 24 }), /bad IPv4 address/);
  });

  it('adds routes as `ip route add` does (main table, proto boot, scope by gateway)', () => {
    const def = addRoute({ dst: '0.0.0.0/0', gw: '10.244.3.1', oif: 3, dev: 'eth0' });
    assert.equal(def.op, 'route add default via 10.244.3.1 dev eth0');
    assert.deepEqual([...def.header.subarray(0, 8)], [C.AF_INET, 0, 0, 0, C.RT_TABLE_MAIN, C.RTPROT_BOOT, C.RT_SCOPE_UNIVERSE, C.RTN_UNICAST]);
    const a = attrsOf(12, def);
    assert.equal(a.has(C.RTA_DST), false);
    assert.equal(formatIp(a.get(C.RTA_GATEWAY)!), '10.244.3.1');
    assert.equal(a.get(C.RTA_OIF)!.readUInt32LE(0), 3);
    const net = addRoute({ dst: '10.244.0.0/16', gw: '10.244.3.1', oif: 3, dev: 'eth0' });
    assert.equal(net.header.readUInt8(1), 16);
    assert.equal(formatIp(attrsOf(12, net).get(C.RTA_DST)!), '10.244.0.0');
    const link = addRoute({ dst: '192.0.2.7', oif: 3, dev: 'eth0', onlink: true });
    assert.equal(link.header.readUInt8(1), 32);
    assert.equal(link.header.readUInt8(6), C.RT_SCOPE_LINK);
    assert.equal(link.header.readUInt32LE(8), C.RTNH_F_ONLINK);
    assert.throws(() => addRoute({ dst: '10.0.0.0/40', oif: 1, dev: 'x' }), /bad route destination/);
  });

  it('adds IPv6 addresses with AF_INET6, 16-byte addresses and nodad in the header and IFA_FLAGS', () => {
    const add = addAddr({ index: 3, dev: 'eth0', ip: 'fd00:10:244:3::2', prefix: 64, nodad: true });
    assert.equal(add.op, 'addr add fd00:10:244:3::2/64 dev eth0 nodad');
    assert.equal(add.flags, C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.deepEqual([...add.header], [C.AF_INET6, 64, C.IFA_F_NODAD, 0, 3, 0, 0, 0]);
    const a = attrsOf(8, add);
    assert.equal(a.get(C.IFA_LOCAL)!.length, 16);
    assert.equal(formatIp(a.get(C.IFA_LOCAL)!), 'fd00:10:244:3::2');
    assert.equal(formatIp(a.get(C.IFA_ADDRESS)!), 'fd00:10:244:3::2');
    assert.equal(a.get(C.IFA_FLAGS)!.readUInt32LE(0), C.IFA_F_NODAD);
    const plain = addAddr({ index: 3, dev: 'eth0', ip: 'fd00::2', prefix: 64 });
    assert.equal(plain.header.readUInt8(2), 0, 'DAD unless asked');
    assert.equal(attrsOf(8, plain).has(C.IFA_FLAGS), false);
    assert.throws(() => addAddr({ index: 3, dev: 'x', ip: 'fd00::2', prefix: 129 }), /bad prefix length \/129/);
    assert.throws(() => addAddr({ index: 3, dev: 'x', ip: '10.0.0.1', prefix: 33 }), /bad prefix length \/33/);
    assert.throws(() => addAddr({ index: 3, dev: 'x', ip: 'fd00::g', prefix: 64 }), /bad IPv6 address/);
  });

  it('encodes IPv6 addresses in network order, whatever their spelling', () => {
    assert.equal(ipv6Bytes('fd00:10:244:3::2').toString('hex'), 'fd000010024400030000000000000002');
    assert.equal(ipv6Bytes('FD00:0010:0244:0003:0:0:0:2').toString('hex'), 'fd000010024400030000000000000002');
    assert.equal(ipBytes('::').toString('hex'), '0'.repeat(32));
    assert.deepEqual([...ipBytes('10.244.3.1')], [10, 244, 3, 1]);
    assert.throws(() => ipv6Bytes('10.244.3.1'), /bad IPv6 address/);
  });

  it('adds IPv6 routes: ::/0 is the default, a bare address a /128, the gateway of the same family', () => {
    const def = addRoute({ dst: '::/0', gw: 'fd00:10:244:3::1', oif: 3, dev: 'eth0' });
    assert.equal(def.op, 'route add default via fd00:10:244:3::1 dev eth0');
    assert.deepEqual([...def.header.subarray(0, 8)], [C.AF_INET6, 0, 0, 0, C.RT_TABLE_MAIN, C.RTPROT_BOOT, C.RT_SCOPE_UNIVERSE, C.RTN_UNICAST]);
    const a = attrsOf(12, def);
    assert.equal(a.has(C.RTA_DST), false);
    assert.equal(formatIp(a.get(C.RTA_GATEWAY)!), 'fd00:10:244:3::1');
    const net = addRoute({ dst: 'fd00:10:244::/56', gw: 'fd00:10:244:3::1', oif: 3, dev: 'eth0' });
    assert.equal(net.header.readUInt8(1), 56);
    assert.equal(formatIp(attrsOf(12, net).get(C.RTA_DST)!), 'fd00:10:244::');
    assert.equal(addRoute({ dst: '2001:db8::7', oif: 3, dev: 'eth0' }).header.readUInt8(1), 128);
    assert.equal(addRoute({ dst: 'default', gw: 'fd00::1', oif: 3, dev: 'eth0' }).header.readUInt8(0), C.AF_INET6, '"default" takes the gateway\'s family');
    assert.equal(addRoute({ dst: 'default', gw: '10.0.0.1', oif: 3, dev: 'eth0' }).header.readUInt8(0), C.AF_INET);
    assert.throws(() => addRoute({ dst: '::/0', gw: '10.244.3.1', oif: 3, dev: 'eth0' }), /not of the destination's family/);
    assert.throws(() => addRoute({ dst: 'fd00::/129', oif: 3, dev: 'eth0' }), /bad route destination/);
  });

  it('turns the kernel\'s link-local address off through IFLA_AF_SPEC / AF_INET6', () => {
    const r = setAddrGenModeNone({ index: 7, name: 'eth0' });
    assert.equal(r.op, 'link set dev eth0 addrgenmode none');
    assert.equal(r.type, C.RTM_SETLINK);
    assert.equal(r.header.readInt32LE(4), 7);
    const inet6 = parseAttrs(parseAttrs(attrsOf(16, r).get(C.IFLA_AF_SPEC)!).get(C.AF_INET6)!);
    assert.equal(inet6.get(C.IFLA_INET6_ADDR_GEN_MODE)!.readUInt8(0), C.IN6_ADDR_GEN_MODE_NONE);
  });

  it('deletes by name', () => {
    const r = delLink('twv1');
    assert.equal(r.type, C.RTM_DELLINK);
    assert.equal(readString(attrsOf(16, r).get(C.IFLA_IFNAME)), 'twv1');
  });
});

describe('netlink replies', () => {
  function linkMessage(index: number, flags: number, attrs: Buffer[]) {
    return parseMessages(message(C.RTM_NEWLINK, 0, 1, ifinfomsg({ index, flags }), attrs))[0];
  }

  it('decodes a link as `ip -json -details` shows it, masters by name', () => {
    const port = linkMessage(9, C.IFF_UP | 0x2 | 0x1000 | 0x10000, [
      attrString(C.IFLA_IFNAME, 'twv1'),
      attrU32(C.IFLA_MTU, 1450),
      attr(C.IFLA_ADDRESS, Buffer.from('020000000001', 'hex')),
      attrU32(C.IFLA_MASTER, 4),
      attr(C.IFLA_OPERSTATE, Buffer.from([6])),
      attrNested(C.IFLA_LINKINFO, [
        attrString(C.IFLA_INFO_KIND, 'veth'),
        attrString(C.IFLA_INFO_SLAVE_KIND, 'bridge'),
        attrNested(C.IFLA_INFO_SLAVE_DATA, [attr(C.IFLA_BRPORT_MODE, Buffer.from([1]))]),
      ]),
    ]);
    const bridge = linkMessage(4, 0x2, [attrString(C.IFLA_IFNAME, 'cni0')]);
    const [p, b] = nameMasters([decodeLink(port), decodeLink(bridge)]);
    assert.deepEqual(p.flags, ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
    assert.equal(p.ifname, 'twv1');
    assert.equal(p.mtu, 1450);
    assert.equal(p.address, '02:00:00:00:00:01');
    assert.equal(p.operstate, 'UP');
    assert.equal(p.master, 'cni0');
    assert.deepEqual(p.linkinfo, { info_kind: 'veth', info_slave_kind: 'bridge', info_slave_data: { hairpin: true } });
    assert.deepEqual(b.flags, ['BROADCAST'], 'down: no UP');
  });

  it('decodes routes with ip\'s spelling of dst and the table from RTA_TABLE', () => {
    const route = (dstLen: number, attrs: Buffer[]) =>
      decodeRoute(parseMessages(message(C.RTM_NEWROUTE, 0, 1, rtmsg({ family: C.AF_INET, dstLen, table: C.RT_TABLE_MAIN, protocol: 3, scope: 0, type: 1 }), attrs))[0]);
    const def = route(0, [attr(C.RTA_GATEWAY, Buffer.from([10, 244, 3, 1])), attrU32(C.RTA_OIF, 3)]);
    assert.equal(def.dst, 'default');
    assert.equal(def.gateway, '10.244.3.1');
    assert.equal(def.oif, 3);
    assert.equal(def.protocol, 'boot');
    assert.equal(route(32, [attr(C.RTA_DST, Buffer.from([192, 0, 2, 7]))]).dst, '192.0.2.7');
    const net = route(16, [attr(C.RTA_DST, Buffer.from([10, 244, 0, 0])), attrU32(C.RTA_TABLE, 1000)]);
    assert.equal(net.dst, '10.244.0.0/16');
    assert.equal(net.table, 1000, 'RTA_TABLE wins over the 8-bit rtm_table');
  });

  it('decodes address flags from IFA_FLAGS, or from the header when the kernel sent none', () => {
    const addrMsg = (flags: number, attrs: Buffer[]) =>
      decodeAddr(parseMessages(message(C.RTM_NEWADDR, 0, 1, ifaddrmsg({ family: C.AF_INET6, prefixlen: 64, index: 2, flags }), attrs))[0]);
    const local = attr(C.IFA_ADDRESS, ipv6Bytes('fd00::2'));
    const tentative = addrMsg(0, [local, attrU32(C.IFA_FLAGS, C.IFA_F_TENTATIVE | 0x100)]);
    assert.equal(tentative.family, 'inet6');
    assert.equal(tentative.local, 'fd00::2');
    assert.equal(tentative.flags, C.IFA_F_TENTATIVE | 0x100, 'the 32-bit attribute wins');
    assert.equal(addrMsg(C.IFA_F_NODAD, [local]).flags, C.IFA_F_NODAD);
    assert.equal(tentative.scope, C.RT_SCOPE_UNIVERSE);
  });

  it('decodes an address\'s scope from the header (link-local and host addresses are not the underlay\'s)', () => {
    const m = (scope: number) => decodeAddr(parseMessages(message(C.RTM_NEWADDR, 0, 1, ifaddrmsg({ family: C.AF_INET6, prefixlen: 64, index: 2, scope }),
      [attr(C.IFA_ADDRESS, ipv6Bytes('fe80::1'))]))[0]);
    assert.equal(m(C.RT_SCOPE_LINK).scope, C.RT_SCOPE_LINK);
    assert.equal(m(C.RT_SCOPE_HOST).scope, C.RT_SCOPE_HOST);
  });

  it('reads the kernel\'s extended-ack message from a capped error', () => {
    const payload = Buffer.concat([Buffer.alloc(4), message(C.RTM_NEWLINK, 5, 9, Buffer.alloc(0)).subarray(0, 16), attrString(C.NLMSGERR_ATTR_MSG, 'Unknown device type')]);
    payload.writeInt32LE(-95, 0);
    const m = parseMessages(message(C.NLMSG_ERROR, C.NLM_F_CAPPED | C.NLM_F_ACK_TLVS, 9, payload))[0];
    assert.equal(extAckMessage(m), 'Unknown device type');
    assert.equal(extAckMessage({ ...m, flags: C.NLM_F_CAPPED }), undefined, 'no TLVs announced');
  });

  it('errors name the operation, errno and reason', () => {
    const e = new NetlinkError('route add default via 10.244.3.1 dev eth0', 17, undefined, 3, '/var/run/netns/p');
    assert.equal(e.message, 'route add default via 10.244.3.1 dev eth0 (netns /var/run/netns/p): File exists (EEXIST)');
    assert.equal(e.code, 'EEXIST');
    assert.equal(e.index, 3);
    assert.match(new NetlinkError('link add name x type foo', 95, 'Unknown device type').message, /Operation not supported \(EOPNOTSUPP\): Unknown device type$/);
    assert.match(new NetlinkError('x', 4242).message, /error 4242 \(errno 4242\)/);
  });
});
