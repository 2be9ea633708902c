// EtcdSubnetManager against a real etcd on loopback: flannel's acquire order, reservations,
// a full network, renewals that notice an operator's delete, and a watch that re-lists after
// compaction.
import assert from 'node:assert/strict';
import { Cidr } from '../../lib/ip/cidr.js';
import type { Lease, LeaseAttrs } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { createLogger, Logger } from '../../daemon/log.js';
import { EtcdSubnetManager } from '../../daemon/subnet/etcd-manager.js';
import { connectEtcd, EtcdRegistry } from '../../lib/etcd/registry.js';
import { EtcdServer } from '../../harness/etcd.js';
import { RUN_PREFIX, waitFor } from '../../harness/world.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

describe('EtcdSubnetManager (real etcd)', function () {
  this.timeout(60000);
  let etcd: EtcdServer;
  let registry: EtcdRegistry;
  let sm: EtcdSubnetManager;
  let logs: Record<string, unknown>[] = [];
  let prefix: string;
  let n = 0;
  const log: Logger = createLogger('debug', (l) => logs.push(JSON.parse(l)));
  const attrs = (ip: string): LeaseAttrs => (leaseAttrs({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:01' } }));
  const config = parseNetworkConfig({ Network: '10.50.0.0/16', SubnetMin: '10.50.1.0', SubnetMax: '10.50.2.0' });
  const signal = () => AbortSignal.timeout(30000);

  before(async () => {
    etcd = await new EtcdServer().start();
  });
  after(async () => {
    await sm?.close();
    await etcd?.destroy();
  });
  beforeEach(async () => {
    await sm?.close();
    prefix = `/${RUN_PREFIX}dem/${++n}`;
    registry = new EtcdRegistry(connectEtcd({ endpoints: [etcd.endpoint] }), prefix);
    sm = new EtcdSubnetManager(registry, { log });
    logs = [];
  });

  it('creates a new lease with a TTL inside [SubnetMin, SubnetMax]', async () => {
    const lease = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    assert.ok(['10.50.1.0/24', '10.50.2.0/24'].includes(String(lease.subnet)));
    const stored = await registry.getLease(lease, { withExpiry: true });
    assert.ok(stored?.leaseId, 'has an etcd lease');
    assert.ok(stored!.expiresAt! > Date.now() + 50000);
    assert.deepEqual(stored!.attrs, attrs('192.0.2.1'));
  });

  it('finds its existing lease by public IP before anything else', async () => {
    const first = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    const other = first.subnet.equals(Cidr.parse('10.50.1.0/24')) ? Cidr.parse('10.50.2.0/24') : Cidr.parse('10.50.1.0/24');
    const again = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60, previous: { subnet: other } }, signal());
    assert.equal(String(again.subnet), String(first.subnet));
    assert.notEqual(again.leaseId, first.leaseId, 'renewed with a fresh etcd lease');
    assert.equal((await registry.listLeases()).leases.length, 1);
  });

  it('takes the previous subnet.env subnet when free, and not when held', async () => {
    const a = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60, previous: { subnet: Cidr.parse('10.50.2.0/24') } }, signal());
    assert.equal(String(a.subnet), '10.50.2.0/24');
    const b = await sm.acquireLease(config, { attrs: attrs('192.0.2.2'), ttlSeconds: 60, previous: { subnet: Cidr.parse('10.50.2.0/24') } }, signal());
    assert.equal(String(b.subnet), '10.50.1.0/24');
  });

  it('never takes another node\'s reservation; a full network is logged and retried', async () => {
    assert.ok(await registry.reserve({ subnet: Cidr.parse('10.50.1.0/24') }, attrs('192.0.2.9')));
    const a = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    assert.equal(String(a.subnet), '10.50.2.0/24');
    let full = 0;
    const sm2 = new EtcdSubnetManager(registry, { log, onNetworkFull: () => full++ });
    const pending = sm2.acquireLease(config, { attrs: attrs('192.0.2.2'), ttlSeconds: 60 }, signal());
    await waitFor('network full reported', () => full >= 2);
    assert.ok(logs.some((l) => l.level === 'error' && /is full/.test(String(l.msg))));
    assert.ok(await registry.deleteLease(a));
    const b = await pending;
    assert.equal(String(b.subnet), '10.50.2.0/24');
    assert.equal(String((await registry.getLease({ subnet: Cidr.parse('10.50.1.0/24') }))!.attrs.PublicIP), '192.0.2.9');
  });

  it('renews with a fresh TTL; after an operator delete, renewal says the lease is gone', async () => {
    const a = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 10 }, signal());
    const r = await sm.renewLease(a, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    assert.ok(r);
    const stored = await registry.getLease(a, { withExpiry: true });
    assert.equal(stored!.leaseId, r!.leaseId);
    assert.ok(stored!.expiresAt! > Date.now() + 50000);
    await registry.deleteLease(a);
    assert.equal(await sm.renewLease(r!, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal()), undefined);
  });

  it('reports every change of the lease set', async () => {
    const ac = new AbortController();
    let last: Lease[] = [];
    const watching = sm.watchLeases((u) => (last = [...u.leases.values()]), ac.signal);
    await waitFor('initial set', () => last !== undefined);
    const a = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    await waitFor('put seen', () => last.some((l) => l.key === a.key));
    await registry.deleteLease(a);
    await waitFor('delete seen', () => last.length === 0);
    ac.abort();
    await watching;
  });

  it('asks for a re-list when its watch start revision was compacted', async () => {
    const a = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    const { revision } = await registry.listLeases();
    await registry.deleteLease(a);
    await sm.acquireLease(config, { attrs: attrs('192.0.2.2'), ttlSeconds: 60 }, signal());
    const head = (await registry.listLeases()).revision;
    await etcd.ctl(['compact', head]);
    // a watch from before the compaction cannot continue: the registry asks for a resync
    const why = await new Promise<string>((resolve, reject) => {
      registry.watchLeases(revision, () => {}, resolve).catch(reject);
    });
    assert.match(why, /compacted|cancel|ended|error/i);
    // and the manager's view after its re-list is the current one
    const ac = new AbortController();
    let last: Lease[] = [];
    const watching = sm.watchLeases((u) => (last = [...u.leases.values()]), ac.signal);
    await waitFor('current set', () => last.length === 1 && last[0].attrs.PublicIP.toString() === '192.0.2.2');
    ac.abort();
    await watching;
  });

  it('re-lists after etcd restarts and follows changes made after it', async () => {
    const resyncs: string[] = [];
    const sm2 = new EtcdSubnetManager(registry, { log, onWatchResync: (why) => resyncs.push(why) });
    const ac = new AbortController();
    let last: Lease[] = [];
    const watching = sm2.watchLeases((u) => (last = [...u.leases.values()]), ac.signal);
    const a = await sm.acquireLease(config, { attrs: attrs('192.0.2.1'), ttlSeconds: 60 }, signal());
    await waitFor('put seen', () => last.length === 1);
    await etcd.stop();
    await waitFor('disconnect noticed', () => resyncs.length >= 1, 20000);
    await etcd.start();
    await waitFor('etcd writable', () => registry.deleteLease(a).then(() => true, () => false), 20000, 200);
    await waitFor('delete seen after restart', () => last.length === 0, 20000);
    assert.match(resyncs[0], /disconnect|error|ended/);
    ac.abort();
    await watching;
  });

  it('waits for a valid config, naming the refused field', async () => {
    const pending = sm.getNetworkConfig(signal());
    await waitFor('missing reported', () => logs.some((l) => /no network config/.test(String(l.msg))));
    assert.ok((await registry.putConfig(JSON.stringify({ Network: '10.50.0.0/16', SubnetLen: 8 }))).ok);
    await waitFor('refusal reported', () => logs.some((l) => /SubnetLen/.test(String(l.msg))));
    const cur = await registry.getConfig();
    assert.ok((await registry.putConfig(JSON.stringify({ Network: '10.50.0.0/16' }), cur!.modRevision)).ok);
    const c = await pending;
    assert.equal(String(c.Network), '10.50.0.0/16');
  });
});
