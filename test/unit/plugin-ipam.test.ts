// IPAM on a temp dir: round robin, requested IPs, exhaustion, the addresses never handed out,
// host-local's file layout, owner-checked release, and the subnet file it allocates from.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CniError } from '../../lib/cni/errors.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { allocate, isUsable, Pool, usableCount } from '../../cni-plugin/ipam/allocator.js';
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
    assert.equal(s.network?.toString(), '10.244.0.0/16');
    assert.equal(s.subnet.toString(), '10.244.3.0/24');
    assert.equal(s.gateway.toString(), '10.244.3.1');
    assert.equal(s.mtu, 1450);
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
    ];
    for (const [text, re] of cases) {
      const e = err(write(text));
      assert.equal(e.code, 7, e.message);
      assert.match(e.message, re);
    }
  });
});
