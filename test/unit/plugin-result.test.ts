// Results per spec version, prevResult parsing and chaining, and the names/MACs the plugin
// derives instead of reading them back.
import assert from 'node:assert/strict';
import { CniError } from '../../lib/cni/errors.js';
import { CniResult, formatResult, mergeResults, parseResult } from '../../lib/cni/result.js';
import { atLeast, compareVersions } from '../../lib/cni/versions.js';
import { Ip } from '../../lib/ip/cidr.js';
import { hostVethName, isHostVethName, linkLocalFromMac, macFromIp, randomMac } from '../../cni-plugin/net/names.js';
import { createBridgeLine, hostLines, parseLinkMac, podLines, PodLink } from '../../cni-plugin/net/setup.js';
import { Cidr } from '../../lib/ip/cidr.js';

const RESULT: CniResult = {
  interfaces: [
    { name: 'cni0', mac: '0a:58:0a:f4:03:01', mtu: 1450 },
    { name: 'twv0123456789ab', mac: '02:00:00:00:00:01', mtu: 1450 },
    { name: 'eth0', mac: '0a:58:0a:f4:03:02', mtu: 1450, sandbox: '/var/run/netns/p' },
  ],
  ips: [{ address: '10.244.3.2/24', gateway: '10.244.3.1', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.244.3.1' }],
  dns: { nameservers: ['10.96.0.10'] },
};

describe('CNI results per version', () => {
  it('0.3.x and 0.4.0 carry ips[].version, 1.x does not; only 1.1.0 has interface mtu', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
      const r = formatResult(RESULT, v) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.equal(r.cniVersion, v);
      assert.deepEqual(r.ips, [{ version: '4', address: '10.244.3.2/24', gateway: '10.244.3.1', interface: 2 }]);
      assert.equal(r.interfaces[2].mtu, undefined);
    }
    const r100 = formatResult(RESULT, '1.0.0') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(r100.ips, [{ address: '10.244.3.2/24', gateway: '10.244.3.1', interface: 2 }]);
    assert.equal(r100.interfaces[2].mtu, undefined);
    const r110 = formatResult(RESULT, '1.1.0') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(r110.interfaces[2].mtu, 1450);
    assert.equal(r110.interfaces[2].sandbox, '/var/run/netns/p');
    assert.deepEqual(r110.routes, RESULT.routes);
    assert.deepEqual(r110.dns, RESULT.dns);
  });

  it('a dual-stack result carries "4" and "6" before 1.0.0 and no version from 1.0.0 on', () => {
    const dual: CniResult = {
      ...RESULT,
      ips: [...RESULT.ips, { address: 'fd00:10:244:3::2/64', gateway: 'fd00:10:244:3::1', interface: 2 }],
      routes: [...RESULT.routes, { dst: '::/0', gw: 'fd00:10:244:3::1' }],
    };
    for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
      const r = formatResult(dual, v) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.deepEqual(r.ips.map((ip: { version: string }) => ip.version), ['4', '6'], v);
      assert.deepEqual(r.ips[1], { version: '6', address: 'fd00:10:244:3::2/64', gateway: 'fd00:10:244:3::1', interface: 2 });
    }
    for (const v of ['1.0.0', '1.1.0']) {
      const r = formatResult(dual, v) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.deepEqual(r.ips[1], { address: 'fd00:10:244:3::2/64', gateway: 'fd00:10:244:3::1', interface: 2 }, v);
      assert.deepEqual(r.routes, dual.routes);
      const back = parseResult(JSON.parse(JSON.stringify(r)));
      assert.deepEqual(back.ips, dual.ips);
    }
    const only6 = formatResult({ ...dual, ips: [dual.ips[1]], routes: [dual.routes[1]] }, '0.4.0') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(only6.ips.map((ip: { version: string }) => ip.version), ['6']);
  });

  it('round-trips through parseResult from every version', () => {
    for (const v of ['0.3.0', '0.4.0', '1.0.0']) {
      const back = parseResult(JSON.parse(JSON.stringify(formatResult(RESULT, v))));
      assert.deepEqual(back.ips, RESULT.ips);
      assert.deepEqual(back.routes, RESULT.routes);
      assert.deepEqual(back.interfaces.map((i) => i.name), ['cni0', 'twv0123456789ab', 'eth0']);
    }
  });

  it('refuses malformed results with code 6 naming the part', () => {
    for (const [bad, re] of [
      [[], /must be an object/],
      [{ interfaces: {} }, /interfaces must be an array/],
      [{ interfaces: [{}] }, /interfaces\[0\]\.name/],
      [{ ips: [{ address: 5 }] }, /ips\[0\]\.address/],
      [{ routes: [{}] }, /routes\[0\]\.dst/],
    ] as [unknown, RegExp][]) {
      assert.throws(() => parseResult(bad), (e: unknown) => e instanceof CniError && e.code === 6 && re.test(e.message));
    }
  });

  it('appends to an earlier plugin\'s result, shifting interface indexes', () => {
    const prev: CniResult = { interfaces: [{ name: 'x0' }], ips: [{ address: '192.0.2.5/24', interface: 0 }], routes: [], dns: { domain: 'a' } };
    const m = mergeResults(prev, RESULT);
    assert.equal(m.interfaces.length, 4);
    assert.deepEqual(m.ips.map((i) => i.interface), [0, 3]);
    assert.deepEqual(m.dns, RESULT.dns);
    assert.deepEqual(mergeResults(prev, { ...RESULT, dns: {} }).dns, { domain: 'a' });
    assert.equal(mergeResults(undefined, RESULT), RESULT);
  });

  it('compares versions numerically', () => {
    assert.ok(compareVersions('0.10.0', '0.4.0') > 0);
    assert.ok(atLeast('1.1.0', '1.1.0'));
    assert.ok(!atLeast('1.0.0', '1.1.0'));
  });
});

describe('derived names and addresses', () => {
  it('host veth names are stable, 15 characters, and differ per (container, ifname)', () => {
    const a = hostVethName('abc', 'eth0');
    assert.equal(a, hostVethName('abc', 'eth0'));
    assert.equal(a.length, 15);
    assert.ok(isHostVethName(a));
    assert.notEqual(a, hostVethName('abc', 'net1'));
    assert.notEqual(a, hostVethName('abd', 'eth0'));
    assert.ok(!isHostVethName('twvXYZ'));
    assert.ok(!isHostVethName('veth0123456789a'));
  });

  it('pod MACs come from the IP (0a:58:...), host MACs are random locally administered unicast', () => {
    assert.equal(macFromIp(Ip.parse('10.244.3.2')), '0a:58:0a:f4:03:02');
    assert.equal(macFromIp(Ip.parse('fd00:10:244:3::a0b:c0d')), '0a:58:0a:0b:0c:0d', 'IPv6 only: the low 32 bits');
    assert.equal(macFromIp(Ip.parse('fd00:10:244:3::2')), '0a:58:00:00:00:02');
    for (let i = 0; i < 50; i++) {
      const m = randomMac();
      assert.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(m.slice(0, 2), 16);
      assert.equal(first & 0x01, 0, 'unicast');
      assert.equal(first & 0x02, 2, 'locally administered');
    }
  });

  it('link-local addresses are the kernel\'s modified EUI-64 of the MAC', () => {
    // what the kernel made for 0a:58:0a:f4:03:02 (universal/local bit flipped, ff:fe inserted)
    assert.equal(linkLocalFromMac('0a:58:0a:f4:03:02').toString(), 'fe80::858:aff:fef4:302');
    assert.equal(linkLocalFromMac('02:00:00:00:00:01').toString(), 'fe80::ff:fe00:1');
  });

  it('plans a dual-stack pod: both gateways on the bridge, no kernel link-local, every IPv6 address without DAD', () => {
    const link: PodLink = {
      bridge: 'cni0',
      addrs: [
        { ip: Ip.parse('10.244.3.2'), gateway: Ip.parse('10.244.3.1'), subnet: Cidr.parse('10.244.3.0/24') },
        { ip: Ip.parse('fd00:10:244:3::2'), gateway: Ip.parse('fd00:10:244:3::1'), subnet: Cidr.parse('fd00:10:244:3::/64') },
      ],
      mtu: 1450, hairpin: true, hostVeth: 'twv0123456789ab', hostMac: '02:00:00:00:00:01', netns: '/var/run/netns/p', ifname: 'eth0',
      podMac: '0a:58:0a:f4:03:02', routes: [{ dst: '0.0.0.0/0', gw: '10.244.3.1' }, { dst: '::/0', gw: 'fd00:10:244:3::1' }],
    };
    const host = hostLines(link);
    assert.ok(host.includes('addr replace 10.244.3.1/24 dev cni0'));
    assert.ok(host.includes('addr replace fd00:10:244:3::1/64 dev cni0 nodad'));
    assert.equal(createBridgeLine(link), 'link add name cni0 address 0a:58:0a:f4:03:01 mtu 1450 type bridge', 'the bridge MAC still follows the IPv4 gateway');
    assert.deepEqual(podLines(link), [
      'link set dev eth0 addrgenmode none',
      'addr add fe80::858:aff:fef4:302/64 dev eth0 nodad',
      'addr add 10.244.3.2/24 dev eth0',
      'addr add fd00:10:244:3::2/64 dev eth0 nodad',
      'link set dev eth0 up',
      'route add default via 10.244.3.1 dev eth0',
      'route add default via fd00:10:244:3::1 dev eth0',
    ]);
    const v6only: PodLink = { ...link, addrs: [link.addrs[1]], podMac: '0a:58:00:00:00:02', routes: [link.routes[1]] };
    assert.equal(createBridgeLine(v6only), 'link add name cni0 address 0a:58:00:00:00:01 mtu 1450 type bridge');
    assert.ok(!hostLines(v6only).some((l) => l.includes('10.244.')));
    assert.deepEqual(podLines(v6only).slice(0, 3), ['link set dev eth0 addrgenmode none', 'addr add fe80::858:ff:fe00:2/64 dev eth0 nodad', 'addr add fd00:10:244:3::2/64 dev eth0 nodad']);
  });

  it('plans one host batch and one pod batch with everything precomputed', () => {
    const link: PodLink = {
      bridge: 'cni0', addrs: [{ ip: Ip.parse('10.244.3.2'), gateway: Ip.parse('10.244.3.1'), subnet: Cidr.parse('10.244.3.0/24') }], mtu: 1450, hairpin: true,
      hostVeth: 'twv0123456789ab', hostMac: '02:00:00:00:00:01', netns: '/var/run/netns/p', ifname: 'eth0',
      podMac: '0a:58:0a:f4:03:02', routes: [{ dst: '0.0.0.0/0', gw: '10.244.3.1' }],
    };
    const host = hostLines(link);
    assert.equal(host[0], 'link set dev cni0 mtu 1450 up', 'no address: re-setting it flushes the bridge\'s ARP entries');
    assert.equal(createBridgeLine(link), 'link add name cni0 address 0a:58:0a:f4:03:01 mtu 1450 type bridge');
    assert.equal(host[host.length - 1], 'link show dev cni0');
    assert.equal(parseLinkMac('5: cni0: <UP> mtu 1450\n    link/ether 0a:58:0a:f4:03:01 brd ff:ff:ff:ff:ff:ff\n'), '0a:58:0a:f4:03:01');
    assert.ok(host.includes('addr replace 10.244.3.1/24 dev cni0'));
    assert.ok(host.some((l) => l.includes('type veth peer name eth0 mtu 1450 address 0a:58:0a:f4:03:02 netns /var/run/netns/p')));
    assert.ok(host.includes('link set dev twv0123456789ab type bridge_slave hairpin on'));
    assert.ok(!hostLines({ ...link, hairpin: false }).some((l) => l.includes('hairpin')));
    assert.deepEqual(podLines(link), ['addr add 10.244.3.2/24 dev eth0', 'link set dev eth0 up', 'route add default via 10.244.3.1 dev eth0']);
  });
});
