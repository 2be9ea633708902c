// EtcdSubnetManager on the in-memory subnet store and a fake clock: retries with backoff
// after failed puts and lists, a full network counted and retried, the watch re-listing
// after a compaction or a broken stream, and the dual-stack race that etcd's create-only
// guard cannot stop. test/integration/daemon-etcd-manager.test.ts runs it on a real etcd.
import assert from 'node:assert/strict';
import { Cidr } from '../../lib/ip/cidr.js';
import type { InvalidLease, Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { createLogger } from '../../daemon/log.js';
import { EtcdSubnetManager } from '../../daemon/subnet/etcd-manager.js';
import { FakeClock, settle } from '../fakes/clock.js';
import { FakeSubnetStore } from '../fakes/subnet-store.js';
import { vxlanAttrs } from '../helpers/lease-attrs.js';

const me = vxlanAttrs('192.0.2.1', '02:00:00:00:00:01');
const rival = vxlanAttrs('192.0.2.2', '02:00:00:00:00:02');
const inRange = (w: number, base: number) => w >= base * 0.8 && w <= base * 1.2;

describe('EtcdSubnetManager (fake store, fake clock)', () => {
  let clock: FakeClock;
  let store: FakeSubnetStore;
  let sm: EtcdSubnetManager;
  let logs: { level: string; msg: string }[];
  let resyncs: string[];
  let full: number;
  let ac: AbortController;

  function manager(random?: () => number) {
    sm = new EtcdSubnetManager(store, {
      log: createLogger('debug', (l) => logs.push(JSON.parse(l))),
      clock,
      random,
      onWatchResync: (why) => resyncs.push(why),
      onNetworkFull: () => full++,
    });
    return sm;
  }

  beforeEach(() => {
    clock = new FakeClock();
    store = new FakeSubnetStore(clock);
    logs = [];
    resyncs = [];
    full = 0;
    ac = new AbortController();
    manager();
  });
  afterEach(() => ac.abort());

  describe('acquiring', () => {
    const config = parseNetworkConfig({ Network: '10.50.0.0/16', SubnetMin: '10.50.1.0', SubnetMax: '10.50.2.0' });

    it('retries a failed put with doubling backoff and ends with exactly one lease', async () => {
      store.failNext('createLease', 2);
      const acquiring = sm.acquireLease(config, { attrs: me, ttlSeconds: 60 }, ac.signal);
      await clock.waitForSleeps(1);
      assert.ok(inRange(clock.sleeps[0], 200), `first retry after ~200 ms, was ${clock.sleeps[0]}`);
      await clock.advance(clock.sleeps[0]);
      await clock.waitForSleeps(2);
      assert.ok(inRange(clock.sleeps[1], 400), `then ~400 ms, was ${clock.sleeps[1]}`);
      await clock.advance(clock.sleeps[1]);
      const lease = await acquiring;
      assert.equal(store.calls.createLease, 3);
      assert.deepEqual(store.keys(), [lease.key]);
      assert.equal(lease.expiresAt, clock.now() + 60_000);
      assert.equal(logs.filter((l) => l.level === 'warn' && /acquiring a subnet lease failed/.test(l.msg)).length, 2);
    });

    it('reports a full network through onNetworkFull (twill_network_full_total), logs it, and takes the subnet once freed', async () => {
      const one = parseNetworkConfig({ Network: '10.50.0.0/16', SubnetMin: '10.50.1.0', SubnetMax: '10.50.1.0' });
      const held = store.put({ subnet: Cidr.parse('10.50.1.0/24') }, rival, 60) as Lease;
      const acquiring = sm.acquireLease(one, { attrs: me, ttlSeconds: 60 }, ac.signal);
      await clock.waitForSleeps(1);
      await clock.advance(clock.sleeps[0]);
      await clock.waitForSleeps(2);
      assert.equal(full, 2, 'every attempt that found no free subnet counted');
      assert.ok(logs.some((l) => l.level === 'error' && /is full/.test(l.msg)));
      store.remove(held.key);
      await clock.advance(clock.sleeps[1]);
      const lease = await acquiring;
      assert.equal(String(lease.subnet), '10.50.1.0/24');
      assert.equal(full, 2);
    });

    it('stops retrying when the signal aborts', async () => {
      store.failNext('listLeases', 100);
      const acquiring = sm.acquireLease(config, { attrs: me, ttlSeconds: 60 }, ac.signal);
      await clock.waitForSleeps(1);
      ac.abort();
      await assert.rejects(acquiring, (e: Error) => e.name === 'AbortError');
    });
  });

  describe('the dual-stack race', () => {
    const config = parseNetworkConfig({ Network: '10.50.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:50::/56', IPv6SubnetLen: 64 });
    // the first free subnet of each family, so the race is on a known pair
    beforeEach(() => manager(() => 0));

    it('gives way when another node took our IPv6 subnet between our list and our put, and picks another', async () => {
      let theirs: Lease | undefined;
      store.beforeCreate = (s) => {
        // another node, having listed the same free subnets, claims another IPv4 subnet with the same IPv6 one
        theirs ??= store.put({ subnet: Cidr.parse('10.50.200.0/24'), subnet6: s.subnet6 }, rival, 60) as Lease;
      };
      const acquiring = sm.acquireLease(config, { attrs: me, ttlSeconds: 60 }, ac.signal);
      await clock.waitForSleeps(1);
      await clock.advance(clock.sleeps[0]);
      const ours = await acquiring;
      assert.ok(theirs, 'the rival wrote first');
      assert.ok(!ours.subnet6!.equals(theirs.subnet6!), `our IPv6 subnet ${ours.subnet6} is not theirs`);
      assert.deepEqual(store.keys().sort(), [ours.key, theirs.key].sort(), 'our first key was deleted again');
      assert.equal((store.stored(theirs.key) as Lease).modRevision, theirs.modRevision, 'theirs is untouched');
      assert.equal(store.calls.deleteLease, 1);
      assert.ok(logs.some((l) => /claimed one of the same subnets first/.test(l.msg)));
    });

    it('keeps its lease when it wrote first and the rival came later', async () => {
      let theirs: Lease | undefined;
      store.afterCreate = (l) => {
        if (String(l.attrs.PublicIP) === '192.0.2.1') theirs ??= store.put({ subnet: Cidr.parse('10.50.200.0/24'), subnet6: l.subnet6 }, rival, 60) as Lease;
      };
      const ours = await sm.acquireLease(config, { attrs: me, ttlSeconds: 60 }, ac.signal);
      assert.ok(theirs && ours.subnet6!.equals(theirs.subnet6!), 'the same IPv6 subnet, claimed later');
      assert.equal(store.calls.deleteLease, 0, 'the older key keeps the subnet; the rival gives way');
      assert.ok(store.stored(ours.key));
      assert.equal(store.calls.createLease, 1);
    });
  });

  describe('watching', () => {
    const peer = (n: number) => ({ subnet: Cidr.parse(`10.50.${n}.0/24`) });
    let sets: { leases: Lease[]; invalid: InvalidLease[]; changed?: string[] }[];
    const last = () => sets.at(-1)!.leases.map((l) => String(l.subnet)).sort();

    beforeEach(() => {
      sets = [];
      store.put(peer(1), vxlanAttrs('192.0.2.11', '02:00:00:00:00:11'), 60);
      store.put(peer(2), vxlanAttrs('192.0.2.12', '02:00:00:00:00:12'), 60);
    });
    // the maps are the watch's own and change after the call: each report is copied as it comes
    const watch = () => sm.watchLeases((u) => sets.push({
      leases: [...u.leases.values()], invalid: [...u.invalid.values()], changed: u.changed && [...u.changed].sort(),
    }), ac.signal);

    it('reports the whole set at start and after each burst of changes', async () => {
      const watching = watch();
      await settle();
      assert.deepEqual(last(), ['10.50.1.0/24', '10.50.2.0/24']);
      assert.equal(sets[0].changed, undefined, 'a listing names no keys: anything may have changed');
      const removed = store.keys()[0];
      store.put(peer(3), vxlanAttrs('192.0.2.13', '02:00:00:00:00:13'), 60);
      store.remove(removed);
      store.put({ subnet: Cidr.parse('10.50.4.0/24') }, '{not json');
      await settle();
      assert.deepEqual(last(), ['10.50.2.0/24', '10.50.3.0/24']);
      assert.equal(sets.at(-1)!.invalid.length, 1, 'a refused value is reported beside the set');
      assert.equal(sets.length, 2, 'one report for the burst');
      assert.deepEqual(sets[1].changed, [...['10.50.3.0-24', '10.50.4.0-24'].map((k) => `/coreos.com/network/subnets/${k}`), removed].sort(), 'the burst names exactly the keys it put, refused and deleted');
      ac.abort();
      await watching;
    });

    it('starts from the acquisition\'s listing (one list, not two), with our lease in it and what changed since', async () => {
      const config = parseNetworkConfig({ Network: '10.50.0.0/16', SubnetMin: '10.50.1.0', SubnetMax: '10.50.3.0' });
      const ours = await sm.acquireLease(config, { attrs: me, ttlSeconds: 60 }, ac.signal);
      // a change after the acquisition's list: the watch must replay it from the list's revision
      store.put(peer(5), vxlanAttrs('192.0.2.15', '02:00:00:00:00:15'), 60);
      const watching = watch();
      await settle();
      assert.equal(store.calls.listLeases, 1, 'the watch did not list again');
      assert.ok(sets[0].leases.some((l) => l.key === ours.key), 'our own lease is in the first set');
      assert.equal(String(ours.subnet), '10.50.3.0/24', 'the one free subnet');
      assert.deepEqual(last(), ['10.50.1.0/24', '10.50.2.0/24', '10.50.3.0/24', '10.50.5.0/24']);
      // a later round (after a broken stream) lists afresh
      store.breakWatches();
      await settle();
      await clock.waitForSleeps(1);
      await clock.advance(clock.sleeps[0]);
      assert.equal(store.calls.listLeases, 2, 're-listed after the broken stream');
      ac.abort();
      await watching;
    });

    it('re-lists when its start revision was compacted, and sees what changed in between', async () => {
      let first = true;
      store.beforeWatch = () => {
        if (!first) return;
        first = false;
        // between the list and the watch: a change, then a compaction past the list's revision
        store.remove(store.keys()[0]);
        store.compact();
      };
      const watching = watch();
      await settle();
      assert.deepEqual(resyncs, ['watch ended (compacted or cancelled)']);
      await clock.waitForSleeps(1);
      assert.ok(inRange(clock.sleeps[0], 200));
      await clock.advance(clock.sleeps[0]);
      assert.equal(store.calls.listLeases, 2, 're-listed');
      assert.deepEqual(last(), ['10.50.2.0/24'], 'the deleted lease is gone after the re-list');
      assert.equal(store.openWatches, 1, 'watching again');
      ac.abort();
      await watching;
    });

    it('re-lists after a watch error, counting it, and reports changes made while it was away', async () => {
      const watching = watch();
      await settle();
      store.breakWatches('watch error: 14 UNAVAILABLE');
      store.remove(store.keys()[0]);
      store.put(peer(5), vxlanAttrs('192.0.2.15', '02:00:00:00:00:15'), 60);
      await settle();
      assert.deepEqual(resyncs, ['watch error: 14 UNAVAILABLE']);
      assert.deepEqual(last(), ['10.50.1.0/24', '10.50.2.0/24'], 'nothing reported while the watch was down');
      await clock.advance(clock.sleeps[0]);
      assert.deepEqual(last(), ['10.50.2.0/24', '10.50.5.0/24']);
      ac.abort();
      await watching;
    });

    it('retries a failed list with growing backoff, and resets it after a watch that lived a while', async () => {
      store.failNext('listLeases', 2);
      const watching = watch();
      await clock.waitForSleeps(1);
      await clock.advance(clock.sleeps[0]);
      await clock.waitForSleeps(2);
      assert.ok(inRange(clock.sleeps[0], 200) && inRange(clock.sleeps[1], 400), `backoff grows: ${clock.sleeps}`);
      await clock.advance(clock.sleeps[1]);
      assert.deepEqual(last(), ['10.50.1.0/24', '10.50.2.0/24']);
      assert.equal(logs.filter((l) => /listing leases failed/.test(l.msg)).length, 2);
      await clock.advance(60_000); // a healthy watch
      store.breakWatches();
      await clock.waitForSleeps(3);
      assert.ok(inRange(clock.sleeps[2], 200), `backoff reset after a healthy watch: ${clock.sleeps[2]}`);
      ac.abort();
      await watching;
    });
  });
});
