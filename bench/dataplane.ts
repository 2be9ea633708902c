// Cross-node pod-to-pod throughput, packet rate and RTT over twill's VXLAN, next to the same
// topology built by hand with plain kernel commands (bridge + veth + VXLAN device + static FDB,
// neighbour and onlink route) and the bare underlay, and over the userspace dataplane
// (twilld --vxlan-userspace): userspace <-> userspace (CPU steering, the default, and queues by
// flow hash), userspace <-> kernel VXLAN, and the
// same engine with batching and offloads off (one packet per system call, the design of
// flannel's udp backend) as the reference it must beat. One cluster, one run, alternating
// rounds; medians (RTT: the median ping of each round, then the median over rounds). Both "nodes" of a path share this machine's cores, so a userspace
// dataplane pays for both ends' engines out of the same CPUs as the pods' TCP.
import { ipBatch, bridgeBatch } from '../lib/kernel/ip.js';
import { writeSysctl } from '../lib/kernel/sysctl.js';
import { Cluster, ClusterNode } from '../harness/cluster.js';
import { addUnderlayNode, netnsPath, UnderlayNode, waitFor, World } from '../harness/world.js';
import { describeCpuIdle } from './cpu-idle.js';
import { pingMedian } from './ping.js';
import { cpuSeconds, fmt, median, printTable } from './stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/**
 * BENCH_PATHS=userspace: only the rows the userspace targets are computed from (twill VXLAN,
 * userspace <-> userspace, the per-packet reference), and no IPv6 rows: for iterating on the
 * engine. BENCH_PATHS=ipv6: only the IPv6 rows. Unset: every row.
 */
const ONLY_USERSPACE = process.env.BENCH_PATHS === 'userspace';
const ONLY_IPV6 = process.env.BENCH_PATHS === 'ipv6';
const USERSPACE_ROWS = new Set(['twill VXLAN', 'userspace <-> userspace', 'userspace <-> userspace, hash steering', 'per-packet reference']);

interface Path {
  name: string;
  clientNs: string;
  serverNs: string;
  serverIp: string;
  /** daemons whose CPU time is the dataplane's (userspace engines) */
  daemons: ClusterNode[];
}

interface Sample {
  tcp1: number;
  tcp4: number;
  udpKpps: number;
  rtt: number;
  /** daemon CPU (cores busy) during the one-stream TCP run, per Gbit/s */
  cpuPerGbps?: number;
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
  return { name: 'hand-built VXLAN', clientNs: pods[0], serverNs: pods[1], serverIp: '10.250.2.2', daemons: [] };
}

/** The same by hand over IPv6: two VXLAN devices on the nodes' IPv6 addresses, a v6-only pod behind each. */
async function buildHandVxlan6(world: World, nodes: { node: UnderlayNode; ip6: string }[], mtu: number): Promise<Path> {
  const macs = ['02:42:0a:fb:01:00', '02:42:0a:fb:02:00'];
  const pods: string[] = [];
  for (let i = 0; i < 2; i++) {
    const me = nodes[i];
    const peer = nodes[1 - i];
    const pod = await world.addNetns(`hq${i + 1}`);
    pods.push(pod);
    const mine = `fd50:${i + 1}::`;
    const theirs = `fd50:${2 - i}::`;
    await world.exec(me.node.ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    await ipBatch(netnsPath(me.node.ns), [
      'link add hbr6 type bridge',
      `link set hbr6 mtu ${mtu} up`,
      `addr add ${mine}1/64 dev hbr6 nodad`,
      `link add hveth6 address 02:42:0a:fb:0${i + 1}:09 type veth peer name eth0 netns ${netnsPath(pod)}`,
      `link set hveth6 mtu ${mtu} master hbr6 up`,
      `link add hvx6 address ${macs[i]} type vxlan id 1 dev ${me.node.iface} local ${me.ip6} dstport 8472 nolearning`,
      `link set hvx6 mtu ${mtu} up`,
      `addr add ${mine}/128 dev hvx6 nodad`,
      `neigh replace ${theirs} lladdr ${macs[1 - i]} dev hvx6 nud permanent`,
      `route replace ${theirs}/64 via ${theirs} dev hvx6 onlink`,
    ]);
    await bridgeBatch(netnsPath(me.node.ns), [`fdb append ${macs[1 - i]} dev hvx6 dst ${peer.ip6} self permanent`]);
    await ipBatch(netnsPath(pod), [
      `link set eth0 mtu ${mtu} up`,
      `addr add ${mine}2/64 dev eth0 nodad`,
      `route add ::/0 via ${mine}1 dev eth0`,
    ]);
  }
  return { name: 'hand-built VXLAN over IPv6', clientNs: pods[0], serverNs: pods[1], serverIp: 'fd50:2::2', daemons: [] };
}

/** iperf3 client against a one-shot server; the parsed JSON report. */
async function iperf(world: World, p: Path, args: string[]): Promise<{ end: Record<string, any> }> {
  const server = world.spawnIn(p.serverNs, 'iperf3', ['-s', '-1', '-B', p.serverIp]);
  let said = '';
  server.stdout!.on('data', (d) => (said += d));
  server.stderr!.on('data', (d) => (said += d));
  try {
    const listening = p.serverIp.includes(':') ? `[${p.serverIp}]:5201` : `${p.serverIp}:5201`;
    await waitFor('iperf3 server', async () => (await world.exec(p.serverNs, 'ss', ['-lntu'])).includes(listening), 15000, 50).catch((e: Error) => {
      throw new Error(`${p.name}: ${e.message} (exit ${server.exitCode ?? 'none yet'}; it said: ${said.trim().slice(-500) || 'nothing'})`);
    });
    return JSON.parse(await world.exec(p.clientNs, 'iperf3', ['-c', p.serverIp, '-t', String(SECONDS), '-J', ...args]));
  } finally {
    server.kill('SIGKILL');
  }
}

async function measure(world: World, p: Path): Promise<Sample> {
  const pids = p.daemons.map((d) => d.daemon!.pid!);
  const cpu0 = pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  const t0 = Date.now();
  const one = await iperf(world, p, []);
  const cores = (pids.reduce((s, pid) => s + cpuSeconds(pid), 0) - cpu0) / ((Date.now() - t0) / 1000);
  const tcp1 = one.end.sum_received.bits_per_second / 1e9;
  const four = await iperf(world, p, ['-P', '4']);
  const udp = await iperf(world, p, ['-u', '-b', '0', '-l', '64']);
  const s = udp.end.sum;
  const udpKpps = (s.packets - s.lost_packets) / s.seconds / 1000;
  return {
    tcp1, tcp4: four.end.sum_received.bits_per_second / 1e9, udpKpps, rtt: await pingMedian(world, p.clientNs, p.serverIp),
    cpuPerGbps: pids.length ? cores / tcp1 : undefined,
  };
}

async function main(): Promise<void> {
  if (ONLY_IPV6) return ipv6Rows();
  const world = new World('bd');
  const onSignal = () => void world.cleanup().then(() => process.exit(130));
  process.on('SIGINT', onSignal);
  try {
    // nodes 1-2 kernel VXLAN, 3-4 userspace (CPU steering, the default), 5-6 userspace per-packet
    // reference, 7-8 userspace with queues by flow hash (the trade: RTT against throughput)
    const cluster = new Cluster(world, {
      nodes: 8,
      nodeFlags: (i) => (i >= 7 ? ['--vxlan-userspace', '--vxlan-userspace-steering', 'hash'] : i >= 5 ? ['--vxlan-userspace', '--no-vxlan-userspace-offloads'] : i >= 3 ? ['--vxlan-userspace'] : []),
    });
    await cluster.create();
    await cluster.startDaemons();
    const [k1, k2, u1, u2, r1, r2, f1, f2] = cluster.nodes;
    const pod = (n: ClusterNode, name: string) => cluster.addPod(n, name);
    const [pk1, pk2, pu1, pu2, pr1, pr2, pf1, pf2] = await Promise.all([
      pod(k1, 'tk1'), pod(k2, 'tk2'), pod(u1, 'tu1'), pod(u2, 'tu2'), pod(r1, 'tr1'), pod(r2, 'tr2'), pod(f1, 'tf1'), pod(f2, 'tf2'),
    ]);
    const mtu = Number(/FLANNEL_MTU=(\d+)/.exec(await world.exec(k1.ns, 'cat', [k1.subnetFile]))![1]);
    const h1 = await addUnderlayNode(world, cluster.ul);
    const h2 = await addUnderlayNode(world, cluster.ul);
    const all: Path[] = [
      { name: 'twill VXLAN', clientNs: pk1.ns, serverNs: pk2.ns, serverIp: pk2.ip, daemons: [] },
      await buildHandVxlan(world, h1, h2, mtu),
      { name: 'bare underlay', clientNs: k1.ns, serverNs: k2.ns, serverIp: k2.ip, daemons: [] },
      { name: 'userspace <-> userspace', clientNs: pu1.ns, serverNs: pu2.ns, serverIp: pu2.ip, daemons: [u1, u2] },
      { name: 'userspace <-> userspace, hash steering', clientNs: pf1.ns, serverNs: pf2.ns, serverIp: pf2.ip, daemons: [f1, f2] },
      { name: 'userspace -> kernel', clientNs: pu1.ns, serverNs: pk2.ns, serverIp: pk2.ip, daemons: [u1] },
      { name: 'kernel -> userspace', clientNs: pk1.ns, serverNs: pu2.ns, serverIp: pu2.ip, daemons: [u2] },
      { name: 'per-packet reference', clientNs: pr1.ns, serverNs: pr2.ns, serverIp: pr2.ip, daemons: [r1, r2] },
    ];
    const paths = ONLY_USERSPACE ? all.filter((p) => USERSPACE_ROWS.has(p.name)) : all;
    for (const p of paths) await waitFor(`${p.name} reachable`, () => pingMedian(world, p.clientNs, p.serverIp).then(() => true), 20000, 500);

    console.log(`dataplane benchmark: ${ROUNDS} rounds x ${SECONDS} s iperf3 per measurement, alternating; pod MTU ${mtu}; ${describeCpuIdle()}`);
    const samples = new Map<string, Sample[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of paths) samples.get(p.name)!.push(await measure(world, p));
    }
    const med = (name: string, f: (s: Sample) => number | undefined) => median(samples.get(name)!.map(f).filter((v): v is number => v !== undefined));
    const ref = ONLY_USERSPACE ? 'twill VXLAN' : 'hand-built VXLAN';
    const rows = [['path', 'TCP 1 stream Gbit/s', 'TCP 4 streams Gbit/s', 'UDP 64 B kpps', 'RTT ms', `1 stream vs ${ref}`, `RTT vs ${ref}`, 'daemon CPU cores per Gbit/s']];
    for (const p of paths) {
      const g = med(p.name, (s) => s.tcp1);
      const t = med(p.name, (s) => s.rtt);
      rows.push([p.name, fmt(g), fmt(med(p.name, (s) => s.tcp4)), fmt(med(p.name, (s) => s.udpKpps), 0), fmt(t, 3),
        fmt(g / med(ref, (s) => s.tcp1)) + 'x', fmt(t / med(ref, (s) => s.rtt)) + 'x',
        p.daemons.length ? fmt(med(p.name, (s) => s.cpuPerGbps), 3) : 'kernel (not attributable)']);
    }
    printTable(rows);
    const check = (label: string, v: number, ok: boolean, target: string) =>
      console.log(`${label}: ${fmt(v, 3)}x (target ${target}) ${ok ? 'OK' : 'BELOW TARGET'}`);
    console.log('');
    if (!ONLY_USERSPACE) {
      const twill = med('twill VXLAN', (s) => s.tcp1) / med(ref, (s) => s.tcp1);
      check('twill / hand-built VXLAN throughput', twill, twill >= 0.95, '>= 0.95x');
    }
    const user = med('userspace <-> userspace', (s) => s.tcp1);
    const vsKernel = user / med('twill VXLAN', (s) => s.tcp1);
    check('userspace / kernel VXLAN, 1 TCP stream', vsKernel, vsKernel >= 0.3, '>= 0.3x');
    const vsRef = user / med('per-packet reference', (s) => s.tcp1);
    check('userspace / per-packet reference, 1 TCP stream', vsRef, vsRef >= 10, '>= 10x');
    const rttRatio = med('userspace <-> userspace', (s) => s.rtt) / med('twill VXLAN', (s) => s.rtt);
    const rttCheck = rttRatio <= 2;
    console.log(`userspace / kernel VXLAN RTT: ${fmt(rttRatio, 3)}x (target <= 2x) ${rttCheck ? 'OK' : 'ABOVE TARGET'}`);
    await world.cleanup();
    if (!ONLY_USERSPACE) await ipv6Rows();
  } finally {
    await world.cleanup();
  }
}

/**
 * IPv6: twill's dual-stack VXLAN (twill6.1, pods with both addresses from the plugin) against
 * the same built by hand over the nodes' IPv6 addresses, in the same run, alternating rounds.
 */
async function ipv6Rows(): Promise<void> {
  const world = new World('bd6');
  try {
    const cluster = new Cluster(world, { nodes: 2, ipFamily: 'dual' });
    await cluster.create();
    await cluster.startDaemons();
    const [n1, n2] = cluster.nodes;
    const [p1, p2] = await Promise.all([cluster.addPod(n1, 'tv1'), cluster.addPod(n2, 'tv2')]);
    const mtu = Number(/FLANNEL_MTU=(\d+)/.exec(await world.exec(n1.ns, 'cat', [n1.subnetFile]))![1]);
    const h1 = await addUnderlayNode(world, cluster.ul);
    const h2 = await addUnderlayNode(world, cluster.ul);
    const hand = [{ node: h1, ip6: 'fd18::31' }, { node: h2, ip6: 'fd18::32' }];
    for (const h of hand) await ipBatch(netnsPath(h.node.ns), [`addr add ${h.ip6}/64 dev eth0 nodad`]);
    const paths: Path[] = [
      { name: 'twill VXLAN over IPv6', clientNs: p1.ns, serverNs: p2.ns, serverIp: p2.ip6!, daemons: [] },
      await buildHandVxlan6(world, hand, mtu),
    ];
    for (const p of paths) await waitFor(`${p.name} reachable`, () => pingMedian(world, p.clientNs, p.serverIp).then(() => true), 20000, 500);
    const samples = new Map<string, Sample[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < ROUNDS; r++) for (const p of paths) samples.get(p.name)!.push(await measure(world, p));
    const med = (name: string, f: (s: Sample) => number) => median(samples.get(name)!.map(f));
    console.log(`\nIPv6 (dual-stack cluster, pod MTU ${mtu}):`);
    const ref = 'hand-built VXLAN over IPv6';
    printTable([['path', 'TCP 1 stream Gbit/s', 'TCP 4 streams Gbit/s', 'UDP 64 B kpps', 'RTT ms', '1 stream vs hand-built'],
      ...paths.map((p) => [p.name, fmt(med(p.name, (s) => s.tcp1)), fmt(med(p.name, (s) => s.tcp4)), fmt(med(p.name, (s) => s.udpKpps), 0),
        fmt(med(p.name, (s) => s.rtt), 3), fmt(med(p.name, (s) => s.tcp1) / med(ref, (s) => s.tcp1)) + 'x'])]);
    const v6 = med('twill VXLAN over IPv6', (s) => s.tcp1) / med(ref, (s) => s.tcp1);
    console.log(`twill / hand-built VXLAN over IPv6 throughput: ${fmt(v6, 3)}x (target >= 0.95x) ${v6 >= 0.95 ? 'OK' : 'BELOW TARGET'}`);
  } finally {
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:dataplane failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
