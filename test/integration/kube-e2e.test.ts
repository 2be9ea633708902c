// Kube mode end to end: the test API server (behind a TCP relay in the underlay namespace)
// holds Node objects with podCIDRs; the built twilld runs with --kube-subnet-mgr in each node
// namespace; pods are set up by the built twill plugin with the manifests' conflist entry;
// pods ping across nodes. Then a node joins (peers learn it from the watch) and leaves
// (its routes go). Asserts the annotations, NetworkUnavailable=False and that every API
// call is one the ClusterRole grants.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { annotationNames } from '../../lib/kube/annotations.js';
import { isPermitted } from '../helpers/kube-permissions.js';
import { getLink, listRoutes } from '../../lib/kernel/ip.js';
import { readSubnetEnv } from '../../lib/schema/subnet-env.js';
import { REPO_ROOT, runCni } from '../../harness/cni.js';
import { FakeKubeApiServer, KubeNode, serveApiInUnderlay } from '../../harness/kube-apiserver.js';
import { Twilld } from '../../harness/twilld.js';
import { addUnderlayNode, buildUnderlay, netnsPath, Underlay, UnderlayNode, waitFor, World } from '../../harness/world.js';

const F = annotationNames();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function manifestConflist(): { name: string; cniVersion: string; plugins: Record<string, any>[] } {
  const docs = loadAll(readFileSync(path.join(REPO_ROOT, 'manifests/02-config.yaml'), 'utf8')) as { data: Record<string, string> }[];
  return JSON.parse(docs[0].data['cni-conf.json']);
}

/** The twill entry of the manifests' conflist, as a runtime hands it to the plugin. */
function manifestPluginConf(): Record<string, unknown> {
  const list = manifestConflist();
  return { ...list.plugins[0], name: list.name, cniVersion: list.cniVersion };
}

describe('kube mode end to end (twilld --kube-subnet-mgr, plugin, test API server)', function () {
  this.timeout(180000);
  const world = new World('k');
  const api = new FakeKubeApiServer({ token: 'e2e' });
  let ul: Underlay;
  let kubeconfig: string;
  let netConf: string;
  const daemons = new Map<string, Twilld>();
  const pods = new Map<string, { ns: string; ip: string }>();

  const nodeName = (n: UnderlayNode) => n.ns.slice(world.prefix.length + 1); // "n1"
  const podCidrOf = (i: number) => `10.244.${i}.0/24`;

  function registerNode(n: UnderlayNode, i: number): void {
    api.createNode({
      metadata: { name: nodeName(n) },
      spec: { podCIDR: podCidrOf(i), podCIDRs: [podCidrOf(i)] },
      status: {
        addresses: [{ type: 'InternalIP', address: n.ip }],
        // cloud route controllers start nodes with this; the network provider clears it
        conditions: [{ type: 'NetworkUnavailable', status: 'True', reason: 'NoRouteCreated' }],
      },
    } as KubeNode);
  }

  async function startDaemon(n: UnderlayNode, port: number): Promise<Twilld> {
    const d = new Twilld(world, n, {
      etcd: 'http://127.0.0.1:2379', // unused in kube mode
      healthzPort: port,
      args: ['--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf, '--node-name', nodeName(n)],
    }).start();
    daemons.set(nodeName(n), d);
    await d.waitReady(60000);
    return d;
  }

  async function addPod(n: UnderlayNode): Promise<{ ns: string; ip: string }> {
    const name = nodeName(n);
    const ns = await world.addNetns(`${name}p1`);
    const conf = { ...manifestPluginConf(), subnetFile: daemons.get(name)!.subnetFile, dataDir: path.join(world.tmp, `${name}-ipam`) };
    const out = await runCni({ command: 'ADD', config: conf, containerId: `${world.prefix}-${name}-pod1`, netns: ns, ifname: 'eth0', runIn: n.ns });
    assert.equal(out.code, 0, `plugin ADD on ${name}: ${out.stdout}${out.stderr}`);
    const ip = String(out.json.ips[0].address).split('/')[0];
    const pod = { ns, ip };
    pods.set(name, pod);
    return pod;
  }

  const ping = (from: { ns: string }, to: string) => world.exec(from.ns, 'ping', ['-c', '1', '-W', '2', to]).then(() => true, () => false);

  before(async () => {
    ul = await buildUnderlay(world, 2);
    kubeconfig = await serveApiInUnderlay(world, ul.ns, api, 'e2e');
    netConf = path.join(world.tmp, 'net-conf.json');
    const docs = loadAll(readFileSync(path.join(REPO_ROOT, 'manifests/02-config.yaml'), 'utf8')) as { data: Record<string, string> }[];
    writeFileSync(netConf, docs[0].data['net-conf.json']); // the manifests' network config, as mounted
    ul.nodes.forEach((n, i) => registerNode(n, i + 1));
    await Promise.all(ul.nodes.map((n, i) => startDaemon(n, 9300 + i)));
  });

  after(async () => {
    for (const d of daemons.values()) await d.stop();
    await world.cleanup();
  });

  it('each node takes its spec.podCIDR as its subnet', () => {
    ul.nodes.forEach((n, i) => {
      const env = readSubnetEnv(daemons.get(nodeName(n))!.subnetFile);
      assert.equal(String(env.subnet), podCidrOf(i + 1));
      assert.equal(String(env.network), '10.244.0.0/16');
    });
  });

  it('publishes flannel annotations that match the node kernel state', async () => {
    for (const n of ul.nodes) {
      const ann = api.getNode(nodeName(n))!.metadata.annotations ?? {};
      assert.equal(ann[F.publicIP], n.ip);
      assert.equal(ann[F.backendType], 'vxlan');
      assert.equal(ann[F.kubeSubnetManager], 'true');
      const vtep = await getLink(netnsPath(n.ns), 'twill.1');
      assert.ok(vtep?.address, `twill.1 exists on ${n.ns}`);
      assert.deepEqual(JSON.parse(ann[F.backendData]), { VNI: 1, VtepMAC: vtep.address });
    }
  });

  it('sets NetworkUnavailable=False once ready', async () => {
    for (const n of ul.nodes) {
      await waitFor(`NetworkUnavailable=False on ${nodeName(n)}`, () => {
        const c = api.getNode(nodeName(n))!.status?.conditions?.find((x) => x.type === 'NetworkUnavailable');
        return c?.status === 'False' && c.reason === 'TwillIsUp';
      });
    }
  });

  it('pods set up by the plugin ping each other across nodes', async () => {
    const [a, b] = [await addPod(ul.nodes[0]), await addPod(ul.nodes[1])];
    assert.ok(a.ip.startsWith('10.244.1.') && b.ip.startsWith('10.244.2.'), `${a.ip} ${b.ip}`);
    await waitFor('pod on n1 reaches pod on n2', () => ping(a, b.ip), 30000, 250);
    assert.ok(await ping(b, a.ip), 'and back');
  });

  it("chains portmap after twill as the conflist says: a hostPort reaches the pod", async () => {
    const node = ul.nodes[1];
    const list = manifestConflist();
    const ns = await world.addNetns('n2p2');
    const id = `${world.prefix}-n2-pod2`;
    const first = { ...list.plugins[0], name: list.name, cniVersion: list.cniVersion, subnetFile: daemons.get('n2')!.subnetFile, dataDir: path.join(world.tmp, 'n2-ipam') };
    const a = await runCni({ command: 'ADD', config: first, containerId: id, netns: ns, ifname: 'eth0', runIn: node.ns });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // the runtime fills the capability the conflist declares and passes the previous result on
    const second = { ...list.plugins[1], name: list.name, cniVersion: list.cniVersion, prevResult: a.json,
      runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp' }] } };
    const b = await runCni({ command: 'ADD', config: second, containerId: id, netns: ns, ifname: 'eth0', runIn: node.ns, binary: '/usr/lib/cni/portmap', path: '/usr/lib/cni' });
    assert.equal(b.code, 0, `portmap: ${b.stdout}${b.stderr}`);
    const server = world.spawnIn(ns, process.execPath, ['-e', "require('net').createServer((s) => s.end('hello from the pod')).listen(8080, () => console.log('up'))"]);
    await new Promise((r) => server.stdout!.once('data', r));
    const fetchScript = `const s = require('net').connect(18080, '${node.ip}'); let d = ''; s.on('data', (b) => d += b); s.on('end', () => console.log(d)); s.on('error', (e) => { console.error(e.message); process.exit(1); })`;
    const got = await waitFor('hostPort answers', () => world.exec(ul.ns, process.execPath, ['-e', fetchScript]), 15000, 250);
    assert.equal(got.trim(), 'hello from the pod');
  });

  it('a node that joins later is learnt from the watch, and its pods are reachable', async () => {
    const n3 = await addUnderlayNode(world, ul);
    registerNode(n3, 3);
    await startDaemon(n3, 9302);
    const c = await addPod(n3);
    await waitFor('pod on n1 reaches pod on n3', () => ping(pods.get('n1')!, c.ip), 30000, 250);
  });

  it('deleting a Node removes its routes on the other nodes', async () => {
    const n1 = netnsPath(ul.nodes[0].ns);
    const hasRoute = async () => (await listRoutes(n1)).some((r) => r.dst === podCidrOf(3));
    assert.ok(await hasRoute(), 'route to n3 before');
    await daemons.get('n3')!.stop();
    api.deleteNode('n3');
    await waitFor('route to the deleted node gone on n1', async () => !(await hasRoute()), 30000, 250);
    assert.ok(await ping(pods.get('n1')!, pods.get('n2')!.ip), 'remaining nodes unaffected');
  });

  it('a Node whose annotations are hostile gets no kernel entry, runs nothing, and the others keep talking', async () => {
    const marker = path.join(world.tmp, 'pwned-by-annotation');
    api.createNode({
      metadata: { name: 'evil', annotations: {
        [F.kubeSubnetManager]: 'true', [F.backendType]: 'vxlan', [F.publicIP]: '198.18.0.66',
        [F.backendData]: JSON.stringify({ VNI: 1, VtepMAC: `02:00:00:00:00:66\nnetns exec ${ul.ns} touch ${marker}` }),
      } },
      spec: { podCIDR: podCidrOf(66), podCIDRs: [podCidrOf(66)] },
    } as KubeNode);
    const d1 = daemons.get('n1')!;
    await waitFor('the hostile Node is counted as invalid', async () => /^twill_invalid_leases 1$/m.test((await d1.http('/metrics')).body), 30000, 250);
    const n1 = netnsPath(ul.nodes[0].ns);
    assert.ok(!(await listRoutes(n1)).some((r) => r.dst === podCidrOf(66)), 'no route for the hostile Node');
    assert.ok(!existsSync(marker), 'an annotation ran a command');
    assert.match(d1.logs, new RegExp(`"field":"${F.backendData.replace(/[.]/g, '\\.')}\\.VtepMAC"`), 'the log names the annotation');
    assert.equal((await d1.http('/healthz')).status, 200);
    assert.ok(await ping(pods.get('n1')!, pods.get('n2')!.ip), 'the valid nodes keep talking');
    api.deleteNode('evil');
  });

  it('made only API calls the ClusterRole grants', () => {
    assert.ok(api.requests.length > 0);
    assert.deepEqual(api.requests.filter((r) => !isPermitted(r.method, r.url)).map((r) => `${r.method} ${r.url}`), []);
    assert.ok(api.requests.some((r) => r.url.includes('watch=true')), 'watched Nodes');
  });
});
