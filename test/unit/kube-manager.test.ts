// --kube-subnet-mgr against the test API server with the real client: config from the
// net-conf file, the own lease from spec.podCIDR, annotations, peers from the Node watch
// (including a re-list after compaction), renew, the NetworkUnavailable condition, and only
// permitted API calls.
import { kubeNodes } from '../../daemon/kube/nodes.js';
import { createLogger } from '../../daemon/log.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { annotationNames, leaseAnnotations } from '../../lib/kube/annotations.js';
import { connectKube, KubeClient } from '../../lib/kube/client.js';
import { markNetworkAvailable } from '../../daemon/kube/node-publisher.js';
import { isPermitted } from '../helpers/kube-permissions.js';
import { KubeSubnetManager } from '../../daemon/subnet/kube-manager.js';
import type { Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { FakeKubeApiServer, kubeconfigYaml } from '../../harness/kube-apiserver.js';
import { leaseAttrs, plain } from '../helpers/lease-attrs.js';

const F = annotationNames();
const NET_CONF = JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } });
const attrs = (ip: string, mac: string) => (leaseAttrs({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }));
const req = (ip: string, mac: string) => ({ attrs: attrs(ip, mac), ttlSeconds: 86400 });

/** Resolves the first time `pred` holds for a value pushed to the returned sink. */
function waiter<T>() {
  const seen: T[] = [];
  let pending: { pred: (v: T) => boolean; resolve: (v: T) => void }[] = [];
  return {
    seen,
    push(v: T) {
      seen.push(v);
      pending = pending.filter((p) => (p.pred(v) ? (p.resolve(v), false) : true));
    },
    next(pred: (v: T) => boolean): Promise<T> {
      const hit = seen.find(pred);
      return hit !== undefined ? Promise.resolve(hit) : new Promise((resolve) => pending.push({ pred, resolve }));
    },
  };
}

describe('kube subnet manager', () => {
  let server: FakeKubeApiServer;
  let kube: KubeClient;
  let dir: string;
  let ac: AbortController;
  const logs = waiter<string>();

  const manager = (nodeName: string, netConfPath = path.join(dir, 'net-conf.json')) =>
    new KubeSubnetManager({ nodes: kubeNodes(kube), nodeName, netConfPath, pollMs: 50, log: createLogger('debug', (l) => (process.env.KDEBUG && console.log(l), logs.push(l))) });

  beforeEach(async () => {
    server = new FakeKubeApiServer({ token: 't' });
    const url = await server.listen();
    dir = mkdtempSync(path.join(tmpdir(), 'twk-kmgr-'));
    writeFileSync(path.join(dir, 'kubeconfig'), kubeconfigYaml(url, 't'));
    kube = connectKube({ kubeconfigFile: path.join(dir, 'kubeconfig') });
    ac = new AbortController();
  });
  afterEach(async () => {
    ac.abort();
    const denied = server.requests.filter((r) => !isPermitted(r.method, r.url));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(denied, [], 'the code made API calls its ClusterRole does not grant');
  });

  it('waits for net-conf.json, then parses it', async () => {
    const m = manager('n1');
    const cfg = m.getNetworkConfig(ac.signal);
    await logs.next((l) => l.includes(path.join(dir, 'net-conf.json')) && l.includes('waiting') && JSON.parse(l).level === 'warn');
    writeFileSync(path.join(dir, 'net-conf.json'), NET_CONF);
    const c = await cfg;
    assert.equal(String(c.Network), '10.244.0.0/16');
    assert.equal(c.Backend.Type, 'vxlan');
  });

  it('waits for spec.podCIDR, then publishes annotations and returns the lease', async () => {
    server.createNode({ metadata: { name: 'n1' } });
    const m = manager('n1');
    const leaseP = m.acquireLease(parseNetworkConfig(NET_CONF), req('198.18.0.11', '0a:00:00:00:00:01'), ac.signal);
    await logs.next((l) => l.includes('node n1 has no IPv4 spec.podCIDR'));
    server.updateNode('n1', (n) => ({ ...n, spec: { podCIDR: '10.244.5.0/24' } }));
    const lease = await leaseP;
    assert.equal(String(lease.subnet), '10.244.5.0/24');
    const ann = server.getNode('n1')!.metadata.annotations!;
    assert.equal(ann[F.publicIP], '198.18.0.11');
    assert.equal(ann[F.backendType], 'vxlan');
    assert.deepEqual(JSON.parse(ann[F.backendData]), { VNI: 1, VtepMAC: '0a:00:00:00:00:01' });
    assert.equal(ann[F.kubeSubnetManager], 'true');
  });

  it("publishes an operator's public-ip-overwrite as the public IP, so its lease matches what peers see", async () => {
    server.createNode({ metadata: { name: 'n1', annotations: { [F.publicIPOverwrite]: '203.0.113.7' } }, spec: { podCIDR: '10.244.5.0/24' } });
    const m = manager('n1');
    const lease = await m.acquireLease(parseNetworkConfig(NET_CONF), req('198.18.0.11', '0a:00:00:00:00:01'), ac.signal);
    assert.equal(String(lease.attrs.PublicIP), '203.0.113.7');
    assert.equal(server.getNode('n1')!.metadata.annotations![F.publicIP], '203.0.113.7');
    const changes = waiter<Lease[]>();
    const done = m.watchLeases((u) => changes.push([...u.leases.values()]), ac.signal);
    const [seen] = await changes.next((ls) => ls.length === 1);
    assert.deepEqual(plain(seen.attrs), plain(lease.attrs));
    ac.abort();
    await done;
  });

  it('does not accept a podCIDR outside Network, and stops waiting on abort', async () => {
    server.createNode({ metadata: { name: 'n1' }, spec: { podCIDR: '10.99.1.0/24' } });
    const p = manager('n1').acquireLease(parseNetworkConfig(NET_CONF), req('198.18.0.11', '0a:00:00:00:00:01'), ac.signal);
    await logs.next((l) => l.includes('podCIDR 10.99.1.0/24 is outside Network 10.244.0.0/16'));
    ac.abort();
    await assert.rejects(p);
    assert.equal(server.getNode('n1')!.metadata.annotations, undefined, 'nothing published for an unusable subnet');
  });

  it('renews while the podCIDR holds, restores stripped annotations, and gives up when it changes', async () => {
    server.createNode({ metadata: { name: 'n1' }, spec: { podCIDR: '10.244.5.0/24' } });
    const m = manager('n1');
    const r = req('198.18.0.11', '0a:00:00:00:00:01');
    const lease = await m.acquireLease(parseNetworkConfig(NET_CONF), r, ac.signal);
    server.updateNode('n1', (n) => ({ ...n, metadata: { ...n.metadata, annotations: {} } }));
    const renewed = await m.renewLease(lease, r, ac.signal);
    assert.ok(renewed);
    assert.equal(server.getNode('n1')!.metadata.annotations![F.publicIP], '198.18.0.11');
    const rv = server.resourceVersion;
    await m.renewLease(lease, r, ac.signal);
    assert.equal(server.resourceVersion, rv, 'renewing an intact lease must not write');
    server.updateNode('n1', (n) => ({ ...n, spec: { podCIDR: '10.244.9.0/24' } }));
    assert.equal(await m.renewLease(lease, r, ac.signal), undefined);
  });

  it('reports peers from kube-managed Nodes and follows their changes, ignoring status churn', async () => {
    server.createNode({ metadata: { name: 'n1', annotations: leaseAnnotations(F, attrs('198.18.0.11', '0a:00:00:00:00:01'), true) }, spec: { podCIDR: '10.244.1.0/24' } });
    server.createNode({ metadata: { name: 'n2' }, spec: { podCIDR: '10.244.2.0/24' } });
    const m = manager('n1');
    const changes = waiter<Lease[]>();
    const done = m.watchLeases((u) => changes.push([...u.leases.values()]), ac.signal);
    const subnets = (ls: Lease[]) => ls.map((l) => String(l.subnet)).join(',');
    await changes.next((ls) => subnets(ls) === '10.244.1.0/24');
    server.updateNode('n2', (n) => ({ ...n, metadata: { ...n.metadata, annotations: leaseAnnotations(F, attrs('198.18.0.12', '0a:00:00:00:00:02'), true) } }), 'status');
    const both = await changes.next((ls) => subnets(ls) === '10.244.1.0/24,10.244.2.0/24');
    assert.equal(String(both[1].attrs.PublicIP), '198.18.0.12');
    const count = changes.seen.length;
    server.updateNode('n2', (n) => ({ ...n, status: { conditions: [{ type: 'Ready', status: 'True' }] } }), 'status');
    server.deleteNode('n1');
    await changes.next((ls) => subnets(ls) === '10.244.2.0/24');
    assert.equal(changes.seen.length, count + 1, 'a status-only change must not produce a lease update');
    ac.abort();
    await done;
  });

  it('re-lists after the server forgot our resourceVersion and notices Nodes deleted meanwhile', async () => {
    for (const [i, name] of ['n1', 'n2'].entries()) {
      server.createNode({ metadata: { name, annotations: leaseAnnotations(F, attrs(`198.18.0.1${i + 1}`, `0a:00:00:00:00:0${i + 1}`), true) }, spec: { podCIDR: `10.244.${i + 1}.0/24` } });
    }
    const m = manager('n1');
    const changes = waiter<Lease[]>();
    const done = m.watchLeases((u) => changes.push([...u.leases.values()]), ac.signal);
    await changes.next((ls) => ls.length === 2);
    const lists = () => server.requests.filter((r) => r.method === 'GET' && /^\/api\/v1\/nodes(\?(?!.*watch=true)|$)/.test(r.url)).length;
    const listsBefore = lists();
    // the watch breaks, events are compacted away, and a Node goes while nobody watches
    server.dropWatches();
    server.deleteNode('n2');
    server.compact();
    await changes.next((ls) => ls.length === 1 && String(ls[0].subnet) === '10.244.1.0/24');
    assert.ok(lists() > listsBefore, 'recovered by listing again');
    assert.ok(server.requests.some((r) => r.url.includes('watch=true') && r.status === 200), 'watched');
    ac.abort();
    await done;
  });

  it('sets NetworkUnavailable=False without touching other conditions', async () => {
    server.createNode({ metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'NetworkUnavailable', status: 'True', reason: 'NoRouteCreated' }] } });
    await markNetworkAvailable(kubeNodes(kube), 'n1');
    const conds = server.getNode('n1')!.status!.conditions!;
    assert.deepEqual(conds.map((c) => `${c.type}=${c.status}`), ['Ready=True', 'NetworkUnavailable=False']);
    assert.equal(conds[1].reason, 'TwillIsUp');
  });

  it('refuses to start without a node name', () => {
    assert.throws(() => new KubeSubnetManager({ nodes: kubeNodes(kube), nodeName: '', log: createLogger('error', () => {}) }), /NODE_NAME/);
  });
});
