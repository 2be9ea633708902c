// LeaseKeeper on the in-memory subnet store and a fake clock: when it renews, what it does
// when the key is deleted or a renewal fails, and that the lease never lapses meanwhile.
// The same behaviour against a real etcd is in test/integration/daemon-lease-keeper.test.ts.
import assert from 'node:assert/strict';
import type { Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { LeaseKeeper } from '../../daemon/lease-keeper.js';
import { createLogger } from '../../daemon/log.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { EtcdSubnetManager } from '../../daemon/subnet/etcd-manager.js';
import { FakeClock, settle } from '../fakes/clock.js';
import { FakeSubnetStore } from '../fakes/subnet-store.js';
import { vxlanAttrs } from '../helpers/lease-attrs.js';

const TTL_S = 100;
const MARGIN_MS = 30_000;
/** when a fresh lease is renewed: the margin before its TTL runs out */
const RENEW_AFTER_MS = TTL_S * 1000 - MARGIN_MS;

describe('LeaseKeeper (fake store, fake clock)', () => {
  const config = parseNetworkConfig({ Network: '10.60.0.0/16' });
  const attrs = vxlanAttrs('192.0.2.1', '02:00:00:00:00:01');
  let clock: FakeClock;
  let store: FakeSubnetStore;
  let metrics: DaemonMetrics;
  let ac: AbortController;
  let logs: { level: string; msg: string }[];
  let reacquired: [Lease, Lease][];
  let running: Promise<void>[];

  beforeEach(() => {
    clock = new FakeClock();
    store = new FakeSubnetStore(clock);
    metrics = new DaemonMetrics();
    ac = new AbortController();
    logs = [];
    reacquired = [];
    running = [];
  });
  afterEach(async () => {
    ac.abort();
    await Promise.all(running);
  });

  async function start({ watch = true } = {}) {
    const log = createLogger('debug', (l) => logs.push(JSON.parse(l)));
    const sm = new EtcdSubnetManager(store, { log, clock });
    const keeper = new LeaseKeeper({
      sm, config, req: { attrs, ttlSeconds: TTL_S }, renewMarginMs: MARGIN_MS, log, metrics, clock,
      onReacquired: (l, old) => reacquired.push([l, old]),
    });
    const lease = await keeper.acquire(ac.signal);
    if (watch) running.push(sm.watchLeases((u) => keeper.observe(u.leases), ac.signal));
    running.push(keeper.run(ac.signal));
    await settle();
    return { keeper, lease };
  }

  it('renews the configured margin before the TTL runs out, and again after every renewal', async () => {
    const { keeper, lease } = await start();
    await clock.waitForSleeps(1);
    assert.equal(clock.sleeps.at(-1), RENEW_AFTER_MS, 'first renewal due TTL minus margin after acquiring');
    await clock.advance(RENEW_AFTER_MS - 1);
    assert.equal(store.calls.renewLease, 0, 'not renewed early');
    await clock.advance(1);
    assert.equal(store.calls.renewLease, 1, 'renewed when due');
    assert.equal(keeper.lease.key, lease.key);
    assert.notEqual(keeper.lease.leaseId, lease.leaseId, 'a fresh etcd lease');
    assert.equal(keeper.lease.expiresAt, clock.now() + TTL_S * 1000);
    assert.equal(clock.sleeps.at(-1), RENEW_AFTER_MS, 'the next one is due a full period later');
    for (let i = 0; i < 5; i++) {
      await clock.advance(RENEW_AFTER_MS);
      assert.deepEqual(store.expire(), [], 'the lease never lapsed');
    }
    assert.equal(metrics.renewals.get({ result: 'ok' }), 6);
    assert.equal(metrics.leaseAcquisitions.get(), 1, 'never re-acquired');
    assert.equal(metrics.leaseExpiry.get(), Math.round(keeper.lease.expiresAt! / 1000));
  });

  it('takes the same subnet back at once when an operator deletes the key', async () => {
    const { keeper, lease } = await start();
    const renewalsBefore = store.calls.renewLease;
    store.remove(lease.key);
    await settle();
    assert.equal(reacquired.length, 1, 're-acquired without waiting for the renewal time');
    assert.equal(String(reacquired[0][0].subnet), String(lease.subnet), 'the same subnet, so pods keep their addresses');
    assert.equal(reacquired[0][1].key, lease.key);
    assert.equal(store.calls.renewLease, renewalsBefore + 1, 'a guarded renewal told the loss from a stale event');
    const stored = store.stored(lease.key) as Lease;
    assert.ok(stored && stored.leaseId, 'the key is back, with an etcd lease');
    assert.equal(String(stored.attrs.PublicIP), '192.0.2.1');
    assert.equal(keeper.lease.modRevision, stored.modRevision);
    assert.equal(metrics.leaseAcquisitions.get(), 2);
    assert.ok(logs.some((l) => l.level === 'warn' && /deleted or changed/.test(l.msg)));
  });

  it('notices a deleted key at the next renewal when no watch event told it', async () => {
    const { lease } = await start({ watch: false });
    store.remove(lease.key);
    await settle();
    assert.equal(reacquired.length, 0, 'nothing told it yet');
    await clock.waitForSleeps(1);
    await clock.advance(RENEW_AFTER_MS);
    assert.equal(reacquired.length, 1);
    assert.equal(String(reacquired[0][0].subnet), String(lease.subnet));
    assert.ok(store.stored(lease.key));
  });

  it('moves to another subnet when another node took ours, and says so', async () => {
    const { keeper, lease } = await start();
    store.put(lease, vxlanAttrs('192.0.2.99', '02:00:00:00:00:99'), TTL_S);
    await settle();
    assert.equal(reacquired.length, 1);
    assert.notEqual(String(keeper.lease.subnet), String(lease.subnet));
    assert.equal(String((store.stored(lease.key) as Lease).attrs.PublicIP), '192.0.2.99', 'the other node keeps it');
    assert.ok(logs.some((l) => l.level === 'error' && /different subnet/.test(l.msg)));
  });

  it('ignores the watch event of its own renewal', async () => {
    await start();
    await clock.waitForSleeps(1);
    await clock.advance(RENEW_AFTER_MS);
    await settle();
    assert.equal(metrics.renewals.get({ result: 'ok' }), 1);
    assert.equal(reacquired.length, 0);
    assert.equal(metrics.leaseAcquisitions.get(), 1);
  });

  it('retries a failed renewal with doubling backoff, renews before expiry, and resets the backoff', async () => {
    const { lease } = await start();
    store.failNext('renewLease', 3);
    await clock.waitForSleeps(1);
    await clock.advance(RENEW_AFTER_MS);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      await clock.waitForSleeps(2 + i);
      waits.push(clock.sleeps.at(-1)!);
      await clock.advance(clock.sleeps.at(-1)!);
    }
    // 1 s, 2 s, 4 s, each with ±20 % jitter
    assert.ok(waits[0] >= 800 && waits[0] <= 1200, `first retry after ~1 s, was ${waits[0]}`);
    assert.ok(waits[1] >= 1600 && waits[1] <= 2400, `then ~2 s, was ${waits[1]}`);
    assert.ok(waits[2] >= 3200 && waits[2] <= 4800, `then ~4 s, was ${waits[2]}`);
    assert.equal(metrics.renewals.get({ result: 'failed' }), 3);
    assert.equal(metrics.renewals.get({ result: 'ok' }), 1, 'the fourth attempt renewed');
    assert.deepEqual(store.expire(), [], 'renewed before the lease ran out');
    assert.ok(store.stored(lease.key));
    assert.equal(clock.sleeps.at(-1), RENEW_AFTER_MS, 'back to the renewal schedule');
    // a later failure starts from the first step again
    store.failNext('renewLease');
    await clock.advance(RENEW_AFTER_MS);
    await clock.waitForSleeps(clock.sleeps.length);
    const again = clock.sleeps.at(-1)!;
    assert.ok(again >= 800 && again <= 1200, `backoff reset after a success, was ${again}`);
    assert.equal(metrics.leaseAcquisitions.get(), 1, 'a failed renewal is not a lost lease');
  });

  it('stops when the signal aborts, also in the middle of a backoff wait', async () => {
    await start();
    store.failNext('renewLease', 10);
    await clock.waitForSleeps(1);
    await clock.advance(RENEW_AFTER_MS);
    assert.equal(clock.pending, 1, 'waiting to retry');
    ac.abort();
    await Promise.all(running);
    assert.equal(clock.pending, 0);
  });
});
