import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  formatSubnetEnv, parseSubnetEnv, readSubnetEnv, subnetEnvGateway, SubnetEnvError, writeSubnetEnv,
} from '../../lib/schema/subnet-env.js';

describe('subnet.env', () => {
  const text = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

  it('formats flannel\'s keys', () => {
    assert.equal(formatSubnetEnv({ network: '10.244.0.0/16', subnet: '10.244.3.1/24', mtu: 1450, ipMasq: true }), text);
  });

  it('parses what flannel and twilld write, keeping the gateway address', () => {
    const env = parseSubnetEnv(text);
    assert.equal(String(env.network), '10.244.0.0/16');
    assert.equal(env.subnet!.prefix, 24);
    assert.equal(env.mtu, 1450);
    assert.equal(env.ipMasq, true);
    assert.equal(subnetEnvGateway(text), '10.244.3.1/24');
    assert.equal(parseSubnetEnv('# comment\nFLANNEL_SUBNET="10.1.2.1/24"\nFLANNEL_MTU=1500\n').ipMasq, false);
  });

  it('refuses broken files naming the key', () => {
    assert.throws(() => parseSubnetEnv('FLANNEL_MTU=1450\n'), /FLANNEL_SUBNET is missing/);
    assert.throws(() => parseSubnetEnv('FLANNEL_SUBNET=10.1.2.1/24\n'), /FLANNEL_MTU/);
    assert.throws(() => parseSubnetEnv('FLANNEL_SUBNET=10.1.2.1/24\nFLANNEL_MTU=12\n'), SubnetEnvError);
    assert.throws(() => parseSubnetEnv('FLANNEL_SUBNET=nope\nFLANNEL_MTU=1450\n'), /FLANNEL_SUBNET="nope"/);
    assert.throws(() => parseSubnetEnv('FLANNEL_SUBNET=10.1.2.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=yes\n'), /FLANNEL_IPMASQ/);
  });

  it('writes atomically (no temp file left) and reads back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twill-senv-'));
    try {
      const file = path.join(dir, 'run/flannel/subnet.env');
      await writeSubnetEnv(file, { network: '10.244.0.0/16', subnet: '10.244.3.1/24', mtu: 1450, ipMasq: true });
      await writeSubnetEnv(file, { network: '10.244.0.0/16', subnet: '10.244.4.1/24', mtu: 1400, ipMasq: false });
      assert.match(readFileSync(file, 'utf8'), /FLANNEL_SUBNET=10.244.4.1\/24/);
      assert.equal(readSubnetEnv(file).mtu, 1400);
      assert.deepEqual(readdirSync(path.dirname(file)), ['subnet.env']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
