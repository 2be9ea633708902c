// IPv6 and dual stack, the pure parts: flannel's v6 key forms, the v6 lease value (PublicIP
// 0.0.0.0 on IPv6-only nodes), node identity by PublicIPv6, allocation from the v6 pool,
// the network screen per family, config refusals that name the field, usage per family.
import assert from 'node:assert/strict';
import { computeUsage } from '../../ctl/commands/usage.js';
import { findOwnLease, NetworkFullError, pickFreeSubnet } from '../../daemon/subnet/allocate.js';
import { Cidr } from '../../lib/ip/cidr.js';
import {
  Lease, parseLeaseAttrs, parseSubnetKeyName, sameNode, subnetKeyName, subnetOf,
} from '../../lib/schema/lease.js';
import { ConfigError, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { leaseInRange, leaseNetworkProblem } from '../../lib/schema/subnet-pool.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

const DUAL = parseNetworkConfig({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
const V6ONLY = parseNetworkConfig({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
const v6Attrs = (ip6: string) => leaseAttrs({ PublicIP: '0.0.0.0', PublicIPv6: ip6, BackendType: 'vxlan', BackendV6Data: { VNI: 1, VtepMAC: '02:00:00:00:00:06' } });
const lease = (key: string, attrs = v6Attrs('2001:db8::1'), reserved = false): Lease => ({ key, ...parseSubnetKeyName(key)!, attrs, leaseId: reserved ? undefined : '1' });

describe('IPv6: keys, values and identity', () => {
  it('reads and writes flannel\'s dual-stack and IPv6-only keys', () => {
    const dual = parseSubnetKeyName('10.244.3.0-24&fd00:10:244:3::-64')!;
    assert.equal(String(subnetOf(dual, 4)), '10.244.3.0/24');
    assert.equal(String(subnetOf(dual, 6)), 'fd00:10:244:3::/64');
    const only = parseSubnetKeyName('fd00:10:244:3::-64')!;
    assert.equal(subnetOf(only, 4), undefined);
    assert.equal(String(subnetOf(only, 6)), 'fd00:10:244:3::/64');
    assert.equal(subnetKeyName(only), 'fd00:10:244:3::-64');
    for (const bad of ['fd00:10:244:3::-64&10.244.3.0-24', 'fd00:10:244:3::1-64', 'fd00:10:244:3:: -64']) assert.equal(parseSubnetKeyName(bad), undefined, bad);
  });

  it('accepts PublicIP 0.0.0.0 only beside a PublicIPv6 (flannel\'s IPv6-only node)', () => {
    assert.equal(String(parseLeaseAttrs('{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::5","BackendType":"host-gw"}').PublicIPv6), '2001:db8::5');
    assert.throws(() => parseLeaseAttrs('{"PublicIP":"0.0.0.0","BackendType":"host-gw"}'), /PublicIP/);
  });

  it('tells IPv6-only nodes apart by PublicIPv6, others by PublicIP', () => {
    assert.ok(sameNode(v6Attrs('2001:db8::1'), v6Attrs('2001:db8::1')));
    assert.ok(!sameNode(v6Attrs('2001:db8::1'), v6Attrs('2001:db8::2')), 'both have PublicIP 0.0.0.0');
    const a = leaseAttrs({ PublicIP: '192.0.2.1', PublicIPv6: '2001:db8::1', BackendType: 'vxlan' });
    const b = leaseAttrs({ PublicIP: '192.0.2.1', PublicIPv6: '2001:db8::9', BackendType: 'vxlan' });
    assert.ok(sameNode(a, b));
  });
});

describe('IPv6: allocation and the network screen', () => {
  it('picks free /64s from the IPv6 pool, never a taken one, and reports a full one naming its fields', () => {
    const small = parseNetworkConfig({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/62', IPv6SubnetMin: 'fd00:10:244:1::', IPv6SubnetMax: 'fd00:10:244:2::' });
    const taken = [lease('fd00:10:244:1::-64')];
    for (let i = 0; i < 50; i++) assert.equal(String(pickFreeSubnet(small, taken, Math.random, 6)), 'fd00:10:244:2::/64');
    assert.throws(() => pickFreeSubnet(small, [...taken, lease('fd00:10:244:2::-64')], Math.random, 6),
      (e: Error) => e instanceof NetworkFullError && /IPv6 network fd00:10:244::\/62 is full/.test(e.message) && /IPv6SubnetMax/.test(e.message));
  });

  it('samples a huge IPv6 pool without walking it', () => {
    const big = parseNetworkConfig({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00::/16', IPv6SubnetLen: 64 });
    const s = pickFreeSubnet(big, [], Math.random, 6);
    assert.ok(big.IPv6Network!.contains(s) && s.prefix === 64);
  });

  it('finds its own lease by PublicIPv6 in an IPv6-only network, and both families must fit in dual stack', () => {
    const mine = lease('fd00:10:244:7::-64', v6Attrs('2001:db8::7'));
    assert.equal(findOwnLease(V6ONLY, [lease('fd00:10:244:8::-64', v6Attrs('2001:db8::8')), mine], v6Attrs('2001:db8::7'))?.key, mine.key);
    assert.ok(leaseInRange(DUAL, parseSubnetKeyName('10.244.3.0-24&fd00:10:244:3::-64')!));
    assert.ok(!leaseInRange(DUAL, parseSubnetKeyName('10.244.3.0-24')!), 'a dual-stack node needs both');
    assert.ok(!leaseInRange(DUAL, parseSubnetKeyName('10.244.3.0-24&fd00:99::-64')!));
  });

  it('screens each family against its network', () => {
    assert.equal(leaseNetworkProblem(parseSubnetKeyName('10.244.3.0-24&fd00:99::-64')!, DUAL)?.field, 'subnet6');
    assert.equal(leaseNetworkProblem(parseSubnetKeyName('fd00:10:244:3::-64')!, DUAL)?.field, 'subnet', 'no IPv4 subnet in a dual-stack network');
    assert.equal(leaseNetworkProblem(parseSubnetKeyName('10.244.3.0-24')!, V6ONLY)?.field, 'subnet', 'IPv4 in an IPv6-only network');
    assert.equal(leaseNetworkProblem(parseSubnetKeyName('fd00:10:244:3::-64')!, V6ONLY), undefined);
    assert.equal(leaseNetworkProblem(parseSubnetKeyName('10.244.3.0-24&fd00:10:244:3::-64')!, parseNetworkConfig({ Network: '10.244.0.0/16' })), undefined,
      'an IPv4 network routes a dual-stack lease for IPv4 and ignores its v6 half');
  });
});

describe('IPv6: config and usage', () => {
  it('refuses inconsistent combinations with a message naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ EnableIPv4: false, EnableIPv6: false }, 'EnableIPv4'],
      [{ Network: '10.244.0.0/16', EnableIPv6: true }, 'IPv6Network'],
      [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: '10.245.0.0/16' }, 'IPv6Network'],
      [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00::/64', IPv6SubnetLen: 64 }, 'IPv6SubnetLen'],
      [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00::/56', IPv6SubnetMin: 'fd01::' }, 'IPv6SubnetMin'],
      [{ Network: 'fd00::/56' }, 'Network'],
    ];
    for (const [cfg, field] of cases) {
      assert.throws(() => parseNetworkConfig(cfg), (e: unknown) => e instanceof ConfigError && e.field === field, JSON.stringify(cfg));
    }
  });

  it('counts usage per family', () => {
    const leases = [lease('10.244.3.0-24&fd00:10:244:3::-64'), lease('10.244.4.0-24&fd00:10:244:4::-64', undefined, true)];
    const u = computeUsage(DUAL, leases);
    assert.equal(u.family, 4);
    assert.deepEqual([u.used, u.reserved], [1, 1]);
    assert.equal(u.ipv6?.family, 6);
    assert.equal(u.ipv6?.network, 'fd00:10:244::/56');
    assert.equal(u.ipv6?.total, 255, 'a /56 holds 256 /64s; the first is left out as for IPv4');
    assert.deepEqual([u.ipv6?.used, u.ipv6?.reserved], [1, 1]);
    const only = computeUsage(V6ONLY, [lease('fd00:10:244:9::-64')]);
    assert.deepEqual([only.family, only.used, only.ipv6], [6, 1, null]);
    assert.ok(Cidr.parse(only.network).equals(V6ONLY.IPv6Network!));
  });
});
