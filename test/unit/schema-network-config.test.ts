import assert from 'node:assert/strict';
import { ConfigError, networkConfigToJSON, parseNetworkConfig } from '../../lib/schema/network-config.js';

function refusal(input: unknown): ConfigError {
  try {
    parseNetworkConfig(input as string);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

describe('network config (flannel JSON)', () => {
  it('fills flannel\'s defaults', () => {
    const c = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    assert.equal(String(c.Network), '10.244.0.0/16');
    assert.equal(c.SubnetLen, 24);
    assert.equal(String(c.SubnetMin), '10.244.1.0/24', 'the network\'s first subnet is left out');
    assert.equal(String(c.SubnetMax), '10.244.255.0/24');
    assert.deepEqual(c.Backend, { Type: 'vxlan', VNI: 1, Port: 8472, DirectRouting: false, MTU: undefined });
    assert.equal(c.EnableIPv4, true);
    assert.equal(c.EnableIPv6, false);
  });

  it('a small network gets SubnetLen = its prefix + 1', () => {
    assert.equal(parseNetworkConfig({ Network: '10.9.0.0/25' }).SubnetLen, 26);
  });

  it('takes explicit values', () => {
    const c = parseNetworkConfig({
      Network: '10.0.0.0/8', SubnetLen: 20, SubnetMin: '10.16.0.0', SubnetMax: '10.32.0.0',
      Backend: { Type: 'host-gw' },
    });
    assert.equal(String(c.SubnetMin), '10.16.0.0/20');
    assert.equal(String(c.SubnetMax), '10.32.0.0/20');
    assert.equal(c.Backend.Type, 'host-gw');
    const v = parseNetworkConfig({ Network: '10.0.0.0/8', Backend: { Type: 'vxlan', VNI: 4096, Port: 4789, DirectRouting: true, MTU: 1400 } });
    assert.deepEqual(v.Backend, { Type: 'vxlan', VNI: 4096, Port: 4789, DirectRouting: true, MTU: 1400 });
  });

  it('refuses bad input naming the field', () => {
    assert.equal(refusal('{nope').field, '(json)');
    assert.equal(refusal('[]').field, '(json)');
    assert.equal(refusal({}).field, 'Network');
    assert.equal(refusal({ Network: '10.244.0.0/33' }).field, 'Network');
    assert.equal(refusal({ Network: 'fd00::/64' }).field, 'Network');
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetLen: 16 }).field, 'SubnetLen');
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetLen: '24' }).field, 'SubnetLen');
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetMin: '10.245.0.0' }).field, 'SubnetMin');
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetMax: '10.244.3.5' }).field, 'SubnetMax');
    assert.equal(refusal({ Network: '10.244.0.0/16', SubnetMin: '10.244.9.0', SubnetMax: '10.244.3.0' }).field, 'SubnetMin');
    assert.equal(refusal({ Network: '10.244.0.0/16', Backend: { Type: 'udp' } }).field, 'Backend.Type');
    assert.equal(refusal({ Network: '10.244.0.0/16', Backend: { VNI: -1 } }).field, 'Backend.VNI');
    assert.equal(refusal({ Network: '10.244.0.0/16', Backend: { Port: 70000 } }).field, 'Backend.Port');
    assert.equal(refusal({ Network: '10.244.0.0/16', Backend: { DirectRouting: 'yes' } }).field, 'Backend.DirectRouting');
    assert.equal(refusal({ Network: '10.244.0.0/16', Backend: { Tpye: 'vxlan' } }).field, 'Backend.Tpye');
    assert.equal(refusal({ Network: '10.244.0.0/16', Netwrok: 'x' }).field, 'Netwrok');
    assert.equal(refusal({ Network: '10.244.0.0/16', EnableIPv6: true }).field, 'IPv6Network');
    assert.match(refusal({ Network: '10.244.0.0/16', SubnetLen: 40 }).message, /^network config: SubnetLen: 40 is outside/);
  });

  it('dual stack: IPv6 network and subnet length', () => {
    const c = parseNetworkConfig({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
    assert.equal(c.IPv6SubnetLen, 64);
    assert.equal(String(c.IPv6SubnetMin), 'fd00:10:244:1::/64');
  });

  it('round-trips through networkConfigToJSON', () => {
    const c = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetLen: 26, Backend: { Type: 'vxlan', VNI: 3, MTU: 1400 } });
    assert.deepEqual(parseNetworkConfig(networkConfigToJSON(c)), c);
  });
});
