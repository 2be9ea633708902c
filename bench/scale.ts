// Control-plane scale, at 100, 1000, 5000 and 10 000 peers: time for one real twilld to
// program every peer at start-up, the latency from a new lease in etcd to its route in the
// kernel, and twilld's RSS. Every row is printed beside its floor, measured in the same run:
// the same entries written straight with one `ip -batch` + one `bridge -batch` (start-up),
// one peer's entries the same way (a new lease), and the 80 MiB target (RSS). The start-up
// has two floors: flannel's layout (plain onlink routes, the floor the issue set) and the
// layout twilld writes (each tunnel route naming a nexthop object: lib/dataplane/entries.ts
// NexthopSpec), both as one `ip -batch` + one `bridge -batch`.
// Start-up ends at twilld's log line saying its first pass programmed them all (then the
// route count is checked once): polling the kernel meanwhile would compete for the CPU.
// RSS is read twice: right after the new-lease samples, and again once twilld has sat idle
// for BENCH_SETTLE_S seconds (V8 gives memory back only some seconds after the work that
// needed it); beside them the peak (VmHWM) and the V8 heap from twilld's own /metrics.
// A new lease's latency is timed twice: from just before the put, and from etcd's answer to
// it (the lease is in etcd: committed, fsynced, visible to watchers). The difference is etcd's
// own commit (a lease grant and a transaction, each a raft entry written to disk).
// The start-up and its floors are each timed BENCH_START_ROUNDS times, alternating, and the row
// shows their medians (every round's pair is printed below the table).
//   BENCH_PEERS=100,1000,5000,10000 (default)  BENCH_LATENCY_SAMPLES=200 (p99 of 50 is their maximum)  BENCH_SETTLE_S=30
//   BENCH_START_ROUNDS=3
//   BENCH_SCALE_LOG=<file>: twilld's log
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { bridgeBatch, ipBatch, ipJson, Route } from '../lib/kernel/ip.js';
import { netnsPath, waitFor, World } from '../harness/world.js';
import { fmt, median, percentile, printTable, rssMiB } from './stats.js';
import { heapMiB, peerBench } from './writer.js';

const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 200);
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 30);
const START_ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 3);

/** twilld's V8 heap in use and committed (MiB), from its /metrics inside the node. */
async function countRoutes(ns: string): Promise<number> {
  const routes = await ipJson<Route>(netnsPath(ns), ['route', 'show', 'dev', 'twill.1']).catch(() => [] as Route[]);
  return routes.filter((r) => r.dst.startsWith('10.') && r.dst.endsWith('/24')).length;
}

/**
 * Reference: the same N peers' neighbour/route/FDB entries in one batch each, on a fresh
 * device; with `nexthops`, each route names a nexthop object (id = its gateway as a number), as twilld writes them.
 */
async function referenceProgram(world: World, nodeNs: string, nodeIp: string, n: number, nexthops: boolean): Promise<number> {
  const ns = netnsPath(nodeNs);
  await ipBatch(ns, [`link add refvx type vxlan id 99 dev eth0 local ${nodeIp} dstport 4790 nolearning`, 'link set refvx up']);
  try {
    const ipLines: string[] = [];
    const fdbLines: string[] = [];
    for (let i = 0; i < n; i++) {
      const mac = `0e:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const sub = `10.${(i >> 8) & 255}.${i & 255}`;
      ipLines.push(`neigh replace ${sub}.0 lladdr ${mac} dev refvx nud permanent`);
      if (nexthops) {
        const id = ((10 << 24) | (((i >> 8) & 255) << 16) | ((i & 255) << 8)) >>> 0 || 1;
        ipLines.push(`nexthop replace id ${id} via ${sub}.0 dev refvx onlink`, `route replace ${sub}.0/24 nhid ${id} table 99`);
      } else {
        ipLines.push(`route replace ${sub}.0/24 via ${sub}.0 dev refvx onlink table 99`);
      }
      fdbLines.push(`fdb replace ${mac} dev refvx dst 198.19.${(i >> 8) & 255}.${i & 255} self permanent`);
    }
    const t0 = performance.now();
    await ipBatch(ns, ipLines);
    await bridgeBatch(ns, fdbLines);
    return performance.now() - t0;
  } finally {
    await ipBatch(ns, ['link del refvx']).catch(() => {});
    void world;
  }
}

/** The floor of one new peer: its route and neighbour in one `ip -batch`, its FDB entry in one `bridge -batch`. */
async function referenceOne(nodeNs: string, nodeIp: string, samples: number): Promise<number[]> {
  const ns = netnsPath(nodeNs);
  await ipBatch(ns, [`link add refvx type vxlan id 99 dev eth0 local ${nodeIp} dstport 4790 nolearning`, 'link set refvx up']);
  const out: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const mac = `0e:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const sub = `10.${150 + ((i >> 8) & 255)}.${i & 255}`;
      const t0 = performance.now();
      await ipBatch(ns, [`neigh replace ${sub}.0 lladdr ${mac} dev refvx nud permanent`, `route replace ${sub}.0/24 via ${sub}.0 dev refvx onlink table 99`]);
      await bridgeBatch(ns, [`fdb replace ${mac} dev refvx dst 198.20.${(i >> 8) & 255}.${i & 255} self permanent`]);
      out.push(performance.now() - t0);
    }
  } finally {
    await ipBatch(ns, ['link del refvx']).catch(() => {});
  }
  return out;
}

/** twilld's first pass is done when it logs the peers it programmed. */
function programmedAll(log: string[], from: number, peers: number): boolean {
  for (let i = from; i < log.length; i++) {
    const l = log[i];
    if (!l.includes('"dataplane programmed"') && !l.includes('"ready"')) continue;
    const m = /"peers":(\d+)/.exec(l);
    if (m && Number(m[1]) >= peers) return true;
  }
  return false;
}

interface Row {
  peers: number;
  start: number;
  startFloor: number;
  startFloorNh: number;
  lat: number[];
  /** the same samples, from etcd's answer to the put */
  latCommitted: number[];
  latFloor: number[];
  rss: number;
  anon: number;
  file: number;
  settled: { rss: number; hwm: number; anon: number; file: number };
  heap: { used: number; total: number };
}

async function main(): Promise<void> {
  const world = new World('bs');
  process.on('SIGINT', () => void world.cleanup().then(() => process.exit(130)));
  const targets = (process.env.BENCH_PEERS ?? '100,1000,5000,10000').split(',').map(Number);
  let log: string[] | undefined;
  try {
    const { cluster, writer } = await peerBench(world);
    const node = cluster.nodes[0];
    log = node.log;

    // latency: one new lease at a time, timed from just before the etcd put to the route's
    // appearance in `ip monitor` inside the node
    const monitor = world.spawnIn(node.ns, 'ip', ['monitor', 'route']);
    const seen = new Map<string, number>();
    createInterface({ input: monitor.stdout! }).on('line', (l) => {
      const m = /^(10\.\d+\.\d+\.0\/24) (?:nhid \d+ )?via/.exec(l);
      if (m && !seen.has(m[1])) seen.set(m[1], Date.now());
    });

    const rows: Row[] = [];
    const startRounds: string[] = [];
    let written = 0;
    let next = 60000; // latency samples' indexes: 10.234.96.0/24 on, clear of the bulk peers
    for (const target of targets) {
      await writer.ask(`bulk ${written} ${target - written}`);
      written = target;
      // START_ROUNDS alternating rounds of the floors and a start; the medians go in the row
      // (one start beside one floor swung by ±20% on this shared machine, the floor as much as the start)
      const starts: number[] = [];
      const floors: number[] = [];
      const floorsNh: number[] = [];
      for (let round = 0; round < START_ROUNDS; round++) {
        if (node.daemon) {
          // restart from a clean kernel: removing the device drops its routes, neighbours and FDB
          node.daemon.kill('SIGTERM');
          await waitFor('twilld to stop', () => node.daemon!.exitCode !== null || node.daemon!.signalCode !== null);
          await ipBatch(netnsPath(node.ns), ['link del twill.1']);
        }
        // the floors first, while no daemon runs: neither disturbs the other's figures
        floors.push(await referenceProgram(world, node.ns, node.ip, target, false));
        floorsNh.push(await referenceProgram(world, node.ns, node.ip, target, true));
        // the harness keeps the last 2000 lines: an index into it does not survive a busy row
        node.log.splice(0);
        const t0 = performance.now();
        cluster.startDaemon(node);
        await waitFor(`twilld to program ${target} peers`, () => programmedAll(node.log, 0, target), 180000, 5);
        starts.push(performance.now() - t0);
        const routes = await countRoutes(node.ns);
        if (routes < target) throw new Error(`twilld said it programmed ${target} peers, the kernel has ${routes} routes`);
      }
      const [start, startFloor, startFloorNh] = [median(starts), median(floors), median(floorsNh)];
      startRounds.push(`${target}: ${starts.map((t, i) => `${fmt(t, 0)}/${fmt(floors[i], 0)} ms`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 1000)); // let the start-up's own events settle
      const lat: number[] = [];
      const latCommitted: number[] = [];
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        const [, subnet, sent, committed] = (await writer.ask(`one ${next++}`)).split(' ');
        const at = (await waitFor(`route for ${subnet}`, () => seen.get(subnet), 30000, 1)) as number;
        lat.push(at - Number(sent));
        latCommitted.push(at - Number(committed));
      }
      const now = rssMiB(node.daemon!.pid!);
      const latFloor = await referenceOne(node.ns, node.ip, LATENCY_SAMPLES);
      await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
      const settled = rssMiB(node.daemon!.pid!);
      rows.push({ peers: target, start, startFloor, startFloorNh, lat, latCommitted, latFloor, rss: now.rss, anon: now.anon, file: now.file, settled, heap: await heapMiB(world, node.ns, node.healthzPort) });
    }
    writer.proc.stdin!.end('quit\n');

    console.log('scale benchmark: one twilld, fake peers written to a real etcd; each row beside its floor, same run');
    printTable([
      ['peers', 'start -> all routes (ms)', 'floor ip+bridge -batch (ms)', 'ratio', 'floor with nexthops (ms)', 'ratio', 'new lease p50/p99 (ms)', 'from etcd commit p50/p99', 'floor p50/p99 (ms)', 'ratio p50/p99',
        'RSS after samples (MiB, anon / file)', `RSS settled ${SETTLE_S} s (anon / file)`, 'vs 80 MiB', 'peak RSS', 'V8 heap used / committed'],
      ...rows.map((r) => {
        const [p50, p99, f50, f99] = [percentile(r.lat, 50), percentile(r.lat, 99), percentile(r.latFloor, 50), percentile(r.latFloor, 99)];
        return [String(r.peers), fmt(r.start, 0), fmt(r.startFloor, 0), fmt(r.start / r.startFloor, 2) + 'x', fmt(r.startFloorNh, 0), fmt(r.start / r.startFloorNh, 2) + 'x',
          `${fmt(p50, 1)} / ${fmt(p99, 1)}`, `${fmt(percentile(r.latCommitted, 50), 1)} / ${fmt(percentile(r.latCommitted, 99), 1)}`, `${fmt(f50, 1)} / ${fmt(f99, 1)}`, `${fmt(p50 / f50, 2)}x / ${fmt(p99 / f99, 2)}x`,
          `${fmt(r.rss, 1)} (${fmt(r.anon, 1)} / ${fmt(r.file, 1)})`, `${fmt(r.settled.rss, 1)} (${fmt(r.settled.anon, 1)} / ${fmt(r.settled.file, 1)})`,
          fmt(r.settled.rss / 80, 2) + 'x', fmt(r.settled.hwm, 1), `${fmt(r.heap.used, 1)} / ${fmt(r.heap.total, 1)}`];
      }),
    ]);
    console.log(`(start and floors: medians of ${START_ROUNDS} alternating rounds; ${LATENCY_SAMPLES} new-lease samples per row; RSS right after them, and after ${SETTLE_S} s idle; heap at the end)`);
    console.log(`start / floor per round: ${startRounds.join('; ')}`);
  } finally {
    // also when a row failed: the log says why
    if (process.env.BENCH_SCALE_LOG && log) writeFileSync(process.env.BENCH_SCALE_LOG, log.join('\n') + '\n');
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:scale failed: ${(e as Error).stack}`);
  process.exitCode = 1;
});
