import { plain } from '../helpers/lease-attrs.js';
import assert from 'node:assert/strict';
import { Cidr } from '../../lib/ip/cidr.js';
import {
  configKey, LeaseValueError, parseLeaseAttrs, parseSubnetKey, parseSubnetKeyName, subnetKey, subnetsPrefix, vxlanData,
} from '../../lib/schema/lease.js';

describe('lease schema (flannel etcd layout)', () => {
  it('builds flannel\'s keys', () => {
    assert.equal(configKey('/coreos.com/network'), '/coreos.com/network/config');
    assert.equal(configKey('/coreos.com/network/'), '/coreos.com/network/config');
    assert.equal(subnetsPrefix('/x'), '/x/subnets/');
    assert.equal(subnetKey('/coreos.com/network', { subnet: Cidr.parse('10.244.3.0/24') }), '/coreos.com/network/subnets/10.244.3.0-24');
    assert.equal(subnetKey('/p', { subnet: Cidr.parse('10.244.3.0/24'), subnet6: Cidr.parse('fd00:10:244:3::/64') }), '/p/subnets/10.244.3.0-24&fd00:10:244:3::-64');
  });

  it('parses lease keys and rejects anything else', () => {
    assert.equal(String(parseSubnetKeyName('10.244.3.0-24')!.subnet), '10.244.3.0/24');
    const ds = parseSubnetKeyName('10.244.3.0-24&fd00:10:244:3::-64')!;
    assert.equal(String(ds.subnet6), 'fd00:10:244:3::/64');
    // an IPv6 subnet alone is flannel's IPv6-only key
    assert.equal(String(parseSubnetKeyName('fd00::-64')!.subnet), 'fd00::/64');
    for (const bad of ['10.244.3.1-24', '10.244.3.0', 'config', '10.244.3.0-24&x&y', 'fd00::-64&10.244.3.0-24', '10.244.3.0-24&10.0.0.0-8']) {
      assert.equal(parseSubnetKeyName(bad), undefined, bad);
    }
    assert.equal(parseSubnetKey('/p', '/q/subnets/10.244.3.0-24'), undefined);
    assert.equal(String(parseSubnetKey('/p', '/p/subnets/10.1.2.0-24')!.subnet), '10.1.2.0/24');
  });

  it('parses flannel\'s lease value and the vxlan backend data', () => {
    const v = parseLeaseAttrs('{"PublicIP":"198.18.0.11","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:aa:bb:cc:dd:ee"}}');
    assert.deepEqual(plain(vxlanData(v)), { VNI: 1, VtepMAC: '02:aa:bb:cc:dd:ee' });
    assert.equal(vxlanData(parseLeaseAttrs('{"PublicIP":"1.2.3.4","BackendType":"host-gw"}')), undefined);
    assert.throws(() => parseLeaseAttrs('nope'), LeaseValueError);
    assert.throws(() => parseLeaseAttrs('{"BackendType":"vxlan"}'), /PublicIP/);
    assert.throws(() => parseLeaseAttrs('{"PublicIP":"1.2.3.4"}'), /BackendType/);
  });
});
