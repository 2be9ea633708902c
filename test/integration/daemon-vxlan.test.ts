// Two nodes on a real underlay, real etcd, the built twilld in each node namespace, vxlan.
// Pods ping across nodes; the kernel and etcd hold what the daemon says it programmed; a
// restart keeps the subnet and the traffic; a deleted lease is taken back; deleted kernel
// entries, a changed MTU and the device itself are repaired. The periodic full pass is set to
// an hour, so every repair here is the kernel event's doing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { nexthopIdFor } from '../../lib/dataplane/entries.js';
import { Ip } from '../../lib/ip/cidr.js';
import { getLink, ipBatch, listAddrs, listFdb, listNeighbours, listRoutes } from '../../lib/kernel/ip.js';
import { parseSubnetEnv } from '../../lib/schema/subnet-env.js';
import { EtcdServer } from '../../harness/etcd.js';
import { Pod, ping } from '../../harness/pods.js';
import { FIXED_KEYS_ABOVE_NODES, netConfig, Twilld, startEtcdWorld, startTwoNodes } from '../../harness/twilld.js';
import { netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

describe('twilld vxlan: two nodes', function () {
  this.timeout(120000);
  const world = new World('dvx');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  let d2: Twilld;
  let p1: Pod;
  let p2: Pod;
  const n1 = () => netnsPath(ul.nodes[0].ns);

  before(async () => {
    // the fake peers are 10.244.200.0/24 and up: no node may hold one
    ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig(FIXED_KEYS_ABOVE_NODES)));
    ({ d1, d2, p1, p2 } = await startTwoNodes(world, ul, etcd, ['--reconcile-interval', '1h']));
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n--- n2 ---\n${d2?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  it('writes subnet.env with a /24 of the network and MTU = iface MTU - 50', () => {
    const env = parseSubnetEnv(readFileSync(d1.subnetFile, 'utf8'));
    assert.equal(String(env.network), '10.244.0.0/16');
    assert.equal(env.subnet!.prefix, 24);
    assert.equal(env.mtu, 1450);
    assert.equal(env.ipMasq, false);
    const env2 = parseSubnetEnv(readFileSync(d2.subnetFile, 'utf8'));
    assert.notEqual(String(env.subnet), String(env2.subnet));
  });

  it('publishes flannel\'s lease JSON with the device MAC as VtepMAC', async () => {
    const out = await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '--print-value-only']);
    const values = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(values.length, 2);
    const mine = values.find((v) => v.PublicIP === ul.nodes[0].ip);
    assert.equal(mine.BackendType, 'vxlan');
    assert.equal(mine.BackendData.VNI, 1);
    const dev = await getLink(n1(), 'twill.1');
    assert.ok(dev, 'twill.1 exists');
    assert.equal(dev!.address, mine.BackendData.VtepMAC);
    const info = dev!.linkinfo!.info_data as Record<string, unknown>;
    assert.equal(info.id, 1);
    assert.equal(info.port, 8472);
    assert.equal(info.local, ul.nodes[0].ip);
    assert.equal(info.learning, false);
    assert.equal(dev!.mtu, 1450);
  });

  it('pods on different nodes ping each other', async () => {
    assert.ok(await waitFor('p1 -> p2', () => ping(world, p1, p2.ip), 15000));
    assert.ok(await ping(world, p2, p1.ip));
  });

  it('programs a route, a neighbour and an FDB entry for the peer', async () => {
    const peerSubnet = readFileSync(d2.subnetFile, 'utf8').match(/FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/)![1];
    const routes = await listRoutes(n1());
    const r = routes.find((x) => x.dst === `${peerSubnet}.0/24`);
    assert.ok(r, 'route to peer subnet');
    assert.equal(r!.gateway, `${peerSubnet}.0`);
    assert.equal(r!.dev, 'twill.1');
    assert.ok(r!.flags.includes('onlink'));
    // through a nexthop object whose id is the gateway as a number (the kernel reports its gateway on the route)
    assert.equal((r as { nhid?: number }).nhid, nexthopIdFor(Ip.parse(`${peerSubnet}.0`)));
    const peerMac = (await getLink(netnsPath(ul.nodes[1].ns), 'twill.1'))!.address;
    const neigh = (await listNeighbours(n1(), 'twill.1')).find((n) => n.dst === `${peerSubnet}.0`);
    assert.equal(neigh?.lladdr, peerMac);
    assert.ok(neigh?.state?.includes('PERMANENT'));
    const fdb = (await listFdb(n1(), 'twill.1')).find((f) => f.mac === peerMac);
    assert.equal(fdb?.dst, ul.nodes[1].ip);
  });

  it('repairs a deleted route, neighbour and FDB entry', async () => {
    const peerSubnet = readFileSync(d2.subnetFile, 'utf8').match(/FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/)![1];
    const peerMac = (await getLink(netnsPath(ul.nodes[1].ns), 'twill.1'))!.address!;
    const before = (await d1.metric('twill_reconcile_repairs_total', 'kind="route"')) ?? 0;
    await ipBatch(n1(), [`route del ${peerSubnet}.0/24`, `neigh del ${peerSubnet}.0 dev twill.1`]);
    await world.exec(ul.nodes[0].ns, 'bridge', ['fdb', 'del', peerMac!, 'dev', 'twill.1', 'dst', ul.nodes[1].ip, 'self']);
    await waitFor('route repaired', async () => (await listRoutes(n1())).some((x) => x.dst === `${peerSubnet}.0/24` && x.dev === 'twill.1'));
    await waitFor('neighbour repaired', async () => (await listNeighbours(n1(), 'twill.1')).some((n) => n.dst === `${peerSubnet}.0` && n.lladdr === peerMac));
    await waitFor('fdb repaired', async () => (await listFdb(n1(), 'twill.1')).some((f) => f.mac === peerMac && f.dst === ul.nodes[1].ip));
    assert.ok(((await d1.metric('twill_reconcile_repairs_total', 'kind="route"')) ?? 0) > before);
    assert.ok((await d1.metric('twill_reconcile_repairs_total', 'kind="fdb"'))! >= 1);
    assert.ok(await waitFor('p1 -> p2 after repair', () => ping(world, p1, p2.ip), 15000));
  });

  it('repairs a deleted nexthop object at once (the kernel took the route along, announcing only the nexthop)', async () => {
    const peerSubnet = readFileSync(d2.subnetFile, 'utf8').match(/FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/)![1];
    const id = nexthopIdFor(Ip.parse(`${peerSubnet}.0`));
    const before = (await d1.metric('twill_reconcile_repairs_total', 'kind="nexthop"')) ?? 0;
    await ipBatch(n1(), [`nexthop del id ${id}`]);
    // --reconcile-interval is 1h: only the nexthop event can bring it back this soon
    await waitFor('route repaired', async () => (await listRoutes(n1())).some((x) => x.dst === `${peerSubnet}.0/24` && (x as { nhid?: number }).nhid === id), 10000);
    assert.ok(((await d1.metric('twill_reconcile_repairs_total', 'kind="nexthop"')) ?? 0) > before);
    assert.ok(await waitFor('p1 -> p2 after repair', () => ping(world, p1, p2.ip), 15000));
  });

  it('puts the device\'s MTU back when an operator changes it', async () => {
    const mtu = (await getLink(n1(), 'twill.1'))!.mtu;
    await ipBatch(n1(), [`link set dev twill.1 mtu ${mtu - 100}`]);
    await waitFor('MTU back', async () => (await getLink(n1(), 'twill.1'))?.mtu === mtu);
  });

  it('re-creates a deleted vxlan device with the same MAC', async () => {
    const mac = (await getLink(n1(), 'twill.1'))!.address;
    await ipBatch(n1(), ['link del twill.1']);
    await waitFor('device back', async () => (await getLink(n1(), 'twill.1'))?.flags.includes('UP'));
    assert.equal((await getLink(n1(), 'twill.1'))!.address, mac);
    assert.ok(await waitFor('p1 -> p2 after device repair', () => ping(world, p1, p2.ip), 15000));
    assert.ok((await d1.metric('twill_reconcile_repairs_total', 'kind="device"'))! >= 1);
  });

  it('keeps its subnet and the pods\' traffic across a restart', async () => {
    const subnetBefore = readFileSync(d1.subnetFile, 'utf8');
    const code = await d1.stop();
    assert.equal(code, 0, 'clean exit on SIGTERM');
    // the dataplane stays while the daemon is gone
    assert.ok(await ping(world, p1, p2.ip), 'ping while daemon is down');
    assert.ok(await getLink(n1(), 'twill.1'));
    d1.start();
    await d1.waitReady();
    assert.equal(readFileSync(d1.subnetFile, 'utf8'), subnetBefore);
    const out = await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '--keys-only']);
    assert.equal(out.trim().split('\n').filter(Boolean).length, 2, 'no second lease for the restarted node');
    assert.ok(await ping(world, p1, p2.ip));
  });

  it('takes back its lease (same subnet) after an operator deletes it', async () => {
    const subnet = readFileSync(d2.subnetFile, 'utf8').match(/FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/)![1];
    const key = `/coreos.com/network/subnets/${subnet}.0-24`;
    assert.match(await etcd.ctl(['get', key, '--print-value-only']), new RegExp(ul.nodes[1].ip));
    await etcd.ctl(['del', key]);
    const v = await waitFor('lease back', async () => (await etcd.ctl(['get', key, '--print-value-only'])).trim());
    assert.equal(JSON.parse(v).PublicIP, ul.nodes[1].ip);
    const ttl = await etcd.ctl(['get', key, '-w', 'json']);
    assert.notEqual(JSON.parse(ttl).kvs[0].lease, undefined, 'the re-taken key carries an etcd lease (TTL)');
    assert.ok(await waitFor('p1 -> p2 after lease re-taken', () => ping(world, p1, p2.ip), 15000));
    assert.ok((await d2.metric('twill_lease_acquisitions_total'))! >= 2);
  });

  it('moves to a new subnet when another node took its own, rewriting subnet.env and the device address', async () => {
    const old = readFileSync(d2.subnetFile, 'utf8').match(/FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/)![1];
    const n2 = netnsPath(ul.nodes[1].ns);
    await etcd.ctl(['put', `/coreos.com/network/subnets/${old}.0-24`, JSON.stringify({ PublicIP: '198.18.0.99', BackendType: 'host-gw' })]);
    const moved = await waitFor('new subnet.env', () => {
      const m = readFileSync(d2.subnetFile, 'utf8').match(/FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/)![1];
      return m !== old ? m : undefined;
    }, 20000, 200);
    await waitFor('device address moved', async () => {
      const addrs = (await listAddrs(n2, 'twill.1')).flatMap((a) => a.addr_info).map((a) => `${a.local}/${a.prefixlen}`);
      return addrs.includes(`${moved}.0/32`) && !addrs.includes(`${old}.0/32`);
    }, 15000, 200);
    await waitFor('peer route to the new subnet', async () => (await listRoutes(n1())).some((r) => r.dst === `${moved}.0/24` && r.dev === 'twill.1'), 15000, 200);
    assert.ok(d2.logLines().some((l) => l.level === 'error' && /re-acquired a different subnet/.test(String(l.msg))));
  });

  it('renews its lease and serves metrics', async () => {
    await waitFor('a renewal', async () => ((await d1.metric('twill_lease_renewals_total', 'result="ok"')) ?? 0) >= 1, 30000, 500);
    assert.equal(await d1.metric('twill_peers'), 1);
    assert.equal(await d1.metric('twill_ready'), 1);
    assert.ok((await d1.metric('twill_lease_expiry_timestamp_seconds'))! > Date.now() / 1000);
    assert.ok((await d1.metric('twill_peer_program_seconds_count'))! >= 1);
    assert.equal((await d1.http('/healthz')).status, 200);
  });

  it('follows lease joins, leaves, MAC changes and refused values key by key, to exactly the live peers\' entries', async () => {
    // fake peers in 10.244.200-203.0/24 (public IPs in 198.19/16 are never sent to: no pod talks to them)
    const key = (i: number) => `/coreos.com/network/subnets/10.244.${200 + i}.0-24`;
    const mac = (i: number, gen: number) => `0e:00:00:${gen.toString(16).padStart(2, '0')}:00:${i.toString(16).padStart(2, '0')}`;
    const value = (i: number, gen: number) => JSON.stringify({ PublicIP: `198.19.0.${i + 1}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac(i, gen) } });
    /** the fake peers' route, neighbour and FDB entries on d1, as text */
    const entries = async () => {
      const [routes, neighs, fdb] = await Promise.all([listRoutes(n1()), listNeighbours(n1(), 'twill.1'), listFdb(n1(), 'twill.1')]);
      return [
        ...routes.filter((r) => /^10\.244\.20[0-3]\./.test(r.dst)).map((r) => `route ${r.dst} via ${r.gateway}`),
        ...neighs.filter((n) => /^10\.244\.20[0-3]\./.test(n.dst)).map((n) => `neigh ${n.dst} ${n.lladdr}`),
        ...fdb.filter((f) => f.dst?.startsWith('198.19.')).map((f) => `fdb ${f.mac} ${f.dst}`),
      ].sort();
    };
    const want = (live: [number, number][]) => live.flatMap(([i, gen]) => [
      `route 10.244.${200 + i}.0/24 via 10.244.${200 + i}.0`, `neigh 10.244.${200 + i}.0 ${mac(i, gen)}`, `fdb ${mac(i, gen)} 198.19.0.${i + 1}`,
    ]).sort();
    const converged = (live: [number, number][]) => async () => JSON.stringify(await entries()) === JSON.stringify(want(live));
    const firstLine = d1.logLines().length;
    try {
      for (const i of [0, 1, 2]) await etcd.ctl(['put', key(i), value(i, 0)]);
      await waitFor('three peers programmed', converged([[0, 0], [1, 0], [2, 0]]), 15000, 200);
      // one burst: a leave, a MAC change, a refused value where a peer was, a join
      // (etcdctl txn reads Go-quoted strings: JSON's quoting of plain ASCII is the same)
      const q = JSON.stringify;
      await etcd.ctl(['txn'], `\nput ${key(3)} ${q(value(3, 0))}\ndel ${key(0)}\nput ${key(1)} ${q(value(1, 7))}\nput ${key(2)} ${q('{not json')}\n\n\n`);
      await waitFor('the burst applied', converged([[1, 7], [3, 0]]), 15000, 200);
    } finally {
      for (const i of [0, 1, 2, 3]) await etcd.ctl(['del', key(i)]);
    }
    await waitFor('every fake peer gone', converged([]), 15000, 200);
    // the periodic pass is an hour away and no entry was deleted behind the daemon's back:
    // every one of these passes was a lease pass, looking only at the keys that changed
    const passes = d1.logLines().slice(firstLine).filter((l) => l.msg === 'dataplane programmed');
    assert.ok(passes.length >= 3, `${passes.length} passes`);
    assert.deepEqual(passes.map((l) => l.quick), passes.map(() => true));
    assert.equal(await d1.metric('twill_peers'), 1);
  });
});
