// etcd mode with Kubernetes API access, end to end with the built twilld: each node leases
// its subnet from a real etcd (in the underlay namespace), publishes flannel's annotations
// and NetworkUnavailable=False on its Node; when a dead node's Node object is deleted, a
// surviving twilld releases that node's lease at once instead of after the TTL.
import assert from 'node:assert/strict';
import { annotationNames } from '../../lib/kube/annotations.js';
import { isPermitted } from '../helpers/kube-permissions.js';
import { EtcdServer } from '../../harness/etcd.js';
import { FakeKubeApiServer, KubeNode, serveApiInUnderlay } from '../../harness/kube-apiserver.js';
import { CONFIG_KEY, netConfig, Twilld } from '../../harness/twilld.js';
import { buildUnderlay, Underlay, UnderlayNode, waitFor, World } from '../../harness/world.js';

const F = annotationNames();

describe('etcd mode with API access: annotations, condition, Node deletion releases the lease', function () {
  this.timeout(180000);
  const world = new World('k');
  const api = new FakeKubeApiServer({ token: 'e2e' });
  let ul: Underlay;
  let etcd: EtcdServer;
  const daemons: Twilld[] = [];
  const name = (n: UnderlayNode) => n.ns.slice(world.prefix.length + 1);

  const leases = async () => {
    const out = await etcd.ctl(['get', '--prefix', '--keys-only', '/coreos.com/network/subnets/']);
    return out.split('\n').filter(Boolean).map((k) => k.slice(k.lastIndexOf('/') + 1)).sort();
  };
  const leaseOf = async (ip: string) => {
    const out = await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '-w', 'json']);
    const kvs = (JSON.parse(out).kvs ?? []) as { key: string; value: string }[];
    const hit = kvs.find((kv) => JSON.parse(Buffer.from(kv.value, 'base64').toString()).PublicIP === ip);
    return hit && Buffer.from(hit.key, 'base64').toString();
  };

  before(async () => {
    ul = await buildUnderlay(world, 2);
    etcd = await new EtcdServer({ netns: ul.ns, host: ul.hostIp }).start();
    world.onCleanup(() => etcd.destroy());
    await etcd.ctl(['put', CONFIG_KEY, netConfig()]);
    const kubeconfig = await serveApiInUnderlay(world, ul.ns, api, 'e2e');
    for (const n of ul.nodes) {
      api.createNode({ metadata: { name: name(n) }, status: { addresses: [{ type: 'InternalIP', address: n.ip }] } } as KubeNode);
    }
    for (const [i, n] of ul.nodes.entries()) {
      const d = new Twilld(world, n, { etcd: etcd.endpoint, healthzPort: 9310 + i, args: ['--kubeconfig-file', kubeconfig, '--node-name', name(n), '--subnet-lease-ttl', '1h', '--subnet-lease-renew-margin', '10m'] }).start();
      daemons.push(d);
    }
    await Promise.all(daemons.map((d) => d.waitReady(60000)));
  });

  after(async () => {
    for (const d of daemons) await d.stop();
    await world.cleanup();
  });

  it('publishes annotations (without kube-subnet-manager) and NetworkUnavailable=False', async () => {
    for (const n of ul.nodes) {
      await waitFor(`published on ${name(n)}`, () => {
        const node = api.getNode(name(n))!;
        const cond = node.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
        return node.metadata.annotations?.[F.publicIP] === n.ip && cond?.status === 'False';
      });
      const ann = api.getNode(name(n))!.metadata.annotations!;
      assert.equal(ann[F.backendType], 'vxlan');
      assert.ok(JSON.parse(ann[F.backendData]).VtepMAC);
      assert.equal(ann[F.kubeSubnetManager], undefined, 'etcd mode: not a kube-managed node');
    }
  });

  it('releases the lease of a dead node when its Node object is deleted', async () => {
    const [n1, n2] = ul.nodes;
    assert.equal((await leases()).length, 2);
    const key2 = await leaseOf(n2.ip);
    assert.ok(key2, 'n2 holds a lease');
    await daemons[1].stop(); // the node dies: its lease would otherwise live for the 1 h TTL
    assert.ok(await leaseOf(n2.ip), 'a stopped daemon leaves its lease in place');
    api.deleteNode(name(n2));
    await waitFor('n2 lease released by n1', async () => !(await leaseOf(n2.ip)), 30000, 250);
    assert.ok(await leaseOf(n1.ip), "the survivor's own lease stays");
    assert.match(daemons[0].logs, /released the lease of a deleted Node/);
  });

  it('made only API calls the ClusterRole grants', () => {
    assert.deepEqual(api.requests.filter((r) => !isPermitted(r.method, r.url)).map((r) => `${r.method} ${r.url}`), []);
  });
});
