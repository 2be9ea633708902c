// IPAM on a temp dir: round robin, requested IPs, exhaustion, the addresses never handed out,
// host-local's file layout, owner-checked release, and the subnet file it allocates from.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CniError } from '../../lib/cni/errors.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { allocate, isUsable, Pool, usableCount } from '../../cni-plugin/ipam/allocator.js';
import { releaseAll, requestFor, reserveAll } from '../../cni-plugin/ipam/reserve.js';
import { IpamStore } from '../../cni-plugin/ipam/store.js';
import { loadNodeSubnet } from '../../cni-plugin/subnet.js';

function pool(cidr: string): Pool {
  const subnet = Cidr.parse(cidr);
  return { subnet, gateway: subnet.nth(1) };
}
const owner = (i: number, ifname = 'eth0') => ({ containerId: `c${i}`, ifname });

describe('IPAM', () => {
  let dir: string;
  let store: IpamStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'twill-ipam-'));
    store = new IpamStore(path.join(dir, 'net'));
    store.ensure();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes host-local\'s layout: <ip> holding "id\\r\\nifname", last_reserved_ip.0, lock', () => {
    const ip = allocate(store, pool('10.244.3.0/24'), owner(1));
    assert.equal(ip.toString(), '10.244.3.2');
    assert.deepEqual(readdirSync(store.dir).sort(), ['10.244.3.2', 'last_reserved_ip.0', 'lock']);
    assert.equal(readFileSync(path.join(store.dir, '10.244.3.2'), 'utf8'), 'c1\r\neth0');
    assert.equal(readFileSync(path.join(store.dir, 'last_reserved_ip.0'), 'utf8'), '10.244.3.2');
  });

  it('goes round robin from the last reservation and wraps, skipping taken addresses', () => {
    const p = pool('10.244.3.0/29'); // usable .2-.6
    const got = [1, 2, 3].map((i) => allocate(store, p, owner(i)).toString());
    assert.deepEqual(got, ['10.244.3.2', '10.244.3.3', '10.244.3.4']);
    assert.ok(store.release('10.244.3.2', owner(1)));
    // next is after the last reserved (.4), not the freed .2
    assert.equal(allocate(store, p, owner(4)).toString(), '10.244.3.5');
    assert.equal(allocate(store, p, owner(5)).toString(), '10.244.3.6');
    // wraps past broadcast and gateway back to the freed .2
    assert.equal(allocate(store, p, owner(6)).toString(), '10.244.3.2');
  });

  it('starts at the subnet start when last_reserved_ip is outside the subnet or garbage', () => {
    writeFileSync(path.join(store.dir, 'last_reserved_ip.0'), '192.168.0.9');
    assert.equal(allocate(store, pool('10.244.3.0/24'), owner(1)).toString(), '10.244.3.2');
    writeFileSync(path.join(store.dir, 'last_reserved_ip.0'), 'garbage');
    assert.equal(allocate(store, pool('10.244.3.0/24'), owner(2)).toString(), '10.244.3.3');
  });

  it('never hands out the network, gateway or broadcast address; exhaustion is a clear error', () => {
    const p = pool('10.244.3.0/28'); // 16 addresses, 13 usable
    assert.equal(usableCount(p), 13n);
    const got = new Set<string>();
    for (let i = 0; i < 13; i++) got.add(allocate(store, p, owner(i)).toString());
    assert.equal(got.size, 13);
    for (const forbidden of ['10.244.3.0', '10.244.3.1', '10.244.3.15']) assert.ok(!got.has(forbidden), forbidden);
    try {
      allocate(store, p, owner(99));
      assert.fail('expected exhaustion');
    } catch (e) {
      assert.ok(e instanceof CniError);
      assert.equal(e.code, 101);
      assert.match(e.message, /no free address in 10\.244\.3\.0\/28: all 13 pod addresses are allocated/);
    }
  });

  it('honours a requested IP and refuses taken or forbidden ones with the reason', () => {
    const p = pool('10.244.3.0/24');
    const req = (s: string) => ({ ip: Ip.parse(s), source: 'args.cni.ips[0]' });
    assert.equal(allocate(store, p, owner(1), req('10.244.3.77')).toString(), '10.244.3.77');
    const cases: [string, number, RegExp][] = [
      ['10.244.3.77', 100, /args\.cni\.ips\[0\]: requested IP 10\.244\.3\.77 is already allocated to container c1 \(eth0\)/],
      ['10.244.3.1', 7, /is the gateway of 10\.244\.3\.0\/24/],
      ['10.244.3.0', 7, /is the network address/],
      ['10.244.3.255', 7, /is the broadcast address/],
      ['10.244.4.1', 7, /is not in this node's subnet/],
    ];
    for (const [ip, c, re] of cases) {
      try {
        allocate(store, p, owner(2), req(ip));
        assert.fail(`expected ${ip} to be refused`);
      } catch (e) {
        assert.ok(e instanceof CniError, String(e));
        assert.equal(e.code, c, ip);
        assert.match(e.message, re);
      }
    }
    assert.equal(store.list().length, 1, 'refusals reserve nothing');
  });

  it('isUsable follows the same rules', () => {
    const p = pool('10.244.3.0/24');
    assert.ok(isUsable(p, Ip.parse('10.244.3.2')));
    assert.ok(isUsable(p, Ip.parse('10.244.3.254')));
    for (const s of ['10.244.3.0', '10.244.3.1', '10.244.3.255', '10.244.2.9']) assert.ok(!isUsable(p, Ip.parse(s)), s);
  });

  it('releases by owner only: (id, ifname) must both match', () => {
    const p = pool('10.244.3.0/24');
    const a = allocate(store, p, owner(1, 'eth0')).toString();
    const b = allocate(store, p, owner(1, 'net1')).toString();
    assert.deepEqual(store.releaseByOwner(owner(1, 'eth0')), [a]);
    assert.deepEqual(store.list().map((r) => r.ip), [b]);
    assert.equal(store.release(b, owner(2, 'net1')), false, 'another owner cannot release it');
    assert.deepEqual(store.list(), [{ ip: b, containerId: 'c1', ifname: 'net1' }]);
    assert.deepEqual(readdirSync(store.dir).filter((f) => f.startsWith('.')), [], 'no aside files left');
    assert.deepEqual(store.releaseByOwner(owner(3)), []);
    assert.deepEqual(new IpamStore(path.join(dir, 'missing')).releaseByOwner(owner(1)), [], 'a missing store is empty');
  });

  it('reservation is exclusive even when many allocators share one stale hint', () => {
    const p = pool('10.244.3.0/24');
    // simulate racing ADDs: each sees the same last_reserved_ip before anyone writes it
    const hint = store.lastReserved();
    const got: string[] = [];
    for (let i = 0; i < 20; i++) {
      if (hint) store.setLastReserved(hint);
      else rmSync(path.join(store.dir, 'last_reserved_ip.0'), { force: true });
      got.push(allocate(store, p, owner(i)).toString());
    }
    assert.equal(new Set(got).size, 20);
  });
});

describe('IPAM, IPv6 and dual stack', () => {
  let dir: string;
  let store: IpamStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'twill-ipam6-'));
    store = new IpamStore(path.join(dir, 'net'), '1');
    store.ensure();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const req = (s: string) => ({ ip: Ip.parse(s), source: 'args.cni.ips[0]' });

  it('an IPv6 pool is the subnet minus the subnet-router anycast address and the gateway: no broadcast', () => {
    assert.equal(usableCount(pool('fd00:10:244:3::/64')), (1n << 64n) - 2n);
    assert.equal(usableCount(pool('fd00::/126')), 2n);
    assert.equal(usableCount(pool('fd00::/120')), 254n);
    const p = pool('fd00:10:244:3::/120');
    for (const ok of ['fd00:10:244:3::2', 'fd00:10:244:3::fe', 'fd00:10:244:3::ff']) assert.ok(isUsable(p, Ip.parse(ok)), ok);
    for (const no of ['fd00:10:244:3::', 'fd00:10:244:3::1', 'fd00:10:244:3::100', '10.244.3.2']) assert.ok(!isUsable(p, Ip.parse(no)), no);
  });

  it('goes round robin through an IPv6 subnet up to its last address, then wraps past anycast and gateway', () => {
    const p = pool('fd00::/125'); // ::2 .. ::7
    const got = [1, 2, 3, 4, 5, 6].map((i) => allocate(store, p, owner(i)).toString());
    assert.deepEqual(got, ['fd00::2', 'fd00::3', 'fd00::4', 'fd00::5', 'fd00::6', 'fd00::7']);
    assert.ok(store.release('fd00::3', owner(2)));
    assert.equal(allocate(store, p, owner(7)).toString(), 'fd00::3');
    assert.throws(() => allocate(store, p, owner(8)), (e: unknown) => e instanceof CniError && e.code === 101 && /no free address in fd00::\/125: all 6 pod addresses/.test(e.message));
  });

  it('writes IPv6 reservations in host-local\'s layout: RFC 5952 file names, the range\'s own hint file', () => {
    const ip = allocate(store, pool('fd00:10:244:3::/64'), owner(1), req('FD00:10:244:3:0:0:0:A'));
    assert.equal(ip.toString(), 'fd00:10:244:3::a');
    assert.equal(allocate(store, pool('fd00:10:244:3::/64'), owner(2)).toString(), 'fd00:10:244:3::2');
    assert.deepEqual(readdirSync(store.dir).sort(), ['fd00:10:244:3::2', 'fd00:10:244:3::a', 'last_reserved_ip.1', 'lock']);
    assert.equal(readFileSync(path.join(store.dir, 'fd00:10:244:3::a'), 'utf8'), 'c1\r\neth0');
    assert.equal(readFileSync(path.join(store.dir, 'last_reserved_ip.1'), 'utf8'), 'fd00:10:244:3::2');
    assert.equal(store.countIn(Cidr.parse('fd00:10:244:3::/64')), 2);
    assert.equal(store.countIn(Cidr.parse('10.244.3.0/24')), 0);
  });

  it('refuses the IPv6 gateway and subnet-router anycast address by name', () => {
    const p = pool('fd00:10:244:3::/64');
    for (const [ip, re] of [['fd00:10:244:3::', /is the subnet-router anycast \(network\) address of fd00:10:244:3::\/64/], ['fd00:10:244:3::1', /is the gateway/], ['fd00:10:244:4::1', /is not in this node's subnet/]] as const) {
      assert.throws(() => allocate(store, p, owner(1), req(ip)), (e: unknown) => e instanceof CniError && e.code === 7 && re.test(e.message), ip);
    }
  });

  const dualNode = () => ({
    families: [
      { family: 4 as const, subnet: Cidr.parse('10.244.3.0/24'), gateway: Ip.parse('10.244.3.1'), subnetKey: 'FLANNEL_SUBNET', networkKey: 'FLANNEL_NETWORK' },
      { family: 6 as const, subnet: Cidr.parse('fd00:10:244:3::/64'), gateway: Ip.parse('fd00:10:244:3::1'), subnetKey: 'FLANNEL_IPV6_SUBNET', networkKey: 'FLANNEL_IPV6_NETWORK' },
    ],
    mtu: 1450,
  });

  it('reserves one address per family in one dataDir, with hints last_reserved_ip.0 (IPv4) and .1 (IPv6)', () => {
    const dataDir = path.join(dir, 'dual');
    const got = reserveAll(dataDir, dualNode(), owner(1), new Map());
    assert.deepEqual(got.map((r) => r.ip.toString()), ['10.244.3.2', 'fd00:10:244:3::2']);
    assert.deepEqual(readdirSync(dataDir).sort(), ['10.244.3.2', 'fd00:10:244:3::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
    assert.equal(readFileSync(path.join(dataDir, 'last_reserved_ip.1'), 'utf8'), 'fd00:10:244:3::2');
    assert.deepEqual(new IpamStore(dataDir).releaseByOwner(owner(1)).sort(), ['10.244.3.2', 'fd00:10:244:3::2'], 'DEL finds both by owner');
    releaseAll(dataDir, got, owner(1)); // already gone: no error
  });

  it('releases the IPv4 reservation when the IPv6 one fails', () => {
    const dataDir = path.join(dir, 'dual');
    const node = dualNode();
    reserveAll(dataDir, node, owner(1), requestFor(node, [req('fd00:10:244:3::9')], '/run/flannel/subnet.env'));
    const before = readdirSync(dataDir).filter((f) => Ip.tryParse(f)).sort();
    assert.throws(
      () => reserveAll(dataDir, node, owner(2), requestFor(node, [req('10.244.3.50'), req('fd00:10:244:3::9')], '/run/flannel/subnet.env')),
      (e: unknown) => e instanceof CniError && e.code === 100,
    );
    assert.deepEqual(readdirSync(dataDir).filter((f) => Ip.tryParse(f)).sort(), before, '10.244.3.50 was released again');
  });

  it('a requested address of a family the node does not have is code 7 naming the missing key', () => {
    const v6only = { families: [dualNode().families[1]], mtu: 1450 };
    assert.throws(() => requestFor(v6only, [req('10.244.3.9')], '/run/flannel/subnet.env'),
      (e: unknown) => e instanceof CniError && e.code === 7 && /requested IP 10\.244\.3\.9 is IPv4, but \/run\/flannel\/subnet\.env has no FLANNEL_SUBNET/.test(e.message));
    assert.equal(requestFor(v6only, [req('fd00:10:244:3::9')], 'f').get(6)?.ip.toString(), 'fd00:10:244:3::9');
  });
});

describe('subnet file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'twill-subnet-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (text: string) => {
    const f = path.join(dir, 'subnet.env');
    writeFileSync(f, text);
    return f;
  };

  it('reads network, subnet, gateway (first address) and MTU', () => {
    const s = loadNodeSubnet(write('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n'));
    assert.equal(s.families.length, 1);
    const [v4] = s.families;
    assert.equal(v4.family, 4);
    assert.equal(v4.network?.toString(), '10.244.0.0/16');
    assert.equal(v4.subnet.toString(), '10.244.3.0/24');
    assert.equal(v4.gateway.toString(), '10.244.3.1');
    assert.equal(s.mtu, 1450);
  });

  it('reads a dual-stack file (IPv4 first) and an IPv6-only one; the IPv6 gateway is the subnet\'s first address', () => {
    const dual = loadNodeSubnet(write('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n'));
    assert.deepEqual(dual.families.map((f) => `${f.family} ${f.subnet} ${f.gateway} ${f.network}`), ['4 10.244.3.0/24 10.244.3.1 10.244.0.0/16', '6 fd00:10:244:3::/64 fd00:10:244:3::1 fd00:10:244::/56']);
    const v6 = loadNodeSubnet(write('FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1400\n'));
    assert.deepEqual(v6.families.map((f) => `${f.family} ${f.subnet} ${f.gateway} ${f.network}`), ['6 fd00:10:244:3::/64 fd00:10:244:3::1 undefined']);
    assert.equal(v6.mtu, 1400);
    assert.equal(loadNodeSubnet(write('FLANNEL_IPV6_SUBNET=fd00::1/126\nFLANNEL_MTU=1400\n')).families[0].subnet.prefix, 126);
  });

  it('missing file is code 11, malformed is code 7 naming the key', () => {
    const err = (f: string) => {
      try {
        loadNodeSubnet(f);
      } catch (e) {
        return e as CniError;
      }
      assert.fail('expected an error');
    };
    assert.equal(err(path.join(dir, 'nope')).code, 11);
    const cases: [string, RegExp][] = [
      ['FLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=x\n', /FLANNEL_MTU="x"/],
      ['FLANNEL_MTU=1450\n', /FLANNEL_SUBNET is missing/],
      ['FLANNEL_SUBNET=10.244.3.1/31\nFLANNEL_MTU=1450\n', /must be an IPv4 subnet of \/30 or larger/],
      ['FLANNEL_NETWORK=10.0.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n', /is not inside FLANNEL_NETWORK/],
      ['FLANNEL_SUBNET=nope\nFLANNEL_MTU=1450\n', /FLANNEL_SUBNET="nope" is not a CIDR/],
      ['FLANNEL_IPV6_SUBNET=fd00::1/127\nFLANNEL_MTU=1450\n', /FLANNEL_IPV6_SUBNET=fd00::\/127 must be an IPv6 subnet of \/126 or larger/],
      ['FLANNEL_IPV6_SUBNET=10.1.0.1/24\nFLANNEL_MTU=1450\n', /FLANNEL_IPV6_SUBNET=10\.1\.0\.0\/24 must be an IPv6 subnet/],
      ['FLANNEL_SUBNET=fd00::1/64\nFLANNEL_MTU=1450\n', /FLANNEL_SUBNET=fd00::\/64 must be an IPv4 subnet/],
      ['FLANNEL_IPV6_NETWORK=fd00:1::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\n', /FLANNEL_IPV6_SUBNET=fd00:10:244:3::\/64 is not inside FLANNEL_IPV6_NETWORK=fd00:1::\/56/],
      ['FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n', /FLANNEL_IPV6_NETWORK=fd00:10:244::\/56 is set but FLANNEL_IPV6_SUBNET is missing/],
      ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\n', /FLANNEL_NETWORK=10\.244\.0\.0\/16 is set but FLANNEL_SUBNET is missing/],
    ];
    for (const [text, re] of cases) {
      const e = err(write(text));
      assert.equal(e.code, 7, e.message);
      assert.match(e.message, re);
    }
  });
});
