// The kube subnet manager and the deleted-Node lease releaser on in-memory Nodes
// (test/fakes/kube-nodes.ts) and a fake clock: when they poll, when they write, what they
// report. test/unit/kube-manager.test.ts runs the same manager against the fake API server
// over HTTP, through the real kube client.
import assert from 'node:assert/strict';
import { Cidr } from '../../lib/ip/cidr.js';
import { Lease, vxlanData } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { annotationNames, leaseAnnotations } from '../../lib/kube/annotations.js';
import { runLeaseReleaser } from '../../daemon/kube/lease-releaser.js';
import { createLogger } from '../../daemon/log.js';
import { KubeSubnetManager } from '../../daemon/subnet/kube-manager.js';
import { FakeClock, settle } from '../fakes/clock.js';
import { FakeKubeNodes } from '../fakes/kube-nodes.js';
import { FakeSubnetStore } from '../fakes/subnet-store.js';
import { vxlanAttrs } from '../helpers/lease-attrs.js';

const F = annotationNames();
const POLL_MS = 1000;
const config = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } });
const me = { attrs: vxlanAttrs('198.18.0.11', '0a:00:00:00:00:01'), ttlSeconds: 86400 };

describe('kube subnet manager and lease releaser (fake Nodes, fake clock)', () => {
  let clock: FakeClock;
  let nodes: FakeKubeNodes;
  let logs: Record<string, unknown>[];
  let ac: AbortController;
  const log = () => createLogger('debug', (l) => logs.push(JSON.parse(l)));
  const manager = () => new KubeSubnetManager({ nodes, nodeName: 'n1', pollMs: POLL_MS, clock, log: log() });

  beforeEach(() => {
    clock = new FakeClock();
    nodes = new FakeKubeNodes();
    logs = [];
    ac = new AbortController();
  });
  afterEach(() => ac.abort());

  it('polls for its podCIDR every pollMs, says so once at warn, and publishes nothing until it has one', async () => {
    nodes.set({ metadata: { name: 'n1' } });
    const acquiring = manager().acquireLease(config, me, ac.signal);
    for (let i = 1; i <= 3; i++) {
      await clock.waitForSleeps(i);
      assert.equal(clock.sleeps.at(-1), POLL_MS);
      await clock.advance(POLL_MS);
    }
    const waiting = logs.filter((l) => /cannot be formed yet/.test(String(l.msg)));
    assert.deepEqual(waiting.map((l) => l.level), ['warn', 'debug', 'debug', 'debug'], 'the same problem is said once at warn');
    assert.match(String(waiting[0].error), /has no IPv4 spec\.podCIDR/);
    assert.equal(nodes.patches.length, 0, 'nothing published without a subnet');
    nodes.update('n1', (n) => ({ ...n, spec: { podCIDR: '10.244.5.0/24' } }));
    await clock.advance(POLL_MS);
    const lease = await acquiring;
    assert.equal(String(lease.subnet), '10.244.5.0/24');
    assert.equal(nodes.patches.length, 1);
    assert.equal(nodes.get('n1')!.metadata!.annotations![F.publicIP], '198.18.0.11');
    assert.equal(nodes.get('n1')!.metadata!.annotations![F.kubeSubnetManager], 'true');
  });

  it('retries a failed Node read on the next poll', async () => {
    nodes.set({ metadata: { name: 'n1' }, spec: { podCIDR: '10.244.5.0/24' } });
    nodes.failNext('read');
    const acquiring = manager().acquireLease(config, me, ac.signal);
    await clock.waitForSleeps(1);
    assert.ok(logs.some((l) => l.level === 'warn' && /HTTP 503/.test(String(l.error))));
    await clock.advance(POLL_MS);
    assert.equal(String((await acquiring).subnet), '10.244.5.0/24');
  });

  it('renews without writing while its annotations hold, rewrites stripped ones, and gives up when the podCIDR changes', async () => {
    nodes.set({ metadata: { name: 'n1' }, spec: { podCIDR: '10.244.5.0/24' } });
    const m = manager();
    const lease = await m.acquireLease(config, me, ac.signal);
    const writes = nodes.patches.length;
    assert.ok(await m.renewLease(lease, me, ac.signal));
    assert.equal(nodes.patches.length, writes, 'an intact lease is renewed without a write');
    nodes.update('n1', (n) => ({ ...n, metadata: { ...n.metadata, annotations: {} } }));
    assert.ok(await m.renewLease(lease, me, ac.signal));
    assert.equal(nodes.patches.length, writes + 1);
    assert.equal(nodes.get('n1')!.metadata!.annotations![F.publicIP], '198.18.0.11', 'restored');
    nodes.update('n1', (n) => ({ ...n, spec: { podCIDR: '10.244.9.0/24' } }));
    assert.equal(await m.renewLease(lease, me, ac.signal), undefined, 're-acquire: the Node was re-created with another subnet');
  });

  it('reports the lease set only when a lease changes, not on other Node updates', async () => {
    const peer = vxlanAttrs('198.18.0.12', '0a:00:00:00:00:02');
    nodes.set({ metadata: { name: 'n2', annotations: leaseAnnotations(F, peer, true) }, spec: { podCIDR: '10.244.2.0/24' } });
    const m = manager();
    const sets: Lease[][] = [];
    const watching = m.watchLeases((u) => sets.push([...u.leases.values()]), ac.signal);
    await settle();
    assert.deepEqual(sets.map((s) => s.map((l) => String(l.subnet))), [['10.244.2.0/24']]);
    nodes.update('n2', (n) => ({ ...n, status: { addresses: [{ type: 'InternalIP', address: '198.18.0.12' }] } }));
    await settle();
    assert.equal(sets.length, 1, 'a status-only change is no lease change');
    nodes.update('n2', (n) => ({ ...n, metadata: { ...n.metadata, annotations: leaseAnnotations(F, vxlanAttrs('198.18.0.12', '0a:00:00:00:00:22'), true) } }));
    await settle();
    assert.equal(sets.length, 2);
    assert.equal(String(vxlanData(sets[1][0].attrs)?.VtepMAC), '0a:00:00:00:00:22');
    nodes.remove('n2');
    await settle();
    assert.deepEqual(sets.at(-1), []);
    ac.abort();
    await watching;
  });

  it('the releaser frees a deleted Node\'s lease, keeps a reservation for its address and the leases of live Nodes', async () => {
    const store = new FakeSubnetStore(clock);
    const gone = vxlanAttrs('198.18.0.12', '0a:00:00:00:00:02');
    const live = vxlanAttrs('198.18.0.13', '0a:00:00:00:00:03');
    const leased = store.put({ subnet: Cidr.parse('10.244.2.0/24') }, gone, 3600);
    const reserved = store.put({ subnet: Cidr.parse('10.244.4.0/24') }, gone);
    const other = store.put({ subnet: Cidr.parse('10.244.3.0/24') }, live, 3600);
    nodes.set({ metadata: { name: 'n2', annotations: leaseAnnotations(F, gone, false) } });
    nodes.set({ metadata: { name: 'n3', annotations: leaseAnnotations(F, live, false) } });
    const releasing = runLeaseReleaser(nodes, store, F, ac.signal, { log: log() });
    await settle();
    nodes.remove('n2');
    await settle();
    assert.equal(store.stored(leased.key), undefined, 'released');
    assert.ok(store.stored(reserved.key), 'a reservation is an operator\'s');
    assert.ok(store.stored(other.key));
    assert.ok(logs.some((l) => l.level === 'info' && l.msg === 'released the lease of a deleted Node' && l.node === 'n2'));
    ac.abort();
    await releasing;
  });
});
