// Cross-node pod-to-pod TCP throughput and RTT over twill's VXLAN, next to the same topology
// built by hand with plain kernel commands (bridge + veth + VXLAN device + static FDB,
// neighbour and onlink route) and the bare underlay, all in one run, alternating rounds.
import { ipBatch, bridgeBatch, writeSysctl } from '../lib/kernel/ip.js';
import { Cluster } from '../test/helpers/cluster.js';
import { addUnderlayNode, netnsPath, UnderlayNode, World } from '../test/helpers/world.js';
import { fmt, median, printTable } from './stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

interface Path {
  name: string;
  clientNs: string;
  serverNs: string;
  serverIp: string;
}

/** Two hand-built "nodes" mirroring what twilld programs (same VNI, port and MTU), with a pod behind each. */
async function buildHandVxlan(world: World, a: UnderlayNode, b: UnderlayNode, mtu: number): Promise<Path> {
  const macs = ['02:42:0a:fa:01:00', '02:42:0a:fa:02:00'];
  const nodes = [a, b];
  const pods: string[] = [];
  for (let i = 0; i < 2; i++) {
    const me = nodes[i];
    const peer = nodes[1 - i];
    const pod = await world.addNetns(`hp${i + 1}`);
    pods.push(pod);
    const mine = `10.250.${i + 1}`;
    const theirs = `10.250.${2 - i}`;
    await writeSysctl(netnsPath(me.ns), 'net.ipv4.ip_forward', '1');
    await ipBatch(netnsPath(me.ns), [
      'link add hbr type bridge',
      `link set hbr mtu ${mtu} up`,
      `addr add ${mine}.1/24 dev hbr`,
      `link add hveth address 02:42:0a:fa:0${i + 1}:09 type veth peer name eth0 netns ${netnsPath(pod)}`,
      `link set hveth mtu ${mtu} master hbr up`,
      `link add hvx address ${macs[i]} type vxlan id 1 dev ${me.iface} local ${me.ip} dstport 8472 nolearning`,
      `link set hvx mtu ${mtu} up`,
      `addr add ${mine}.0/32 dev hvx`,
      `neigh replace ${theirs}.0 lladdr ${macs[1 - i]} dev hvx nud permanent`,
      `route replace ${theirs}.0/24 via ${theirs}.0 dev hvx onlink`,
    ]);
    await bridgeBatch(netnsPath(me.ns), [`fdb append ${macs[1 - i]} dev hvx dst ${peer.ip} self permanent`]);
    await ipBatch(netnsPath(pod), [
      `link set eth0 mtu ${mtu} up`,
      `addr add ${mine}.2/24 dev eth0`,
      `route add default via ${mine}.1`,
    ]);
  }
  return { name: 'hand-built VXLAN', clientNs: pods[0], serverNs: pods[1], serverIp: '10.250.2.2' };
}

async function rtt(world: World, ns: string, ip: string): Promise<number> {
  const out = await world.exec(ns, 'ping', ['-c', '20', '-i', '0.05', '-q', ip]);
  const m = /= [\d.]+\/([\d.]+)\//.exec(out);
  if (!m) throw new Error(`no RTT in ping output: ${out}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const world = new World('bd');
  const onSignal = () => void world.cleanup().then(() => process.exit(130));
  process.on('SIGINT', onSignal);
  try {
    const cluster = new Cluster(world, { nodes: 2 });
    await cluster.create();
    await cluster.startDaemons();
    const p1 = await cluster.addPod(cluster.nodes[0], 'tp1');
    const p2 = await cluster.addPod(cluster.nodes[1], 'tp2');
    const mtu = Number(/FLANNEL_MTU=(\d+)/.exec(await world.exec(cluster.nodes[0].ns, 'cat', [cluster.nodes[0].subnetFile]))![1]);
    const h1 = await addUnderlayNode(world, cluster.ul);
    const h2 = await addUnderlayNode(world, cluster.ul);
    const paths: Path[] = [
      { name: 'twill VXLAN', clientNs: p1.ns, serverNs: p2.ns, serverIp: p2.ip },
      await buildHandVxlan(world, h1, h2, mtu),
      { name: 'bare underlay', clientNs: cluster.nodes[0].ns, serverNs: cluster.nodes[1].ns, serverIp: cluster.nodes[1].ip },
    ];
    for (const p of paths) await rtt(world, p.clientNs, p.serverIp); // warm up ARP/FDB

    console.log(`dataplane benchmark: ${ROUNDS} rounds x ${SECONDS} s iperf3 per path, alternating; pod MTU ${mtu}`);
    const gbps = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    const rtts = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of paths) {
        gbps.get(p.name)!.push(await cluster.iperf(p.clientNs, p.serverNs, p.serverIp, SECONDS));
        rtts.get(p.name)!.push(await rtt(world, p.clientNs, p.serverIp));
      }
    }
    const ref = 'hand-built VXLAN';
    const rows = [['path', 'TCP Gbit/s (median)', 'RTT ms (median)', 'throughput vs hand-built', 'RTT vs hand-built']];
    for (const p of paths) {
      const g = median(gbps.get(p.name)!);
      const t = median(rtts.get(p.name)!);
      rows.push([p.name, fmt(g), fmt(t, 3), fmt(g / median(gbps.get(ref)!)) + 'x', fmt(t / median(rtts.get(ref)!)) + 'x']);
    }
    printTable(rows);
    const ratio = median(gbps.get('twill VXLAN')!) / median(gbps.get(ref)!);
    console.log(`\ntwill / hand-built VXLAN throughput: ${fmt(ratio, 3)}x (target >= 0.95x) ${ratio >= 0.95 ? 'OK' : 'BELOW TARGET'}`);
  } finally {
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:dataplane failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
