// LeaseKeeper against a real etcd on loopback: renewals before expiry, failed renewals
// retried through an etcd outage, and re-acquisition after an operator deletes the lease or
// another node takes its subnet.
import assert from 'node:assert/strict';
import type { Lease, LeaseAttrs } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { LeaseKeeper } from '../../daemon/lease-keeper.js';
import { createLogger } from '../../daemon/log.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { EtcdSubnetManager } from '../../daemon/subnet/etcd-manager.js';
import { connectEtcd, EtcdRegistry } from '../../lib/etcd/registry.js';
import { EtcdServer } from '../../harness/etcd.js';
import { RUN_PREFIX, waitFor } from '../../harness/world.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

describe('LeaseKeeper (real etcd)', function () {
  this.timeout(60000);
  let etcd: EtcdServer;
  let registry: EtcdRegistry;
  let sm: EtcdSubnetManager;
  let ac: AbortController;
  let n = 0;
  const log = createLogger('error', () => {});
  const attrs: LeaseAttrs = leaseAttrs({ PublicIP: '192.0.2.1', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:01' } });
  const config = parseNetworkConfig({ Network: '10.60.0.0/16' });

  before(async () => {
    etcd = await new EtcdServer().start();
  });
  after(() => etcd?.destroy());
  beforeEach(() => {
    registry = new EtcdRegistry(connectEtcd({ endpoints: [etcd.endpoint], callTimeoutMs: 1000 }), `/${RUN_PREFIX}dlk/${++n}`);
    sm = new EtcdSubnetManager(registry, { log });
    ac = new AbortController();
  });
  afterEach(async () => {
    ac.abort();
    await sm.close();
  });

  /** A keeper that renews every second (TTL 6 s, margin 5 s), with the watch feeding observe(). */
  async function startKeeper(onReacquired?: (l: Lease, old: Lease) => void) {
    const metrics = new DaemonMetrics();
    const keeper = new LeaseKeeper({ sm, config, req: { attrs, ttlSeconds: 6 }, renewMarginMs: 5000, log, metrics, onReacquired });
    const lease = await keeper.acquire(ac.signal);
    const running = keeper.run(ac.signal);
    const watching = sm.watchLeases((u) => keeper.observe(u.leases), ac.signal);
    return { keeper, lease, metrics, running, watching };
  }

  it('renews before expiry, retries through an etcd outage and keeps the same lease', async () => {
    const { keeper, lease, metrics } = await startKeeper();
    await waitFor('renewals', () => metrics.renewals.get({ result: 'ok' }) >= 2, 10000);
    await etcd.stop();
    await waitFor('failed renewals', () => metrics.renewals.get({ result: 'failed' }) >= 1, 15000);
    await etcd.start();
    const okBefore = metrics.renewals.get({ result: 'ok' });
    await waitFor('renewals again', () => metrics.renewals.get({ result: 'ok' }) > okBefore, 30000);
    assert.equal(keeper.lease.key, lease.key);
    const stored = await registry.getLease(lease, { withExpiry: true });
    assert.equal(stored!.leaseId, keeper.lease.leaseId);
    assert.ok(metrics.leaseExpiry.get() * 1000 > Date.now());
    assert.equal(metrics.leaseAcquisitions.get(), 1, 'never re-acquired: the lease was kept');
  });

  it('takes the same subnet back after an operator deletes the lease', async () => {
    const reacquired: [Lease, Lease][] = [];
    const { keeper, lease, metrics } = await startKeeper((l, old) => reacquired.push([l, old]));
    await registry.deleteLease(lease);
    await waitFor('re-acquired', () => reacquired.length === 1, 10000);
    assert.equal(String(keeper.lease.subnet), String(lease.subnet));
    assert.ok(await registry.getLease(lease), 'the key is back');
    assert.equal(metrics.leaseAcquisitions.get(), 2);
  });

  it('moves to another subnet when another node took ours', async () => {
    const reacquired: [Lease, Lease][] = [];
    const { keeper, lease } = await startKeeper((l, old) => reacquired.push([l, old]));
    // the key now names another node (one write, so there is no race to win)
    await etcd.ctl(['put', lease.key, JSON.stringify({ ...attrs, PublicIP: '192.0.2.99' })]);
    await waitFor('re-acquired', () => reacquired.length >= 1, 10000);
    assert.notEqual(String(keeper.lease.subnet), String(lease.subnet));
    assert.equal(String((await registry.getLease(lease))!.attrs.PublicIP), '192.0.2.99', 'the other node keeps it');
    assert.equal(String((await registry.getLease(keeper.lease))!.attrs.PublicIP), String(attrs.PublicIP));
  });
});
