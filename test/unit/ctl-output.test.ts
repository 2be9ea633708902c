// Rendering and argument parsing of twillctl: table layout, durations, the lease JSON view,
// and the SUBNET / IP argument forms.
import assert from 'node:assert/strict';
import { parseSubnetArg, parseSubnetOrIp } from '../../ctl/args.js';
import { describeFailure, CtlError, UsageError } from '../../ctl/errors.js';
import { compareLeases, leaseView } from '../../ctl/lease-view.js';
import { formatDuration, renderPairs, renderTable } from '../../ctl/output.js';
import { fromText } from '../../lib/kernel/ethtool.js';
import { jumpsTo } from '../../lib/kernel/iptables-list.js';
import { Cidr } from '../../lib/ip/cidr.js';
import type { Lease } from '../../lib/schema/lease.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

describe('ctl output and arguments', () => {
  it('renders aligned tables with "-" for empty cells and no trailing spaces', () => {
    const out = renderTable([{ a: 'x', b: null }, { a: 'longer', b: 3 }], [
      { header: 'A', value: (r) => r.a },
      { header: 'BEE', value: (r) => r.b },
    ]);
    assert.equal(out, 'A       BEE\nx       -\nlonger  3\n');
    assert.equal(renderPairs([['Network', '10.0.0.0/8'], ['VNI', 1]]), 'Network: 10.0.0.0/8\nVNI:     1\n');
  });

  it('formats durations for the EXPIRES-IN column', () => {
    assert.equal(formatDuration(null), 'never');
    assert.equal(formatDuration(59), '59s');
    assert.equal(formatDuration(61), '1m01s');
    assert.equal(formatDuration(3 * 3600 + 4 * 60), '3h04m');
    assert.equal(formatDuration(86400 + 7200), '1d2h');
    assert.equal(formatDuration(-5), '0s');
  });

  it('maps a lease to the documented JSON view (lease id in hex, expiry in whole seconds)', () => {
    const now = 1_000_000;
    const l: Lease = {
      key: 'k', subnet: Cidr.parse('10.244.3.0/24'), subnet6: Cidr.parse('fd00:0:0:3::/64'),
      attrs: leaseAttrs({ PublicIP: '192.0.2.3', PublicIPv6: '2001:db8::3', BackendType: 'vxlan', BackendData: { VNI: 7, VtepMAC: 'aa:bb:cc:dd:ee:ff' } }),
      leaseId: '7587873913191419397', expiresAt: now + 90_400,
    };
    assert.deepEqual(leaseView(l, now), {
      subnet: '10.244.3.0/24', subnet6: 'fd00:0:0:3::/64', publicIP: '192.0.2.3', publicIPv6: '2001:db8::3',
      backendType: 'vxlan', vtepMAC: 'aa:bb:cc:dd:ee:ff', vni: 7, reserved: false, expiresInSeconds: 90, leaseId: '694d8b1f2c3a4e05', node: null,
    });
    const r = leaseView({ ...l, subnet6: undefined, attrs: leaseAttrs({ PublicIP: '192.0.2.4', BackendType: 'host-gw' }), leaseId: undefined, expiresAt: undefined }, now);
    assert.deepEqual(r, { subnet: '10.244.3.0/24', subnet6: null, publicIP: '192.0.2.4', publicIPv6: null, backendType: 'host-gw', vtepMAC: null, vni: null, reserved: true, expiresInSeconds: null, leaseId: null, node: null });
    // etcdctl prints lease ids as %016x: a small id keeps its leading zeros
    assert.equal(leaseView({ ...l, leaseId: String(0x0b60a204b48c7f07n) }, now).leaseId, '0b60a204b48c7f07');
  });

  it('orders leases numerically, not as strings', () => {
    const mk = (s: string) => ({ subnet: Cidr.parse(s) }) as Lease;
    const sorted = [mk('10.244.10.0/24'), mk('10.244.2.0/24'), mk('9.0.0.0/24')].sort(compareLeases).map((l) => l.subnet.toString());
    assert.deepEqual(sorted, ['9.0.0.0/24', '10.244.2.0/24', '10.244.10.0/24']);
  });

  it('parses SUBNET in CIDR and etcd key form, refusing host bits; tells IPs from subnets', () => {
    assert.equal(parseSubnetArg('10.244.3.0/24').toString(), '10.244.3.0/24');
    assert.equal(parseSubnetArg('10.244.3.0-24').toString(), '10.244.3.0/24');
    assert.throws(() => parseSubnetArg('10.244.3.1/24'), (e: unknown) => e instanceof UsageError && /host bits/.test(e.message));
    assert.throws(() => parseSubnetArg('fd00::/64'), UsageError);
    assert.throws(() => parseSubnetArg('nope'), UsageError);
    assert.ok('ip' in parseSubnetOrIp('10.244.3.7'));
    assert.ok('subnet' in parseSubnetOrIp('10.244.3.0/24'));
    assert.throws(() => parseSubnetOrIp('host.example'), UsageError);
  });

  it('maps failures to exit codes: usage 2, everything else 1', () => {
    assert.deepEqual(describeFailure(new UsageError('bad')), { code: 2, message: 'bad' });
    assert.deepEqual(describeFailure(new CtlError('failed')), { code: 1, message: 'failed' });
    assert.deepEqual(describeFailure(new Error('boom')), { code: 1, message: 'boom' });
  });

  it('reads ethtool text output and iptables jumps', () => {
    const f = fromText('Features for twill.1:\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\n\ttx-checksum-ip-generic: on\n');
    assert.deepEqual(f.get('tx-checksum-ip-generic'), { active: true, fixed: false });
    assert.deepEqual(f.get('tx-checksum-ipv4'), { active: false, fixed: true });
    const t = { chains: new Set(['POSTROUTING', 'TWILL-POSTRTG']), rules: ['POSTROUTING -m comment --comment x -j TWILL-POSTRTG', 'TWILL-POSTRTG -j TWILL-POSTRTG-X'] };
    assert.equal(jumpsTo(t, 'POSTROUTING', 'TWILL-POSTRTG'), true);
    assert.equal(jumpsTo(t, 'TWILL-POSTRTG', 'TWILL-POSTRTG'), false);
    assert.equal(jumpsTo(t, 'FORWARD', 'TWILL-FWD'), false);
  });
});
