// etcd mode with API access: deleting a Node object releases that node's lease in a real
// etcd, and only that one: other nodes' leases, reservations and leases of a node that
// re-registered under a new name stay.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { annotationNames, leaseAnnotations } from '../../lib/kube/annotations.js';
import { connectKube } from '../../lib/kube/client.js';
import { runLeaseReleaser } from '../../daemon/kube/lease-releaser.js';
import { kubeNodes } from '../../daemon/kube/nodes.js';
import { isPermitted } from '../helpers/kube-permissions.js';
import { createLogger } from '../../daemon/log.js';
import { connectEtcd, EtcdRegistry } from '../../lib/etcd/registry.js';
import { Cidr } from '../../lib/ip/cidr.js';
import { EtcdServer } from '../../harness/etcd.js';
import { FakeKubeApiServer, kubeconfigYaml } from '../../harness/kube-apiserver.js';
import { RUN_PREFIX, waitFor } from '../../harness/world.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';

const F = annotationNames();
const attrs = (i: number) => (leaseAttrs({ PublicIP: `198.18.0.${10 + i}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: `0a:00:00:00:00:0${i}` } }));
const sub = (i: number) => ({ subnet: Cidr.parse(`10.244.${i}.0/24`) });

describe('kube: Node deletion releases its etcd lease', function () {
  const prefix = `/${RUN_PREFIX}k/network`;
  let etcd: EtcdServer;
  let api: FakeKubeApiServer;
  let registry: EtcdRegistry;
  let dir: string;
  const ac = new AbortController();
  let releaser: Promise<void>;
  const logged: Record<string, unknown>[] = [];
  const released = () => logged.filter((l) => l.msg === 'released the lease of a deleted Node').map((l) => `${l.node}:${l.subnet}`);

  before(async () => {
    etcd = await new EtcdServer().start();
    registry = new EtcdRegistry(connectEtcd({ endpoints: [etcd.endpoint] }), prefix);
    api = new FakeKubeApiServer({ token: 'k' });
    const url = await api.listen();
    dir = mkdtempSync(path.join(tmpdir(), `${RUN_PREFIX}k-`));
    writeFileSync(path.join(dir, 'kubeconfig'), kubeconfigYaml(url, 'k'));
    const kube = connectKube({ kubeconfigFile: path.join(dir, 'kubeconfig') });
    // four nodes with leases (nodes 1-2 publish annotations, 3-4 only have an InternalIP),
    // and a reservation held for node 5's address
    for (const i of [1, 2, 3, 4]) assert.ok(await registry.createLease(sub(i), attrs(i), 3600));
    assert.ok(await registry.reserve(sub(5), attrs(5)));
    for (const i of [1, 2]) api.createNode({ metadata: { name: `node-${i}`, annotations: leaseAnnotations(F, attrs(i), false) } });
    for (const i of [3, 4, 5]) api.createNode({ metadata: { name: `node-${i}` }, status: { addresses: [{ type: 'InternalIP', address: attrs(i).PublicIP.toString() }] } });
    releaser = runLeaseReleaser(kubeNodes(kube), registry, F, ac.signal, { log: createLogger('info', (l) => logged.push(JSON.parse(l))), retryMs: 100 });
    await waitFor('releaser watching', () => api.openWatches > 0);
  });

  after(async () => {
    ac.abort();
    await releaser?.catch(() => {});
    registry?.close();
    await api?.close();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const present = async () => (await registry.listLeases()).leases.map((l) => String(l.subnet)).sort();

  it('releases the lease of a deleted annotated Node and nothing else', async () => {
    api.deleteNode('node-1');
    await waitFor('lease of node-1 released', async () => !(await present()).includes('10.244.1.0/24'));
    assert.deepEqual(await present(), ['10.244.2.0/24', '10.244.3.0/24', '10.244.4.0/24', '10.244.5.0/24']);
    assert.deepEqual(released(), ['node-1:10.244.1.0/24']);
  });

  it('matches by InternalIP when the Node has no annotations', async () => {
    api.deleteNode('node-3');
    await waitFor('lease of node-3 released', async () => !(await present()).includes('10.244.3.0/24'));
  });

  it('keeps a lease whose address moved to a re-registered Node, and keeps reservations', async () => {
    api.createNode({ metadata: { name: 'node-4-renamed' }, status: { addresses: [{ type: 'InternalIP', address: attrs(4).PublicIP.toString() }] } });
    api.deleteNode('node-4');
    api.deleteNode('node-5');
    // a marker deletion after them: once it is handled, the two before it were too (in order)
    assert.ok(await registry.createLease(sub(6), attrs(6), 3600));
    api.createNode({ metadata: { name: 'node-6' }, status: { addresses: [{ type: 'InternalIP', address: attrs(6).PublicIP.toString() }] } });
    api.deleteNode('node-6');
    await waitFor('marker lease released', async () => !(await present()).includes('10.244.6.0/24'));
    assert.deepEqual(await present(), ['10.244.2.0/24', '10.244.4.0/24', '10.244.5.0/24']);
    const five = await registry.getLease(sub(5));
    assert.equal(five?.leaseId, undefined, 'still a reservation');
  });

  it('used only API calls the ClusterRole grants', () => {
    assert.ok(api.requests.length > 0);
    assert.deepEqual(api.requests.filter((r) => !isPermitted(r.method, r.url)), []);
  });
});
