// Address math in lib/ip/cidr.ts: parsing, normalisation, membership, n-th address, subnets.
import assert from 'node:assert/strict';
import { Address4, Address6 } from 'ip-address';
import { Cidr, Ip, IpParseError } from '../../lib/ip/cidr.js';

describe('Ip', () => {
  it('parses and prints IPv4 and IPv6', () => {
    assert.equal(Ip.parse('10.244.3.7').toString(), '10.244.3.7');
    assert.equal(Ip.parse(' 10.0.0.1 ').toString(), '10.0.0.1');
    assert.equal(Ip.parse('10.244.3.7').family, 4);
    assert.equal(Ip.parse('fd00::1').family, 6);
    assert.equal(Ip.parse('FD00:0:0::1').toString(), 'fd00::1');
    assert.equal(Ip.parse('0.0.0.0').value, 0n);
    assert.equal(Ip.parse('255.255.255.255').toString(), '255.255.255.255');
    assert.equal(Ip.parse('::ffff:1.2.3.4').family, 6);
  });

  it('refuses what is not an address', () => {
    // leading zeros are refused: some parsers read them as octal
    for (const bad of ['10.244.3.256', '10.244.3', '10.244.3.7/24', 'abc', '', '1.2.3.4.5', 'fd00::1/64', '::g', '010.1.1.1', '10.01.1.1', '1.2.3.-1', '+1.2.3.4', '1..2.3']) {
      assert.throws(() => Ip.parse(bad), IpParseError, bad);
      assert.equal(Ip.tryParse(bad), undefined, bad);
    }
  });

  it('parses and prints exactly like ip-address (random cross-check, both families)', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const v4: string[] = ['0.0.0.0', '255.255.255.255', '01.2.3.4', '1.2.3.04', '256.0.0.1', '1.2.3', ' 1.2.3.4'];
    const v6: string[] = ['::', '::1', '1::', '::ffff:1.2.3.4', '1:0:0:1:0:0:0:1', '0:0:1:0:0:1:0:0', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', '12345::', 'fe80::1%eth0', '1:2:3:4:5:6:1.2.3.4', ':1::', '1:'];
    for (let i = 0; i < 3000; i++) {
      v4.push(Array.from({ length: 4 }, () => (rnd(10) === 0 ? '0' + rnd(300) : String(rnd(300)))).join('.'));
      const groups = Array.from({ length: 8 }, () => (rnd(3) === 0 ? 0 : rnd(65536)));
      const a = Address6.fromBigInt(groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n));
      const mangled = a.correctForm();
      const k = rnd(mangled.length);
      v6.push(a.correctForm(), a.canonicalForm().toUpperCase(), mangled.slice(0, k) + [':', '::', 'x', '.'][rnd(4)] + mangled.slice(k));
    }
    for (const s of v4) {
      const want = Address4.isValid(s.trim()) && /^\d+\.\d+\.\d+\.\d+$/.test(s.trim()) ? new Address4(s.trim()).bigInt() : undefined;
      const got = Ip.tryParse(s);
      assert.equal(got?.value, want, s);
      if (got) assert.equal(got.toString(), Address4.fromBigInt(got.value).address);
    }
    for (const s of v6) {
      const want = Address6.isValid(s) ? new Address6(s).bigInt() : undefined;
      const got = Ip.tryParse(s);
      assert.equal(got?.family === 6 ? got.value : undefined, want, s);
      if (got) assert.equal(got.toString(), Address6.fromBigInt(got.value).correctForm(), s);
    }
  });

  it('does arithmetic and equality', () => {
    assert.equal(Ip.parse('10.0.0.255').add(1).toString(), '10.0.1.0');
    assert.equal(Ip.parse('fd00::ffff').add(1n).toString(), 'fd00::1:0');
    assert.ok(Ip.parse('10.0.0.1').equals(Ip.parse('10.0.0.1')));
    assert.ok(!Ip.parse('10.0.0.1').equals(Ip.parse('10.0.0.2')));
    assert.equal(Ip.parse('10.0.0.1').value, 0x0a000001n);
  });
});

describe('Cidr', () => {
  it('normalises host bits unless strict', () => {
    const c = Cidr.parse('10.244.3.1/24');
    assert.equal(c.toString(), '10.244.3.0/24');
    assert.throws(() => Cidr.parse('10.244.3.1/24', { strict: true }), /host bits/);
    assert.equal(Cidr.parse('10.244.3.0/24', { strict: true }).toString(), '10.244.3.0/24');
    assert.equal(Cidr.parse('fd00:1::5/64').toString(), 'fd00:1::/64');
  });

  it('refuses malformed prefixes', () => {
    for (const bad of ['10.244.3.0', '10.244.3.0/33', '10.244.3.0/', '/24', 'x/24', 'fd00::/129', '10.244.3.0/24/1']) {
      assert.throws(() => Cidr.parse(bad), IpParseError, bad);
      assert.equal(Cidr.tryParse(bad), undefined, bad);
    }
  });

  it('knows size, first, last and the n-th address', () => {
    const c = Cidr.parse('10.244.3.0/24');
    assert.equal(c.size, 256n);
    assert.equal(c.first.toString(), '10.244.3.0');
    assert.equal(c.last.toString(), '10.244.3.255');
    assert.equal(c.nth(1).toString(), '10.244.3.1');
    assert.equal(c.nth(255).toString(), '10.244.3.255');
    assert.throws(() => c.nth(256), RangeError);
    assert.throws(() => c.nth(-1), RangeError);
    assert.equal(Cidr.parse('10.0.0.0/30').size, 4n);
    assert.equal(Cidr.parse('0.0.0.0/0').size, 1n << 32n);
    assert.equal(Cidr.parse('10.0.0.9/32').last.toString(), '10.0.0.9');
  });

  it('tests membership of addresses and prefixes, across families too', () => {
    const net = Cidr.parse('10.244.0.0/16');
    assert.ok(net.contains(Ip.parse('10.244.255.255')));
    assert.ok(!net.contains(Ip.parse('10.245.0.0')));
    assert.ok(!net.contains(Ip.parse('10.243.255.255')));
    assert.ok(net.contains(Cidr.parse('10.244.3.0/24')));
    assert.ok(!net.contains(Cidr.parse('10.0.0.0/8')), 'a bigger prefix is not inside');
    assert.ok(!net.contains(Ip.parse('fd00::1')));
    assert.ok(net.overlaps(Cidr.parse('10.0.0.0/8')));
    assert.ok(!net.overlaps(Cidr.parse('10.245.0.0/16')));
  });

  it('decides IPv4 membership as the BigInt bounds do, at every prefix length and at the edges', () => {
    let seed = 7;
    const rand32 = () => ((seed = (seed * 1103515245 + 12345) >>> 0) ^ (seed << 7)) >>> 0;
    for (let i = 0; i < 4000; i++) {
      const net = Cidr.of(4, BigInt(rand32()), i % 33);
      const lo = net.network;
      const hi = net.network + net.size; // exclusive
      const probes = [lo, hi - 1n, lo - 1n, hi, BigInt(rand32())].filter((v) => v >= 0n && v < 1n << 32n);
      for (const v of probes) {
        assert.equal(net.contains(Ip.of(4, v)), v >= lo && v < hi, `${Ip.of(4, v)} in ${net}`);
        const sub = Cidr.of(4, v, Math.min(32, net.prefix + (i % 3)));
        assert.equal(net.contains(sub), sub.prefix >= net.prefix && sub.network >= lo && sub.network < hi, `${sub} in ${net}`);
      }
    }
  });

  it('enumerates subnets and finds their index', () => {
    const net = Cidr.parse('10.244.0.0/16');
    assert.equal(net.subnetCount(24), 256n);
    assert.equal(net.subnet(24, 3).toString(), '10.244.3.0/24');
    assert.equal(net.subnet(24, 255).toString(), '10.244.255.0/24');
    assert.equal(net.subnetIndex(Cidr.parse('10.244.3.0/24')), 3n);
    assert.throws(() => net.subnet(8, 0), RangeError);
    assert.throws(() => net.subnet(33, 0), RangeError);
    assert.equal(Cidr.parse('fd00::/48').subnet(64, 2).toString(), 'fd00:0:0:2::/64');
  });

  it('compares prefixes', () => {
    assert.ok(Cidr.parse('10.244.3.9/24').equals(Cidr.parse('10.244.3.0/24')));
    assert.ok(!Cidr.parse('10.244.3.0/24').equals(Cidr.parse('10.244.3.0/25')));
  });
});
