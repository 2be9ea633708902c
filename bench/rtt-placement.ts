// Where the userspace dataplane's extra round-trip time goes on this machine: the same ping
// over twill's kernel VXLAN and over userspace <-> userspace, with the two userspace daemons'
// threads placed on CPUs in turn (taskset), alternating rounds, medians. It answers one
// question: is the RTT gap the engine's work, or the wake-ups that cross CPUs? A ping over
// userspace crosses three engine wake-ups the kernel path does not have (the sender's TAP
// reader, the peer's UDP reader, the reply's UDP reader back home); when those hand-offs land
// on a halted vCPU (this VM idles in HLT) each costs a VM exit and an IPI.
// Both "nodes" share this machine, so "both daemons on CPU 0" co-locates two nodes in a way
// no real deployment can: the figure explains the gap, it is not a configuration to run.
// The placed daemons run with --vxlan-userspace-steering hash (taskset would undo the CPU
// steering's own pinning); a second userspace pair with the default CPU steering is measured
// as it places itself, in the same rounds: the row "CPU steering (default), as deployed".
// On a KVM guest whose idle driver is haltpoll, BENCH_HALT_POLL_NS=0,1000000 repeats every
// placement with the guest's halt polling held at each value (an idle vCPU polls that long
// before it halts, so a wake-up within the window is no VM exit); the settings found are
// restored after, also on failure.
//   BENCH_ROUNDS=5 (rounds)   BENCH_PINGS=40 (pings per measurement)
//   BENCH_PLACEMENTS=all (or a comma list of indexes into the table below)
import { execFileSync } from 'node:child_process';
import { Cluster } from '../harness/cluster.js';
import { waitFor, World } from '../harness/world.js';
import { describeCpuIdle, readHaltPoll, steadyHaltPoll, writeHaltPoll } from './cpu-idle.js';
import { pingMedian } from './ping.js';
import { fmt, median, printTable } from './stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PINGS = Number(process.env.BENCH_PINGS ?? 40);

interface Placement {
  name: string;
  /** CPU masks (taskset's hex) for the first and the second userspace daemon, every thread; none: as they placed themselves */
  masks?: [string, string];
  /** ping pinned to this CPU, for both paths */
  pingCpu?: number;
}

const PLACEMENTS: Placement[] = [
  { name: 'hash steering, unpinned (as deployed)', masks: ['3', '3'] },
  { name: 'each daemon on its own CPU', masks: ['1', '2'] },
  { name: 'both daemons on CPU 0', masks: ['1', '1'] },
  { name: 'both daemons and ping on CPU 0', masks: ['1', '1'], pingCpu: 0 },
  { name: 'both daemons on CPU 0, ping on CPU 1', masks: ['1', '1'], pingCpu: 1 },
];

/** A comma list of whole numbers from the environment, each checked by `ok` (`what` says what it must be). */
function listFromEnv(name: string, what: string, ok: (n: number) => boolean): number[] | undefined {
  const raw = process.env[name];
  if (!raw || raw === 'all') return undefined;
  return raw.split(',').map((v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || !ok(n)) throw new Error(`${name}: ${JSON.stringify(v)} is not ${what}`);
    return n;
  });
}

const HALT_POLLS: (number | undefined)[] = listFromEnv('BENCH_HALT_POLL_NS', 'a whole number of nanoseconds', (n) => n >= 0) ?? [undefined];
const CHOSEN = listFromEnv('BENCH_PLACEMENTS', `a placement's index (0-${PLACEMENTS.length - 1})`, (i) => i >= 0 && i < PLACEMENTS.length)?.map((i) => PLACEMENTS[i]) ?? PLACEMENTS;

/** The CPU-steered pair, as deployed: its threads pin themselves (queue q on CPU q). */
const STEERED: Placement = { name: 'CPU steering (default), as deployed' };

function place(pids: number[], masks: readonly string[]): void {
  pids.forEach((pid, i) => execFileSync('taskset', ['-a', '-p', masks[i], String(pid)], { stdio: 'ignore' }));
}

async function main(): Promise<void> {
  const haltPollFound = readHaltPoll();
  if (HALT_POLLS.some((v) => v !== undefined) && !haltPollFound) throw new Error('BENCH_HALT_POLL_NS needs the haltpoll cpuidle governor (/sys/module/haltpoll)');
  const idleFound = describeCpuIdle();
  const world = new World('rp');
  // only a run that changed the settings writes them back
  const restoreHaltPoll = () => haltPollFound && HALT_POLLS.some((v) => v !== undefined) && writeHaltPoll(haltPollFound);
  process.on('SIGINT', () => {
    restoreHaltPoll();
    void world.cleanup().then(() => process.exit(130));
  });
  try {
    // nodes 1-2 kernel VXLAN, 3-4 userspace with queues by flow hash (placed by taskset), 5-6
    // userspace with CPU steering (never placed)
    const cluster = new Cluster(world, {
      nodes: 6,
      nodeFlags: (i) => (i >= 5 ? ['--vxlan-userspace'] : i >= 3 ? ['--vxlan-userspace', '--vxlan-userspace-steering', 'hash'] : []),
    });
    await cluster.create();
    await cluster.startDaemons();
    const [k1, k2, u1, u2, s1, s2] = cluster.nodes;
    const [pk1, pk2, pu1, pu2, ps1, ps2] = await Promise.all([
      cluster.addPod(k1, 'pk1'), cluster.addPod(k2, 'pk2'), cluster.addPod(u1, 'pu1'), cluster.addPod(u2, 'pu2'), cluster.addPod(s1, 'ps1'), cluster.addPod(s2, 'ps2'),
    ]);
    for (const [from, to] of [[pk1, pk2], [pu1, pu2], [ps1, ps2]]) {
      await waitFor(`${to.ip} reachable`, () => pingMedian(world, from.ns, to.ip, 3).then(() => true), 20000, 500);
    }
    const pids = [u1, u2].map((n) => n.daemon!.pid!);
    const cases = HALT_POLLS.flatMap((hp) => [...CHOSEN, STEERED].map((p) => ({ hp, p, name: hp === undefined ? p.name : `${p.name}, halt poll ${hp / 1000} µs` })));
    const kernel = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    const user = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of cases) {
        if (c.hp !== undefined) writeHaltPoll(steadyHaltPoll(c.hp));
        if (c.p.masks) place(pids, c.p.masks);
        kernel.get(c.name)!.push(await pingMedian(world, pk1.ns, pk2.ip, PINGS, c.p.pingCpu));
        const [from, to] = c.p === STEERED ? [ps1, ps2] : [pu1, pu2];
        user.get(c.name)!.push(await pingMedian(world, from.ns, to.ip, PINGS, c.p.pingCpu));
      }
    }
    place(pids, ['3', '3']);
    console.log(`RTT by CPU placement: ${ROUNDS} alternating rounds of ${PINGS} pings per path, medians; as found: ${idleFound}`);
    printTable([
      ['placement', 'kernel VXLAN RTT ms', 'userspace RTT ms', 'userspace / kernel', 'userspace rounds'],
      ...cases.map(({ name }) => {
        const [k, u] = [median(kernel.get(name)!), median(user.get(name)!)];
        return [name, fmt(k, 3), fmt(u, 3), fmt(u / k) + 'x', user.get(name)!.map((v) => fmt(v, 3)).join(' ')];
      }),
    ]);
  } finally {
    restoreHaltPoll();
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:rtt-placement failed: ${(e as Error).stack}`);
  process.exitCode = 1;
});
