// twill installed as the README says (kubectl apply -f manifests/, image name set) on a real
// cluster: the DaemonSet's pods become Ready on every node, each Node gets twill's
// annotations and NetworkUnavailable=False, the init containers put the plugin and the
// conflist into each node's own /opt/cni/bin and /etc/cni/net.d, and the nodes turn Ready.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { run } from '../../lib/exec.js';
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

  it('puts the plugin, portmap, loopback and the conflist into each node\'s own directories', () => {
    const c = theCluster();
    for (const n of c.nodes) {
      for (const plugin of ['twill', 'portmap', 'loopback']) {
        const f = `${n.hostDir('/opt/cni/bin')}/${plugin}`;
        assert.ok(existsSync(f), `${n.name}: ${f}`);
        assert.equal(statSync(f).mode & 0o777, 0o755, `${n.name}: ${plugin} mode`);
      }
      const conflist = JSON.parse(readFileSync(`${n.hostDir('/etc/cni/net.d')}/10-twill.conflist`, 'utf8'));
      assert.deepEqual(conflist.plugins.map((p: { type: string }) => p.type), ['twill', 'portmap']);
      const env = readFileSync(`${n.hostDir('/run/flannel')}/subnet.env`, 'utf8');
      assert.match(env, /FLANNEL_SUBNET=10\.244\./);
      if (c.ipFamily === 'dual') assert.match(env, /FLANNEL_IPV6_SUBNET=fd00:10:244:/);
      else assert.doesNotMatch(env, /FLANNEL_IPV6/);
    }
  });

  it('runs an image of at most 200 MB uncompressed, built from the Dockerfile', async () => {
    const c = theCluster();
    const bytes = Number((await run('podman', ['image', 'inspect', '--format', '{{.Size}}', c.artifacts.twillImage])).trim());
    assert.ok(bytes > 100e6, `${bytes} bytes: not the image with the executable in it?`);
    assert.ok(bytes <= 200e6, `the twill image is ${(bytes / 1e6).toFixed(1)} MB, over 200 MB`);
  });

  it('keeps a node\'s own loopback plugin and installs one where the node has none', () => {
    const c = theCluster();
    const [kubeadmLike, bare] = c.nodes;
    // node1 started with the runtime's copy (harness: runtimeLoopback), written before twill's
    // init containers ran: --if-missing leaves it alone, so it is older than twill's plugin
    const own = statSync(`${kubeadmLike.hostDir('/opt/cni/bin')}/loopback`);
    assert.ok(own.mtimeMs < statSync(`${kubeadmLike.hostDir('/opt/cni/bin')}/twill`).mtimeMs, 'node1 kept its own loopback');
    // node2 had none: twill's init container installed it, after the plugin
    const ours = statSync(`${bare.hostDir('/opt/cni/bin')}/loopback`);
    assert.ok(ours.mtimeMs >= statSync(`${bare.hostDir('/opt/cni/bin')}/twill`).mtimeMs, 'node2 got twill\'s loopback');
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
      if (c.ipFamily === 'dual') {
        assert.equal(ann[F.publicIPv6], c.nodes.find((k) => k.name === name)!.ip6, `${name} ${F.publicIPv6}`);
        assert.match(JSON.parse(ann[F.backendV6Data]).VtepMAC, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, `${name} ${F.backendV6Data}`);
      }
      const cond = n.status.conditions.find((x: { type: string }) => x.type === 'NetworkUnavailable');
      assert.ok(cond, `${name} has no NetworkUnavailable condition`);
      assert.equal(cond.status, 'False', `${name} NetworkUnavailable`);
      assert.equal(cond.reason, 'TwillIsUp', `${name} NetworkUnavailable reason`);
    }
  });
});
