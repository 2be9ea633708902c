import assert from 'node:assert/strict';
import { Cidr } from '../../lib/ip/cidr.js';
import type { Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { findOwnLease, NetworkFullError, pickFreeSubnet } from '../../daemon/subnet/allocate.js';
import { inRange } from '../../lib/schema/subnet-pool.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

const lease = (subnet: string, ip: string, leaseId?: string): Lease => ({
  key: `/p/subnets/${subnet.replace('/', '-')}`, subnet: Cidr.parse(subnet), attrs: leaseAttrs({ PublicIP: ip, BackendType: 'vxlan' }), leaseId,
});

describe('subnet choice', () => {
  const config = parseNetworkConfig({ Network: '10.8.0.0/16', SubnetMin: '10.8.2.0', SubnetMax: '10.8.5.0' });

  it('inRange follows SubnetMin, SubnetMax and SubnetLen', () => {
    assert.ok(inRange(config, Cidr.parse('10.8.2.0/24')));
    assert.ok(inRange(config, Cidr.parse('10.8.5.0/24')));
    assert.ok(!inRange(config, Cidr.parse('10.8.1.0/24')));
    assert.ok(!inRange(config, Cidr.parse('10.8.6.0/24')));
    assert.ok(!inRange(config, Cidr.parse('10.8.2.0/25')));
    assert.ok(!inRange(config, Cidr.parse('10.9.2.0/24')));
  });

  it('finds this node\'s lease by public IP, preferring a reservation, ignoring out-of-range ones', () => {
    const leases = [lease('10.8.3.0/24', '192.0.2.1', '77'), lease('10.8.4.0/24', '192.0.2.2', '78'), lease('10.8.9.0/24', '192.0.2.3', '79')];
    assert.equal(String(findOwnLease(config, leases, leaseAttrs({ PublicIP: '192.0.2.1', BackendType: 'vxlan' }))!.subnet), '10.8.3.0/24');
    assert.equal(findOwnLease(config, leases, leaseAttrs({ PublicIP: '192.0.2.3', BackendType: 'vxlan' })), undefined, 'outside the configured range');
    assert.equal(findOwnLease(config, leases, leaseAttrs({ PublicIP: '192.0.2.9', BackendType: 'vxlan' })), undefined);
    const withRes = [...leases, lease('10.8.5.0/24', '192.0.2.1')];
    assert.equal(String(findOwnLease(config, withRes, leaseAttrs({ PublicIP: '192.0.2.1', BackendType: 'vxlan' }))!.subnet), '10.8.5.0/24');
  });

  it('picks only free subnets in range, and every one of them eventually', () => {
    const taken = [lease('10.8.2.0/24', '192.0.2.101'), lease('10.8.4.0/24', '192.0.2.102')];
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = pickFreeSubnet(config, taken);
      assert.ok(inRange(config, s));
      seen.add(String(s));
    }
    assert.deepEqual([...seen].sort(), ['10.8.3.0/24', '10.8.5.0/24']);
  });

  it('finds the last free slot even when random sampling misses it', () => {
    const big = parseNetworkConfig({ Network: '10.0.0.0/8' });
    const all: Lease[] = [];
    for (let i = 1; i < 65536; i++) if (i !== 40000) all.push(lease(`10.${i >> 8}.${i & 255}.0/24`, '192.0.2.103'));
    assert.equal(String(pickFreeSubnet(big, all, () => 0.1)), '10.156.64.0/24');
  });

  it('a full network is a NetworkFullError that says what to do', () => {
    const all = ['10.8.2.0/24', '10.8.3.0/24', '10.8.4.0/24', '10.8.5.0/24'].map((s) => lease(s, '192.0.2.103'));
    assert.throws(() => pickFreeSubnet(config, all), (e: Error) => e instanceof NetworkFullError && /all 4 \/24 subnets/.test(e.message) && /SubnetMax/.test(e.message));
  });
});
