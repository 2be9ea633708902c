// Dual stack: two nodes on an underlay with IPv4 and IPv6 addresses, real etcd, the built
// twilld with a network config that enables IPv6. Each node leases one subnet of each
// family under one key (flannel's `v4&v6`), publishes PublicIPv6 and BackendV6Data, writes
// both families to subnet.env, programs the IPv6 VXLAN device and per-peer entries; pods
// ping and ping6 across nodes; drift of IPv6 entries is repaired; --ip-masq covers IPv6
// (seen from an "outside" namespace); a restart keeps both subnets; host-gw works for IPv6;
// IPv6-only networks on an IPv6-only underlay; a flannel-style dual-stack node interoperates.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Cidr } from '../../lib/ip/cidr.js';
import { bridgeBatch, getLink, ipBatch, listNeighbours, listRoutes } from '../../lib/kernel/ip.js';
import { parseSubnetEnv } from '../../lib/schema/subnet-env.js';
import { EtcdServer } from '../../harness/etcd.js';
import { addPod, Pod } from '../../harness/pods.js';
import { CONFIG_KEY, Twilld } from '../../harness/twilld.js';
import { ctlAt } from '../helpers/twillctl.js';
import { DualUnderlay, dualUnderlay, ping4, ping6, v6OnlyUnderlay } from '../../harness/underlay6.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';

const NET6 = 'fd00:10:244::/56';
const dualConfig = (backend: Record<string, unknown> = {}) =>
  JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: NET6, Backend: { Type: 'vxlan', ...backend } });

for (const backend of ['vxlan', 'host-gw'] as const) {
  describe(`twilld dual stack (${backend})`, function () {
    this.timeout(120000);
    const world = new World(backend === 'vxlan' ? 'ds' : 'dh');
    let ul: DualUnderlay;
    let etcd: EtcdServer;
    let d: Twilld[];
    let p: Pod[];
    const n1 = () => netnsPath(ul.nodes[0].ns);
    const env = (i: number) => parseSubnetEnv(readFileSync(d[i].subnetFile, 'utf8'));

    before(async () => {
      ul = await dualUnderlay(world, 2);
      etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
      world.onCleanup(() => etcd.destroy());
      await etcd.start();
      await etcd.ctl(['put', CONFIG_KEY, dualConfig({ Type: backend })]);
      d = ul.nodes.slice(0, 2).map((n) => new Twilld(world, n, { etcd: etcd.endpoint, args: ['--ip-masq'] }).start());
      await Promise.all(d.map((x) => x.waitReady()));
      p = [await addPod(world, ul.nodes[0].ns, d[0].subnetFile, 1), await addPod(world, ul.nodes[1].ns, d[1].subnetFile, 1)];
    });

    after(async function () {
      if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d?.[0]?.logs.slice(-4000)}\n`);
      await world.cleanup();
    });

    it('leases one subnet per family under one key and writes both to subnet.env', async () => {
      for (const i of [0, 1]) {
        const e = env(i);
        assert.equal(String(e.ipv6Network), NET6);
        assert.ok(e.ipv6Subnet && Cidr.parse(NET6).contains(e.ipv6Subnet) && e.ipv6Subnet.prefix === 64, String(e.ipv6Subnet));
        assert.equal(e.mtu, backend === 'vxlan' ? 1430 : 1500, 'the IPv6 tunnel header decides the pod MTU');
      }
      assert.notEqual(String(env(0).ipv6Subnet), String(env(1).ipv6Subnet));
      const out = await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/']);
      const [key, value] = out.trim().split('\n');
      assert.match(key, /^\/coreos\.com\/network\/subnets\/10\.244\.\d+\.0-24&fd00:10:244:[0-9a-f]*::-64$/);
      const v = JSON.parse(value);
      assert.ok(ul.ip6.includes(v.PublicIPv6), v.PublicIPv6);
      if (backend === 'vxlan') assert.match(v.BackendV6Data.VtepMAC, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    });

    it('pods ping and ping6 each other across nodes', async () => {
      await waitFor('ping6 n1 -> n2', () => ping6(world, p[0], p[1].ip6!), 20000, 250);
      assert.ok(await ping6(world, p[1], p[0].ip6!), 'and back');
      assert.ok(await ping4(world, p[0], p[1].ip), 'IPv4 too');
    });

    it('carries TCP over IPv6 between pods on different nodes (iperf3, 1 s)', async () => {
      const server = world.spawnIn(p[1].ns, 'iperf3', ['-s', '-1', '-B', p[1].ip6!]);
      await waitFor('iperf3 server', async () => (await world.exec(p[1].ns, 'ss', ['-ltn'])).includes(`[${p[1].ip6}]:5201`), 5000, 50);
      const out = JSON.parse(await world.exec(p[0].ns, 'iperf3', ['-c', p[1].ip6!, '-t', '1', '-J']));
      server.kill('SIGKILL');
      assert.ok(out.end.sum_received.bytes > 1e6, `received ${out.end.sum_received.bytes} bytes`);
    });

    if (backend === 'vxlan') {
      it('programs the IPv6 VXLAN device on the node\'s IPv6 address, with route and neighbour per peer', async () => {
        const dev = await getLink(n1(), 'twill6.1');
        assert.ok(dev, 'twill6.1 exists');
        const info = dev!.linkinfo!.info_data as Record<string, unknown>;
        assert.equal(info.local6, ul.ip6[0]);
        assert.equal(info.id, 1);
        const peer6 = env(1).ipv6Subnet!;
        const r = (await listRoutes(n1(), 6)).find((x) => x.dst === String(peer6));
        assert.equal(r?.dev, 'twill6.1');
        assert.equal(r?.gateway, peer6.first.toString());
        assert.ok((await listNeighbours(n1(), 'twill6.1')).some((n) => n.dst === peer6.first.toString() && (n.state ?? []).includes('PERMANENT')));
      });

      it('repairs a deleted IPv6 route and neighbour', async () => {
        const peer6 = env(1).ipv6Subnet!;
        await ipBatch(n1(), [`route del ${peer6} dev twill6.1`, `neigh del ${peer6.first} dev twill6.1`]);
        await waitFor('IPv6 route back', async () => (await listRoutes(n1(), 6)).some((x) => x.dst === String(peer6)), 20000, 200);
        await waitFor('IPv6 neighbour back', async () => (await listNeighbours(n1(), 'twill6.1')).some((n) => n.dst === peer6.first.toString()), 20000, 200);
        assert.ok(await ping6(world, p[0], p[1].ip6!));
      });
    } else {
      it('routes the peer\'s IPv6 subnet via its PublicIPv6', async () => {
        const peer6 = env(1).ipv6Subnet!;
        const r = (await listRoutes(n1(), 6)).find((x) => x.dst === String(peer6));
        assert.equal(r?.gateway, ul.ip6[1]);
        assert.equal(r?.dev, 'eth0');
      });
    }

    it('masquerades pod traffic to the outside for IPv6 (ip6tables), not between pods', async () => {
      const save = await world.exec(ul.nodes[0].ns, 'ip6tables-save', []);
      assert.match(save, /-A TWILL-POSTRTG -s fd00:10:244::\/56 ! -d ff00::\/8 .*-j MASQUERADE --random-fully/);
      // the outside (the underlay namespace) has no route to the pod networks: a reply only
      // comes back when the source was rewritten to the node's address
      assert.ok(await ping6(world, p[0], ul.hostIp6), 'a pod reaches the outside over IPv6');
    });

    it('twillctl doctor checks the IPv6 half: healthy, then names planted IPv6 drift', async () => {
      const doctor = () => ctlAt(etcd.endpoint)(['doctor', '--subnet-file', d[0].subnetFile, '-o', 'json'], { netns: ul.nodes[0].ns });
      const ok = await doctor();
      assert.equal(ok.json?.errors, 0, ok.stdout + ok.stderr);
      await d[0].stop();
      const peer6 = env(1).ipv6Subnet!;
      await ipBatch(n1(), [`route del ${peer6}${backend === 'vxlan' ? ' dev twill6.1' : ''}`]);
      const bad = await doctor();
      const routes = bad.json.findings.filter((x: { check: string; subject: string }) => x.check === 'route' && x.subject.startsWith(String(peer6)));
      assert.equal(routes.length, 1, bad.stdout);
      // the restart below puts it back
    });

    it('a restart keeps both subnets', async () => {
      const before6 = String(env(0).ipv6Subnet);
      const before4 = String(env(0).subnet);
      await d[0].stop();
      d[0] = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, args: ['--ip-masq'] }).start();
      await d[0].waitReady();
      assert.equal(String(env(0).ipv6Subnet), before6);
      assert.equal(String(env(0).subnet), before4);
      assert.ok(await ping6(world, p[0], p[1].ip6!));
    });
  });
}

for (const backend of ['vxlan', 'host-gw'] as const) {
  describe(`twilld IPv6 only (${backend}, IPv6-only underlay)`, function () {
    this.timeout(120000);
    const world = new World(backend === 'vxlan' ? 'd6' : 'd6h');
    let ul: DualUnderlay;
    let etcd: EtcdServer;
    let d: Twilld[];
    const pods: Pod[] = [];

    before(async () => {
      ul = await v6OnlyUnderlay(world, 2);
      etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp6 });
      world.onCleanup(() => etcd.destroy());
      await etcd.start();
      await etcd.ctl(['put', CONFIG_KEY, JSON.stringify({ EnableIPv4: false, EnableIPv6: true, IPv6Network: NET6, Backend: { Type: backend } })]);
      d = ul.nodes.map((n) => new Twilld(world, n, { etcd: etcd.endpoint, args: ['--ip-masq'] }).start());
      await Promise.all(d.map((x) => x.waitReady()));
    });

    after(async function () {
      if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d?.[0]?.logs.slice(-4000)}\n`);
      await world.cleanup();
    });

    it('leases an IPv6 subnet alone, under flannel\'s IPv6-only key, and writes only the IPv6 keys', async () => {
      const text = readFileSync(d[0].subnetFile, 'utf8');
      assert.doesNotMatch(text, /FLANNEL_SUBNET=|FLANNEL_NETWORK=/);
      const e = parseSubnetEnv(text);
      assert.ok(e.ipv6Subnet && Cidr.parse(NET6).contains(e.ipv6Subnet));
      const out = await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/']);
      const [key, value] = out.trim().split('\n');
      assert.match(key, /^\/coreos\.com\/network\/subnets\/fd00:10:244:[0-9a-f]*::-64$/);
      const v = JSON.parse(value);
      assert.equal(v.PublicIP, '0.0.0.0', 'flannel\'s PublicIP of an IPv6-only node');
      assert.ok(ul.ip6.includes(v.PublicIPv6));
    });

    it('pods ping6 each other across nodes', async () => {
      // pods with an IPv6 address only: the helper adds what subnet.env has
      for (const [i, n] of ul.nodes.entries()) pods.push(await addPod(world, n.ns, d[i].subnetFile, 1));
      await waitFor('ping6 n1 -> n2', () => ping6(world, pods[0], pods[1].ip6!), 20000, 250);
      assert.ok(await ping6(world, pods[1], pods[0].ip6!), 'and back');
      if (backend === 'vxlan') assert.ok(await getLink(netnsPath(ul.nodes[0].ns), 'twill6.1'), 'the IPv6 VXLAN device');
      assert.equal(await getLink(netnsPath(ul.nodes[0].ns), 'twill.1'), undefined, 'no IPv4 device');
    });

    it('masquerades pod traffic to the outside with ip6tables', async () => {
      assert.ok(await ping6(world, pods[0], ul.hostIp6));
    });

    it('twillctl doctor finds an IPv6-only node healthy, and twillctl usage counts the IPv6 pool', async () => {
      const ctl = ctlAt(etcd.endpoint);
      const doc = await ctl(['doctor', '--subnet-file', d[0].subnetFile, '-o', 'json'], { netns: ul.nodes[0].ns });
      assert.equal(doc.json?.errors, 0, doc.stdout + doc.stderr);
      assert.equal(doc.json.peers, 1);
      const use = await ctl(['usage', '-o', 'json'], { netns: ul.ns });
      assert.equal(use.json.family, 6);
      assert.equal(use.json.network, NET6);
      assert.equal(use.json.used, 2);
      const get = await ctl(['leases', 'get', pods[1].ip6!, '-o', 'json'], { netns: ul.ns });
      assert.equal(get.json.lease.publicIPv6, ul.ip6[1], 'leases get by a pod\'s IPv6 address');
    });
  });
}

describe('twilld dual stack next to a flannel-style dual-stack node', function () {
  this.timeout(90000);
  const world = new World('dsf');
  let ul: DualUnderlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  const MAC4 = '02:fa:00:00:00:04';
  const MAC6 = '02:fa:00:00:00:06';

  before(async () => {
    ul = await dualUnderlay(world, 2);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
    await etcd.ctl(['put', CONFIG_KEY, dualConfig()]);
  });
  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  it('pods on both nodes ping and ping6 each other; each side reads the other\'s lease', async () => {
    // the flannel-style node: flannel.1 and flannel-v6.1, and its dual-stack lease in flannel's JSON
    const fl = ul.nodes[1];
    const flNs = netnsPath(fl.ns);
    await world.exec(fl.ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    await ipBatch(flNs, [
      `link add flannel.1 address ${MAC4} mtu 1450 type vxlan id 1 dev eth0 local ${fl.ip} dstport 8472 nolearning`,
      `link add flannel-v6.1 address ${MAC6} mtu 1430 type vxlan id 1 dev eth0 local ${ul.ip6[1]} dstport 8472 nolearning`,
      'addr add 10.244.50.0/32 dev flannel.1', 'addr add fd00:10:244:50::/128 dev flannel-v6.1 nodad',
      'link set flannel.1 up', 'link set flannel-v6.1 up',
    ]);
    const grant = await etcd.ctl(['lease', 'grant', '120']);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant)![1];
    await etcd.ctl(['put', '--lease', leaseId, '/coreos.com/network/subnets/10.244.50.0-24&fd00:10:244:50::-64', JSON.stringify({
      PublicIP: fl.ip, PublicIPv6: ul.ip6[1], BackendType: 'vxlan',
      BackendData: { VNI: 1, VtepMAC: MAC4 }, BackendV6Data: { VNI: 1, VtepMAC: MAC6 },
    })]);
    const flEnv = `${world.tmp}/flannel.subnet.env`;
    writeFileSync(flEnv, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.50.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:50::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n');
    const flPod = await addPod(world, fl.ns, flEnv, 1);

    d1 = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint }).start();
    await d1.waitReady();
    const twPod = await addPod(world, ul.nodes[0].ns, d1.subnetFile, 1);

    // what flanneld would program for twill's lease
    const env = parseSubnetEnv(readFileSync(d1.subnetFile, 'utf8'));
    const key = `/coreos.com/network/subnets/${env.subnet!.first}-24&${env.ipv6Subnet!.first}-64`;
    const tw = JSON.parse(await etcd.ctl(['get', key, '--print-value-only']));
    assert.equal(tw.PublicIPv6, ul.ip6[0]);
    await ipBatch(flNs, [
      `neigh replace ${env.subnet!.first} lladdr ${tw.BackendData.VtepMAC} dev flannel.1 nud permanent`,
      `route replace ${env.subnet} via ${env.subnet!.first} dev flannel.1 onlink`,
      `neigh replace ${env.ipv6Subnet!.first} lladdr ${tw.BackendV6Data.VtepMAC} dev flannel-v6.1 nud permanent`,
      `route replace ${env.ipv6Subnet} via ${env.ipv6Subnet!.first} dev flannel-v6.1 onlink`,
    ]);
    await bridgeBatch(flNs, [
      `fdb append ${tw.BackendData.VtepMAC} dev flannel.1 dst ${tw.PublicIP} self permanent`,
      `fdb append ${tw.BackendV6Data.VtepMAC} dev flannel-v6.1 dst ${tw.PublicIPv6} self permanent`,
    ]);

    assert.ok(await waitFor('twill pod -> flannel pod (IPv6)', () => ping6(world, twPod, flPod.ip6!), 15000, 250));
    assert.ok(await ping6(world, flPod, twPod.ip6!), 'flannel pod -> twill pod (IPv6)');
    assert.ok(await ping4(world, twPod, flPod.ip), 'and IPv4');
    assert.ok(await ping4(world, flPod, twPod.ip));
  });
});
