// Pod networking on the real cluster, with pods the kubelet starts through containerd's CRI
// (which runs twill from /opt/cni/bin with the installed conflist): every pod's address is
// from its node's spec.podCIDR; pods reach each other across nodes over TCP and UDP; a
// hostPort is reachable from the other node through portmap; deleting the pods empties the
// IPAM directory; a burst of 30 pods per node all start and all clean up.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { waitFor } from '../helpers/world.js';
import { theCluster } from './setup.js';
import { createPods, deletePods, dial, ensureNamespace, netexecPod, waitPodsReady } from './lib/pods.js';
import { waitTwillReady } from './lib/twill.js';
import type { K8sCluster } from './lib/cluster.js';

/** Addresses the plugin holds on a node: files in its IPAM directory other than locks and markers. */
function ipamEntries(c: K8sCluster, node: string): string[] {
  const root = c.nodes.find((n) => n.name === node)!.hostDir('/var/lib/cni');
  const dir = path.join(root, 'networks', 'twill');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
}

async function podCidrs(c: K8sCluster): Promise<Map<string, string>> {
  const items = (await c.kubectlJson(['get', 'nodes'])).items as { metadata: { name: string }; spec: { podCIDR: string } }[];
  return new Map(items.map((n) => [n.metadata.name, n.spec.podCIDR]));
}

describe('k8s: pods on twill', function () {
  this.timeout(900000);
  const c = () => theCluster();

  before(async () => {
    await waitTwillReady(c());
    await ensureNamespace(c());
  });

  it('gives every pod an address from its node\'s podCIDR, and pods on different nodes talk over TCP and UDP', async () => {
    const nodes = c().nodes.map((n) => n.name);
    const names = nodes.map((n) => `net-${n}`);
    await createPods(c(), nodes.map((n, i) => netexecPod(names[i], n)));
    const pods = await waitPodsReady(c(), names);
    const cidrs = await podCidrs(c());
    for (const p of pods) {
      assert.ok(Cidr.parse(cidrs.get(p.node)!).contains(Ip.parse(p.ip)), `${p.name} ${p.ip} not in ${p.node}'s ${cidrs.get(p.node)}`);
      assert.equal(ipamEntries(c(), p.node).includes(p.ip), true, `${p.ip} not in ${p.node}'s IPAM directory`);
    }
    for (const a of pods) {
      for (const b of pods) {
        if (a === b) continue;
        assert.deepEqual(await dial(c(), a.name, 'http', b.ip, 8080), [b.name], `TCP ${a.name} -> ${b.name}`);
        assert.deepEqual(await dial(c(), a.name, 'udp', b.ip, 8081), [b.name], `UDP ${a.name} -> ${b.name}`);
      }
    }
    await deletePods(c(), names);
    for (const n of nodes) await waitFor(`${n}'s IPAM directory empty`, () => ipamEntries(c(), n).length === 0, 60000, 250);
  });

  it('reaches a hostPort pod through portmap from the other node', async () => {
    const [n1, n2] = c().nodes;
    await createPods(c(), [netexecPod('hostport', n1.name, { hostPort: 31080 })]);
    await waitPodsReady(c(), ['hostport']);
    const out = await n2.exec('curl', ['-sS', '--max-time', '20', `http://${n1.ip}:31080/hostname`]);
    assert.equal(out.trim(), 'hostport');
    await deletePods(c(), ['hostport']);
  });

  it('starts a burst of 30 pods per node and releases every address when they are deleted', async () => {
    const names: string[] = [];
    const pods: object[] = [];
    for (const n of c().nodes) {
      for (let i = 0; i < 30; i++) {
        const name = `burst-${n.name}-${i}`;
        names.push(name);
        pods.push(netexecPod(name, n.name, { args: ['pause'] }));
      }
    }
    await createPods(c(), pods);
    const ready = await waitPodsReady(c(), names, 600000);
    const cidrs = await podCidrs(c());
    const ips = new Set(ready.map((p) => p.ip));
    assert.equal(ips.size, names.length, 'every pod has its own address');
    for (const p of ready) assert.ok(Cidr.parse(cidrs.get(p.node)!).contains(Ip.parse(p.ip)), `${p.name} ${p.ip} outside ${p.node}'s podCIDR`);
    for (const n of c().nodes) assert.equal(ipamEntries(c(), n.name).length, 30, `${n.name} IPAM entries`);
    await deletePods(c(), names);
    for (const n of c().nodes) await waitFor(`${n.name}'s IPAM directory empty`, () => ipamEntries(c(), n.name).length === 0, 120000, 250);
  });
});
