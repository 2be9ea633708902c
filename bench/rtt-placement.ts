// Where the userspace dataplane's extra round-trip time goes on this machine: the same ping
// over twill's kernel VXLAN and over userspace <-> userspace, with the two userspace daemons'
// threads placed on CPUs in turn (taskset), alternating rounds, medians. It answers one
// question: is the RTT gap the engine's work, or the wake-ups that cross CPUs? A ping over
// userspace crosses three engine wake-ups the kernel path does not have (the sender's TAP
// reader, the peer's UDP reader, the reply's UDP reader back home); when those hand-offs land
// on a halted vCPU (this VM idles in HLT) each costs a VM exit and an IPI.
// Both "nodes" share this machine, so "both daemons on CPU 0" co-locates two nodes in a way
// no real deployment can: the figure explains the gap, it is not a configuration to run.
//   BENCH_ROUNDS=5 (rounds)   BENCH_PINGS=40 (pings per measurement)
import { execFileSync } from 'node:child_process';
import { Cluster } from '../harness/cluster.js';
import { waitFor, World } from '../harness/world.js';
import { pingMedian } from './ping.js';
import { fmt, median, printTable } from './stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PINGS = Number(process.env.BENCH_PINGS ?? 40);

interface Placement {
  name: string;
  /** CPU masks (taskset's hex) for the first and the second userspace daemon, every thread */
  masks: [string, string];
  /** ping pinned to this CPU, for both paths */
  pingCpu?: number;
}

const PLACEMENTS: Placement[] = [
  { name: 'unpinned (as deployed)', masks: ['3', '3'] },
  { name: 'each daemon on its own CPU', masks: ['1', '2'] },
  { name: 'both daemons on CPU 0', masks: ['1', '1'] },
  { name: 'both daemons and ping on CPU 0', masks: ['1', '1'], pingCpu: 0 },
  { name: 'both daemons on CPU 0, ping on CPU 1', masks: ['1', '1'], pingCpu: 1 },
];

function place(pids: number[], masks: readonly string[]): void {
  pids.forEach((pid, i) => execFileSync('taskset', ['-a', '-p', masks[i], String(pid)], { stdio: 'ignore' }));
}

async function main(): Promise<void> {
  const world = new World('rp');
  process.on('SIGINT', () => void world.cleanup().then(() => process.exit(130)));
  try {
    // nodes 1-2 kernel VXLAN, 3-4 userspace
    const cluster = new Cluster(world, { nodes: 4, nodeFlags: (i) => (i >= 3 ? ['--vxlan-userspace'] : []) });
    await cluster.create();
    await cluster.startDaemons();
    const [k1, k2, u1, u2] = cluster.nodes;
    const [pk1, pk2, pu1, pu2] = await Promise.all([cluster.addPod(k1, 'pk1'), cluster.addPod(k2, 'pk2'), cluster.addPod(u1, 'pu1'), cluster.addPod(u2, 'pu2')]);
    for (const [from, to] of [[pk1, pk2], [pu1, pu2]]) {
      await waitFor(`${to.ip} reachable`, () => pingMedian(world, from.ns, to.ip, 3).then(() => true), 20000, 500);
    }
    const pids = [u1, u2].map((n) => n.daemon!.pid!);
    const kernel = new Map<string, number[]>(PLACEMENTS.map((p) => [p.name, []]));
    const user = new Map<string, number[]>(PLACEMENTS.map((p) => [p.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of PLACEMENTS) {
        place(pids, p.masks);
        kernel.get(p.name)!.push(await pingMedian(world, pk1.ns, pk2.ip, PINGS, p.pingCpu));
        user.get(p.name)!.push(await pingMedian(world, pu1.ns, pu2.ip, PINGS, p.pingCpu));
      }
    }
    place(pids, ['3', '3']);
    console.log(`RTT by CPU placement: ${ROUNDS} alternating rounds of ${PINGS} pings per path, medians`);
    printTable([
      ['placement', 'kernel VXLAN RTT ms', 'userspace RTT ms', 'userspace / kernel', 'userspace rounds'],
      ...PLACEMENTS.map((p) => {
        const [k, u] = [median(kernel.get(p.name)!), median(user.get(p.name)!)];
        return [p.name, fmt(k, 3), fmt(u, 3), fmt(u / k) + 'x', user.get(p.name)!.map((v) => fmt(v, 3)).join(' ')];
      }),
    ]);
  } finally {
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:rtt-placement failed: ${(e as Error).stack}`);
  process.exitCode = 1;
});
