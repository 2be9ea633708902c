// The daemon refuses an invalid network config (naming the field) and waits for a valid one;
// a network with no free subnet is a clear error and a retry, not a crash; a reservation
// is never taken by another node.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EtcdServer } from '../../harness/etcd.js';
import { CONFIG_KEY, netConfig, Twilld } from '../../harness/twilld.js';
import { buildUnderlay, Underlay, waitFor, World } from '../../harness/world.js';

describe('twilld: invalid config, full network, reservations', function () {
  this.timeout(120000);
  const world = new World('dcf');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  const hasLog = (d: Twilld, level: string, re: RegExp) => d.logLines().some((l) => l.level === level && re.test(String(l.msg)));

  before(async () => {
    ul = await buildUnderlay(world, 1);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  it('waits while there is no config, refuses an invalid one naming the field', async () => {
    d1 = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint }).start();
    await waitFor('missing-config message', () => hasLog(d1, 'error', /no network config at \/coreos.com\/network\/config/));
    await etcd.ctl(['put', CONFIG_KEY, JSON.stringify({ Network: '10.244.0.0/16', SubnetLen: 40 })]);
    await waitFor('refusal', () => hasLog(d1, 'error', /refusing network config: network config: SubnetLen: 40 is outside/));
    await etcd.ctl(['put', CONFIG_KEY, JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'udp' } })]);
    await waitFor('refusal', () => hasLog(d1, 'error', /Backend\.Type: "udp" is not supported/));
    assert.equal(d1.child?.exitCode, null, 'still running');
    assert.equal((await d1.http('/readyz')).status, 503);
    assert.equal((await d1.http('/healthz')).status, 200);
    assert.equal((await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '--keys-only'])).trim(), '', 'no lease taken');
  });

  it('reports a full network and retries; never takes another node\'s reservation', async () => {
    // exactly one subnet in range, reserved (no etcd lease) for another node
    const reserved = '/coreos.com/network/subnets/10.250.5.0-24';
    await etcd.ctl(['put', reserved, JSON.stringify({ PublicIP: '198.18.0.99', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:99' } })]);
    await etcd.ctl(['put', CONFIG_KEY, netConfig({ Network: '10.250.0.0/16', SubnetMin: '10.250.5.0', SubnetMax: '10.250.5.0' })]);
    await waitFor('network-full message', () => hasLog(d1, 'error', /network 10\.250\.0\.0\/16 is full/), 20000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(d1.child?.exitCode, null, 'still running');
    assert.equal(JSON.parse(await etcd.ctl(['get', reserved, '--print-value-only'])).PublicIP, '198.18.0.99', 'reservation untouched');
    assert.equal((await d1.http('/readyz')).status, 503);
    assert.ok((await d1.metric('twill_network_full_total'))! >= 1, 'counted for alerting');
    // the operator frees the subnet: the daemon takes it on its next retry
    await etcd.ctl(['del', reserved]);
    await d1.waitReady(30000);
    assert.match(readFileSync(d1.subnetFile, 'utf8'), /FLANNEL_SUBNET=10\.250\.5\.1\/24/);
    assert.equal(JSON.parse(await etcd.ctl(['get', reserved, '--print-value-only'])).PublicIP, ul.nodes[0].ip);
  });

  it('a reservation made for this node is used and stays a reservation', async () => {
    await d1.stop();
    await etcd.ctl(['del', '--prefix', '/coreos.com/network/subnets/']);
    const key = '/coreos.com/network/subnets/10.250.7.0-24';
    await etcd.ctl(['put', key, JSON.stringify({ PublicIP: ul.nodes[0].ip, BackendType: 'vxlan' })]);
    await etcd.ctl(['put', CONFIG_KEY, netConfig({ Network: '10.250.0.0/16' })]);
    d1.start();
    await d1.waitReady();
    assert.match(readFileSync(d1.subnetFile, 'utf8'), /FLANNEL_SUBNET=10\.250\.7\.1\/24/);
    const kv = JSON.parse(await etcd.ctl(['get', key, '-w', 'json'])).kvs[0];
    assert.equal(kv.lease, undefined, 'still no TTL');
    const value = JSON.parse(Buffer.from(kv.value, 'base64').toString());
    assert.match(value.BackendData.VtepMAC, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'VtepMAC published into the reservation');
    assert.equal(await d1.metric('twill_lease_expiry_timestamp_seconds'), 0);
  });
});
