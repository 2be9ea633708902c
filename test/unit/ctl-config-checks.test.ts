// Pure checks behind `config set/validate` and `usage`: refusals name the field, warnings
// name the lease, and usage arithmetic counts only subnets the config could hand out.
import assert from 'node:assert/strict';
import { checkConfigText, leaseWarnings, subnetTotal } from '../../ctl/config-checks.js';
import { inRange } from '../../lib/schema/subnet-pool.js';
import { computeUsage } from '../../ctl/commands/usage.js';
import { Cidr } from '../../lib/ip/cidr.js';
import type { Lease } from '../../lib/schema/lease.js';
import { ConfigError, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

function lease(subnet: string, opts: { reserved?: boolean; backend?: string; ip?: string } = {}): Lease {
  return {
    key: `/p/subnets/${subnet.replace('/', '-')}`,
    subnet: Cidr.parse(subnet),
    attrs: leaseAttrs({ PublicIP: opts.ip ?? '192.0.2.1', BackendType: opts.backend ?? 'vxlan' }),
    leaseId: opts.reserved ? undefined : '42',
  };
}

function refusal(cfg: object): ConfigError {
  try {
    checkConfigText(JSON.stringify(cfg));
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail(`accepted ${JSON.stringify(cfg)}`);
}

describe('ctl config checks', () => {
  it('refuses host bits in Network and unaligned SubnetMin/SubnetMax, naming the field', () => {
    assert.equal(refusal({ Network: '10.244.3.0/16' }).field, 'Network');
    assert.match(refusal({ Network: '10.244.3.0/16' }).message, /did you mean 10\.244\.0\.0\/16/);
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetMin: '10.244.1.5' }).field, 'SubnetMin');
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetLen: 25, SubnetMax: '10.244.9.64' }).field, 'SubnetMax');
    // aligned to /26 is fine for SubnetLen 26
    assert.equal(checkConfigText(JSON.stringify({ Network: '10.244.0.0/16', SubnetLen: 26, SubnetMax: '10.244.9.64' })).config.SubnetMax.toString(), '10.244.9.64/26');
  });

  it('warns about backend options the backend ignores and about tiny ranges', () => {
    const { warnings } = checkConfigText(JSON.stringify({ Network: '10.9.0.0/24', SubnetLen: 26, Backend: { Type: 'host-gw', VNI: 7 } }));
    assert.deepEqual(warnings, ['Backend.VNI is ignored by the host-gw backend', 'only 3 node subnet(s) between SubnetMin and SubnetMax']);
    assert.deepEqual(checkConfigText('{"Network":"10.244.0.0/16"}').warnings, []);
  });

  it('counts subnets between SubnetMin and SubnetMax inclusive', () => {
    assert.equal(subnetTotal(parseNetworkConfig({ Network: '10.244.0.0/16' })), 255n);
    assert.equal(subnetTotal(parseNetworkConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.10.0', SubnetMax: '10.244.19.0' })), 10n);
    const c = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.10.0', SubnetMax: '10.244.19.0' });
    assert.equal(inRange(c, Cidr.parse('10.244.10.0/24')), true);
    assert.equal(inRange(c, Cidr.parse('10.244.20.0/24')), false);
    assert.equal(inRange(c, Cidr.parse('10.244.10.0/25')), false);
  });

  it('names every lease a new config would strand', () => {
    const c = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetMax: '10.244.50.0' });
    assert.deepEqual(leaseWarnings(c, [
      lease('10.244.3.0/24'),
      lease('10.245.3.0/24', { ip: '192.0.2.7' }),
      lease('10.244.3.0/25', { reserved: true }),
      lease('10.244.60.0/24'),
      lease('10.244.4.0/24', { backend: 'host-gw' }),
    ]), [
      'lease 10.245.3.0/24 (node 192.0.2.7) would be outside Network 10.244.0.0/16',
      'lease 10.244.3.0/25 (node 192.0.2.1, reserved) does not match SubnetLen /24',
      'lease 10.244.60.0/24 (node 192.0.2.1) would be outside SubnetMin..SubnetMax 10.244.1.0..10.244.50.0',
      'lease 10.244.4.0/24 (node 192.0.2.1) uses backend host-gw; the node switches to vxlan when twilld restarts',
    ]);
  });

  it('computes usage from leases inside the range only', () => {
    const c = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.1.0', SubnetMax: '10.244.8.0' });
    assert.deepEqual(computeUsage(c, [lease('10.244.1.0/24'), lease('10.244.2.0/24'), lease('10.244.3.0/24', { reserved: true }), lease('10.244.99.0/24')]), {
      family: 4, network: '10.244.0.0/16', subnetLen: 24, subnetMin: '10.244.1.0/24', subnetMax: '10.244.8.0/24',
      total: 8, used: 2, reserved: 1, free: 5, usedPercent: 37.5, outside: 1, ipv6: null,
    });
    assert.equal(computeUsage(c, []).usedPercent, 0);
  });
});
