// The VXLAN device and its address as rtnetlink requests (lib/kernel/netlink/requests.ts
// addVxlan, delAddr): the bytes checked against a hand-encoded message (linux/if_link.h's
// IFLA_VXLAN_* inside IFLA_LINKINFO / IFLA_INFO_DATA), and the kernel's answer decoded into
// the fields twilld compares (id, local/local6, port, learning, the underlay's ifindex).
import assert from 'node:assert/strict';
import * as C from '../../lib/kernel/netlink/constants.js';
import { decodeLink } from '../../lib/kernel/netlink/decode.js';
import { addVxlan, delAddr } from '../../lib/kernel/netlink/requests.js';
import { ifinfomsg, message, parseMessages } from '../../lib/kernel/netlink/wire.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const body = (r: { header: Buffer; attrs?: Buffer[] }) => Buffer.concat([r.header, ...(r.attrs ?? [])]);

// attributes after the 16 zero bytes of ifinfomsg; lengths little-endian, NLA_F_NESTED = 0x8000
const IFNAME = '0c000300 7477696c6c2e3100'; // "twill.1\0"
const ADDRESS = '0a000100 0e0000000001 0000'; // 6 bytes, padded
const MTU = '08000400 aa050000'; // 1450
const KIND = '0a000100 76786c616e00 0000'; // "vxlan\0", padded
const DATA4 = [
  '08000100 01000000', // ID 1
  '08000300 02000000', // LINK ifindex 2
  '08000400 0a000001', // LOCAL 10.0.0.1 (network order)
  '06000f00 2118 0000', // PORT 8472, big-endian, padded
  '05000700 00 000000', // LEARNING 0, padded
].join('');

describe('netlink VXLAN device requests', () => {
  const spec = { name: 'twill.1', vni: 1, local: '10.0.0.1', link: 2, linkName: 'eth0', port: 8472, mac: '0e:00:00:00:00:01', mtu: 1450 };

  it('creates an IPv4 VXLAN link exclusively: name, MAC, MTU, kind and VNI, underlay link, local, port, learning off', () => {
    const r = addVxlan(spec);
    assert.equal(r.type, C.RTM_NEWLINK);
    assert.equal(r.flags, C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.equal(r.op, 'link add twill.1 address 0e:00:00:00:00:01 mtu 1450 type vxlan id 1 dev eth0 local 10.0.0.1 dstport 8472 nolearning');
    const expected = hex([
      '00'.repeat(16), IFNAME, ADDRESS, MTU,
      '3c001280', KIND, // LINKINFO: 4 + 12 + 44
      '2c000280', DATA4, // INFO_DATA: 4 + 40
    ].join(''));
    assert.equal(body(r).toString('hex'), expected.toString('hex'));
  });

  it('puts an IPv6 source in IFLA_VXLAN_LOCAL6 (16 bytes), not LOCAL', () => {
    const r = addVxlan({ ...spec, name: 'twill6.1', local: 'fd18::11', mac: undefined, mtu: undefined });
    const data6 = [
      '08000100 01000000',
      '08000300 02000000',
      '14001100 fd180000000000000000000000000011', // LOCAL6 fd18::11
      '06000f00 2118 0000',
      '05000700 00 000000',
    ].join('');
    const expected = hex([
      '00'.repeat(16), '0d000300 7477696c6c362e3100 000000', // "twill6.1\0", padded
      '48001280', KIND, '38000280', data6, // LINKINFO 4 + 12 + 56, INFO_DATA 4 + 52
    ].join(''));
    assert.equal(body(r).toString('hex'), expected.toString('hex'));
  });

  it('refuses a VNI beyond 24 bits and a port outside 1..65535', () => {
    assert.throws(() => addVxlan({ ...spec, vni: 0x1000000 }), /bad VNI/);
    assert.throws(() => addVxlan({ ...spec, port: 0 }), /bad UDP port/);
  });

  it('deletes an address by index, prefix and address, in its family', () => {
    const r = delAddr({ index: 7, dev: 'twill6.1', ip: 'fd00::', prefix: 128 });
    assert.equal(r.type, C.RTM_DELADDR);
    assert.equal(r.op, 'addr del fd00::/128 dev twill6.1');
    assert.equal(body(r).subarray(0, 8).toString('hex'), hex('0a 80 00 00 07000000').toString('hex'), 'ifaddrmsg: AF_INET6, /128, ifindex 7');
  });

  it('decodes a vxlan link\'s parameters as ip -d -json names them, the underlay as its ifindex', () => {
    const r = addVxlan(spec);
    const [m] = parseMessages(message(C.RTM_NEWLINK, 0, 1, ifinfomsg({ index: 9 }), r.attrs!));
    const l = decodeLink(m);
    assert.equal(l.ifname, 'twill.1');
    assert.equal(l.address, '0e:00:00:00:00:01');
    assert.deepEqual(l.linkinfo, { info_kind: 'vxlan', info_data: { id: 1, linkIndex: 2, local: '10.0.0.1', port: 8472, learning: false } });
    const [m6] = parseMessages(message(C.RTM_NEWLINK, 0, 1, ifinfomsg({ index: 9 }), addVxlan({ ...spec, local: 'fd18::11' }).attrs!));
    assert.equal(decodeLink(m6).linkinfo?.info_data?.local6, 'fd18::11');
  });
});
