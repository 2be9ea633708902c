// twill installed as the README says (kubectl apply -f manifests/, image name set) on a real
// cluster: the DaemonSet's pods become Ready on every node, each Node gets twill's
// annotations and NetworkUnavailable=False, the init containers put the plugin and the
// conflist into each node's own /opt/cni/bin and /etc/cni/net.d, and the nodes turn Ready.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { annotationNames } from '../../lib/kube/annotations.js';
import { waitFor } from '../../harness/world.js';
import { theCluster } from './setup.js';
import { waitTwillReady } from './lib/twill.js';

const F = annotationNames();

describe('k8s: twill installed from manifests/', function () {
  this.timeout(600000);

  it('runs one Ready kube-twill-ds pod on every node', async () => {
    const c = theCluster();
    const pods = await waitTwillReady(c);
    assert.deepEqual(pods.map((p) => p.node).sort(), c.nodes.map((n) => n.name).sort());
  });

  it('puts the plugin, portmap and the conflist into each node\'s own directories', () => {
    const c = theCluster();
    for (const n of c.nodes) {
      for (const plugin of ['twill', 'portmap']) {
        const f = `${n.hostDir('/opt/cni/bin')}/${plugin}`;
        assert.ok(existsSync(f), `${n.name}: ${f}`);
        assert.equal(statSync(f).mode & 0o777, 0o755, `${n.name}: ${plugin} mode`);
      }
      const conflist = JSON.parse(readFileSync(`${n.hostDir('/etc/cni/net.d')}/10-twill.conflist`, 'utf8'));
      assert.deepEqual(conflist.plugins.map((p: { type: string }) => p.type), ['twill', 'portmap']);
      assert.match(readFileSync(`${n.hostDir('/run/flannel')}/subnet.env`, 'utf8'), /FLANNEL_SUBNET=10\.244\./);
    }
  });

  it('annotates every Node, sets NetworkUnavailable=False, and the Nodes turn Ready', async () => {
    const c = theCluster();
    const nodes = await waitFor('every Node Ready', async () => {
      const items = (await c.kubectlJson(['get', 'nodes'])).items as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
      const ready = items.every((n) => n.status.conditions.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True'));
      return ready ? items : undefined;
    }, 180000, 1000);
    for (const n of nodes!) {
      const name = n.metadata.name as string;
      const ann = n.metadata.annotations;
      const ip = c.nodes.find((k) => k.name === name)!.ip;
      assert.equal(ann[F.publicIP], ip, `${name} ${F.publicIP}`);
      assert.equal(ann[F.backendType], 'vxlan', `${name} ${F.backendType}`);
      assert.match(JSON.parse(ann[F.backendData]).VtepMAC, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, `${name} ${F.backendData}`);
      assert.equal(ann[F.kubeSubnetManager], 'true', `${name} ${F.kubeSubnetManager}`);
      const cond = n.status.conditions.find((x: { type: string }) => x.type === 'NetworkUnavailable');
      assert.ok(cond, `${name} has no NetworkUnavailable condition`);
      assert.equal(cond.status, 'False', `${name} NetworkUnavailable`);
      assert.equal(cond.reason, 'TwillIsUp', `${name} NetworkUnavailable reason`);
    }
  });
});
