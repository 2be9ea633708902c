// Pod networking on the real cluster, with pods the kubelet starts through containerd's CRI
// (which runs twill from /opt/cni/bin with the installed conflist): every pod's address is
// from its node's spec.podCIDR (in a dual-stack cluster one address from each of the node's
// spec.podCIDRs); pods reach each other across nodes over TCP and UDP, on every family; a
// hostPort is reachable from the other node through portmap; ClusterIP Services (kube-proxy)
// reach a pod on the other node and on the same node; deleting pods releases their addresses
// (the IPAM directory then holds only the addresses of pods that still exist); a burst of 30 pods per node all start and all clean up.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { waitFor } from '../../harness/world.js';
import { theCluster, theFamily } from './setup.js';
import { createPods, deletePods, dial, ensureNamespace, netexecPod, PodInfo, TEST_NS, waitPodsReady } from './lib/pods.js';
import { waitTwillReady } from './lib/twill.js';
import type { K8sCluster } from './lib/cluster.js';

/** Addresses the plugin holds on a node: the files in its IPAM directory named by an address. */
function ipamEntries(c: K8sCluster, node: string): string[] {
  const root = c.nodes.find((n) => n.name === node)!.hostDir('/var/lib/cni');
  const dir = path.join(root, 'networks', 'twill');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => Ip.tryParse(f) !== undefined);
}

/** Addresses of the pod-network pods that exist on a node (any namespace, e.g. CoreDNS too). */
async function livePodIps(c: K8sCluster, node: string): Promise<Set<string>> {
  const items = (await c.kubectlJson(['get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`])).items as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Set(items.filter((p) => !p.spec.hostNetwork && p.status.podIP).flatMap((p) => (p.status.podIPs as { ip: string }[]).map((x) => x.ip)));
}

/** Deleting pods released their addresses: none of `ips` is held, nor any address no live pod has. */
async function waitReleased(c: K8sCluster, ips: string[]): Promise<void> {
  for (const n of c.nodes) {
    await waitFor(`${n.name}'s IPAM directory holds only live pods' addresses`, async () => {
      const live = await livePodIps(c, n.name);
      const held = ipamEntries(c, n.name);
      return held.every((ip) => live.has(ip) && !ips.includes(ip));
    }, 120000, 500);
  }
}

/** Each node's spec.podCIDRs (one per family of the cluster). */
async function podCidrs(c: K8sCluster): Promise<Map<string, Cidr[]>> {
  const items = (await c.kubectlJson(['get', 'nodes'])).items as { metadata: { name: string }; spec: { podCIDRs: string[] } }[];
  return new Map(items.map((n) => [n.metadata.name, n.spec.podCIDRs.map((x) => Cidr.parse(x))]));
}

/** Every address of the pod is from its node's podCIDR of that family, one per family, and held in the node's IPAM directory. */
function assertAddresses(c: K8sCluster, p: PodInfo, cidrs: Map<string, Cidr[]>): void {
  const mine = cidrs.get(p.node)!;
  assert.equal(p.ips.length, mine.length, `${p.name} has ${p.ips.join(', ')}; ${p.node}'s podCIDRs are ${mine.join(', ')}`);
  const held = ipamEntries(c, p.node);
  for (const [i, cidr] of mine.entries()) {
    assert.ok(cidr.contains(Ip.parse(p.ips[i])), `${p.name} ${p.ips[i]} not in ${p.node}'s ${cidr}`);
    assert.ok(held.includes(p.ips[i]), `${p.name} ${p.ips[i]} not in ${p.node}'s IPAM directory`);
  }
}

describe('k8s: pods on twill', function () {
  this.timeout(900000);
  const c = () => theCluster();

  before(async () => {
    await waitTwillReady(c());
    await ensureNamespace(c());
  });

  it(`gives every pod an address from its node's podCIDR (${theFamily()}), and pods on different nodes talk over TCP and UDP`, async () => {
    const nodes = c().nodes.map((n) => n.name);
    const names = nodes.map((n) => `net-${n}`);
    await createPods(c(), nodes.map((n, i) => netexecPod(names[i], n)));
    const pods = await waitPodsReady(c(), names);
    const cidrs = await podCidrs(c());
    assert.equal([...cidrs.values()][0].length, c().ipFamily === 'dual' ? 2 : 1, 'podCIDRs per node');
    for (const p of pods) assertAddresses(c(), p, cidrs);
    for (const a of pods) {
      for (const b of pods) {
        if (a === b) continue;
        for (const ip of b.ips) {
          assert.deepEqual(await dial(c(), a.name, 'http', ip, 8080), [b.name], `TCP ${a.name} -> ${b.name} ${ip}`);
          assert.deepEqual(await dial(c(), a.name, 'udp', ip, 8081), [b.name], `UDP ${a.name} -> ${b.name} ${ip}`);
        }
      }
    }
    await deletePods(c(), names);
    await waitReleased(c(), pods.flatMap((p) => p.ips));
  });

  it('reaches a hostPort pod through portmap from the other node', async () => {
    const [n1, n2] = c().nodes;
    await createPods(c(), [netexecPod('hostport', n1.name, { hostPort: 31080 })]);
    await waitPodsReady(c(), ['hostport']);
    const out = await n2.exec('curl', ['-sS', '--max-time', '20', `http://${n1.ip}:31080/hostname`]);
    assert.equal(out.trim(), 'hostport');
    await deletePods(c(), ['hostport']);
  });

  it('carries ClusterIP Service traffic (kube-proxy) to a pod on another node and on the same node', async () => {
    const [n1, n2] = c().nodes;
    await createPods(c(), [
      netexecPod('svc-backend', n2.name, { labels: { app: 'svc-backend' } }),
      netexecPod('svc-client-far', n1.name), netexecPod('svc-client-near', n2.name),
    ]);
    await waitPodsReady(c(), ['svc-backend', 'svc-client-far', 'svc-client-near']);
    await c().kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc-backend', namespace: TEST_NS },
      spec: { selector: { app: 'svc-backend' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'udp', port: 81, targetPort: 8081, protocol: 'UDP' }] },
    }));
    const svc = await c().kubectlJson(['-n', TEST_NS, 'get', 'svc', 'svc-backend']);
    const ip = svc.spec.clusterIP as string;
    // kube-proxy programs the rules once the EndpointSlice exists: wait for the first answer
    await waitFor('kube-proxy rules for svc-backend', async () => (await dial(c(), 'svc-client-far', 'http', ip, 80))[0] === 'svc-backend', 120000, 1000);
    for (const client of ['svc-client-far', 'svc-client-near']) {
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await dial(c(), client, 'http', ip, 80), ['svc-backend'], `TCP ${client} -> ${ip}:80`);
        assert.deepEqual(await dial(c(), client, 'udp', ip, 81), ['svc-backend'], `UDP ${client} -> ${ip}:81`);
      }
    }
    await c().kubectl(['-n', TEST_NS, 'delete', 'svc', 'svc-backend']);
    await deletePods(c(), ['svc-backend', 'svc-client-far', 'svc-client-near']);
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
    try {
      const ready = await waitPodsReady(c(), names, 600000);
      const cidrs = await podCidrs(c());
      const ips = new Set(ready.flatMap((p) => p.ips));
      assert.equal(ips.size, names.length * cidrs.get(ready[0].node)!.length, 'every pod has its own address(es)');
      for (const p of ready) assertAddresses(c(), p, cidrs);
      await deletePods(c(), names);
      await waitReleased(c(), [...ips]);
    } finally {
      await c().kubectl(['-n', TEST_NS, 'delete', 'pod', '-l', 'app=netexec', '--ignore-not-found', '--wait=true']).catch(() => {});
    }
  });
});
