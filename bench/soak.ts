// Soak: one real twilld against a real etcd holding 1000 fake peer leases, under lease churn
// for 30 minutes: peers join, leave and change their VtepMAC (a re-created VXLAN device), in
// turn, a few times a second. Two questions, each against its target:
//  - does twilld's memory stay flat? RSS (anonymous and file-backed, as bench:scale splits it)
//    is sampled through the run; growth from the first settled sample (after the start-up and
//    the first part of the churn, when V8's heap has found its size) to the last, <= 5%, and
//    the same between the medians of the first settled minute and the last minute;
//  - does the kernel end up exactly as the leases say? After the churn stops and twilld has
//    had time to converge, the routes, nexthop objects, neighbours and FDB entries on its device are compared
//    with those the live peers need: "entries left behind" (of departed peers, or of a peer's
//    old MAC) target 0, and "entries missing" 0.
//   --minutes N or SOAK_MINUTES=N (default 30)   SOAK_PEERS=1000   SOAK_OPS_PER_S=6
//   SOAK_SAMPLE_S=10 (RSS sampling period)   SOAK_LOG=<file>: twilld's log
import { writeFileSync } from 'node:fs';
import { nexthopIdFor } from '../lib/dataplane/entries.js';
import { ipJson, listFdb, listNeighbours, listRoutes } from '../lib/kernel/ip.js';
import { netnsPath, waitFor, World } from '../harness/world.js';
import { peer } from './fake-peer.js';
import { cpuSeconds, fmt, median, printTable, rssMiB } from './stats.js';
import { heapMiB, peerBench } from './writer.js';

function option(flag: string, env: string, dflt: number): number {
  const i = process.argv.indexOf(flag);
  const v = i >= 0 ? process.argv[i + 1] : process.env[env];
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} / ${env}: not a positive number: ${v}`);
  return n;
}

const MINUTES = option('--minutes', 'SOAK_MINUTES', 30);
const PEERS = option('--peers', 'SOAK_PEERS', 1000);
const OPS_PER_S = option('--ops-per-s', 'SOAK_OPS_PER_S', 6);
const SAMPLE_S = option('--sample-s', 'SOAK_SAMPLE_S', 10);
const DEV = 'twill.1';

/** heap: V8's used / committed MiB from twilld's /metrics, filled in when the scrape returns */
interface Sample { t: number; rss: number; anon: number; file: number; heap?: { used: number; total: number } }

/** Entries on twilld's device that belong to fake peers (10.0-39.x.0/24; the node's own subnet is 10.200.x). */
async function kernelEntries(ns: string): Promise<Set<string>> {
  const path = netnsPath(ns);
  const [routes, neighs, fdb, nexthops] = await Promise.all([listRoutes(path), listNeighbours(path, DEV), listFdb(path, DEV),
    ipJson<{ id: number; gateway?: string; dev?: string }>(path, ['nexthop', 'show', 'dev', DEV])]);
  const out = new Set<string>();
  for (const r of routes) if (r.dev === DEV && !r.dst.startsWith('10.200.')) out.add(`route ${r.dst} via ${r.gateway ?? '-'}`);
  for (const h of nexthops) out.add(`nexthop ${h.id} via ${h.gateway ?? '-'}`);
  for (const n of neighs) if (n.lladdr && !n.dst.startsWith('10.200.')) out.add(`neigh ${n.dst} lladdr ${n.lladdr}`);
  for (const f of fdb) if (f.dst) out.add(`fdb ${f.mac} dst ${f.dst}`);
  return out;
}

/** The four entries each live peer needs (lib/dataplane/peer-entries.ts, written out as the kernel shows them). */
function desiredEntries(live: Map<number, number>): Set<string> {
  const out = new Set<string>();
  for (const [i, gen] of live) {
    const p = peer(i, gen);
    const mac = p.attrs.BackendData!.VtepMAC.toString();
    out.add(`route ${p.subnet} via ${p.subnet.first}`);
    out.add(`nexthop ${nexthopIdFor(p.subnet.first)} via ${p.subnet.first}`);
    out.add(`neigh ${p.subnet.first} lladdr ${mac}`);
    out.add(`fdb ${mac} dst ${p.attrs.PublicIP}`);
  }
  return out;
}

function diff(want: Set<string>, have: Set<string>): { behind: string[]; missing: string[] } {
  return { behind: [...have].filter((e) => !want.has(e)), missing: [...want].filter((e) => !have.has(e)) };
}

async function main(): Promise<void> {
  const world = new World('sk');
  process.on('SIGINT', () => void world.cleanup().then(() => process.exit(130)));
  try {
    const { cluster, writer } = await peerBench(world);
    const node = cluster.nodes[0];

    // peers 0..PEERS-1 live at the start; joins come from a pool twice that size
    await writer.ask(`bulk 0 ${PEERS}`);
    const live = new Map<number, number>(); // index -> MAC generation
    const gens = new Map<number, number>();
    for (let i = 0; i < PEERS; i++) live.set(i, 0);
    const daemon = cluster.startDaemon(node);
    await waitFor(`twilld to program ${PEERS} peers`, async () => (await kernelEntries(node.ns)).size >= 4 * PEERS, 180000, 1000);

    const runMs = MINUTES * 60000;
    const settleMs = Math.max(30000, Math.min(300000, runMs / 5));
    const samples: Sample[] = [];
    const counts = { join: 0, leave: 0, mac: 0 };
    const t0 = Date.now();
    const cpu0 = cpuSeconds(daemon.pid!);
    // V8's share of the growth tells the heap from the C side (malloc arenas, buffers)
    const sample = () => {
      const s: Sample = { t: Date.now() - t0, ...rssMiB(daemon.pid!) };
      samples.push(s);
      return heapMiB(world, node.ns, node.healthzPort).then((h) => { s.heap = h; }, () => {});
    };
    const sampler = setInterval(() => {
      if (daemon.exitCode === null) void sample();
    }, SAMPLE_S * 1000);
    void sample();
    const kinds = ['join', 'leave', 'mac'] as const;
    let n = 0;
    while (Date.now() - t0 < runMs) {
      if (daemon.exitCode !== null || daemon.signalCode !== null) throw new Error(`twilld exited (${daemon.exitCode ?? daemon.signalCode}): ${node.log.slice(-5).join(' | ')}`);
      // keep the live count near PEERS: join below it, leave above it, otherwise in turn
      let kind = kinds[n++ % 3];
      if (kind === 'join' && live.size > PEERS + 20) kind = 'leave';
      else if (kind === 'leave' && live.size < PEERS - 20) kind = 'join';
      if (kind === 'join') {
        let i: number;
        do i = Math.floor(Math.random() * 2 * PEERS); while (live.has(i));
        const gen = (gens.get(i) ?? 0) + 1; // a node that comes back has a new VXLAN device
        gens.set(i, gen);
        live.set(i, gen);
        await writer.ask(`put ${i} ${gen}`);
      } else {
        const keys = [...live.keys()];
        const i = keys[Math.floor(Math.random() * keys.length)];
        if (kind === 'leave') {
          live.delete(i);
          await writer.ask(`del ${i}`);
        } else {
          const gen = (gens.get(i) ?? 0) + 1;
          gens.set(i, gen);
          live.set(i, gen);
          await writer.ask(`put ${i} ${gen}`);
        }
      }
      counts[kind]++;
      await new Promise((r) => setTimeout(r, 1000 / OPS_PER_S));
    }
    clearInterval(sampler);
    const cpu = cpuSeconds(daemon.pid!) - cpu0;
    const churnS = (Date.now() - t0) / 1000;
    await sample();

    // converge: events first, the periodic full reconcile (every 10 s) as the safety net
    const want = desiredEntries(live);
    let last = diff(want, await kernelEntries(node.ns));
    const deadline = Date.now() + 30000;
    while ((last.behind.length || last.missing.length) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      last = diff(want, await kernelEntries(node.ns));
    }
    writer.proc.stdin!.end('quit\n');
    if (process.env.SOAK_LOG) writeFileSync(process.env.SOAK_LOG, node.log.join('\n') + '\n');

    const settled = samples.find((s) => s.t >= settleMs) ?? samples[0];
    const end = samples[samples.length - 1];
    const growth = (end.rss / settled.rss - 1) * 100;
    const anonGrowth = (end.anon / settled.anon - 1) * 100;
    const peak = Math.max(...samples.map((s) => s.rss));
    // RSS moves with V8's collection cycle (one sample may land just after a full collection):
    // the same growth between the medians of the first settled minute and of the last minute
    const firstMinute = median(samples.filter((s) => s.t >= settled.t && s.t < settled.t + 60000).map((s) => s.rss));
    const lastMinute = median(samples.filter((s) => s.t > end.t - 60000).map((s) => s.rss));
    console.log(`soak: one twilld, ${PEERS} fake peers in a real etcd, ${fmt((Date.now() - t0) / 60000, 1)} min of churn `
      + `(${counts.join} joins, ${counts.leave} leaves, ${counts.mac} MAC changes; ${live.size} peers live at the end)`);
    const heap = (s: Sample) => (s.heap ? `${fmt(s.heap.used, 1)} / ${fmt(s.heap.total, 1)}` : '-');
    const row = (label: string, s: Sample) => [label, fmt(s.t / 1000, 0), fmt(s.rss, 1), fmt(s.anon, 1), fmt(s.file, 1), heap(s)];
    printTable([
      ['sample', 't (s)', 'RSS (MiB)', 'anon (MiB)', 'file (MiB)', 'V8 heap used / committed (MiB)'],
      row('start of churn', samples[0]),
      row('first settled', settled),
      ...[0.25, 0.5, 0.75].map((f) => row(`${f * 100}%`, samples[Math.floor(f * (samples.length - 1))])),
      row('last', end),
    ]);
    console.log(`RSS growth, first settled sample -> last: ${fmt(growth, 1)}% (target <= 5%; anonymous ${fmt(anonGrowth, 1)}%; peak ${fmt(peak, 1)} MiB; ${samples.length} samples every ${SAMPLE_S} s)`);
    console.log(`RSS growth, median of the first settled minute -> of the last minute: ${fmt((lastMinute / firstMinute - 1) * 100, 1)}% (${fmt(firstMinute, 1)} -> ${fmt(lastMinute, 1)} MiB)`);
    if (settled.heap && end.heap) {
      console.log(`V8 heap, first settled sample -> last: committed ${fmt(settled.heap.total, 1)} -> ${fmt(end.heap.total, 1)} MiB, used ${fmt(settled.heap.used, 1)} -> ${fmt(end.heap.used, 1)} MiB (the rest of the RSS growth is outside V8's heap)`);
    }
    const changes = counts.join + counts.leave + counts.mac;
    console.log(`twilld CPU during the churn: ${fmt(cpu, 1)} s (${fmt((cpu / churnS) * 100, 1)}% of a core; ${fmt((cpu * 1000) / changes, 2)} ms per lease change)`);
    console.log(`entries left behind: ${last.behind.length} (target 0)${last.behind.length ? ': ' + last.behind.slice(0, 5).join('; ') : ''}`);
    console.log(`entries missing: ${last.missing.length} (target 0)${last.missing.length ? ': ' + last.missing.slice(0, 5).join('; ') : ''}`);
    console.log(`desired ${want.size} entries (routes, nexthops, neighbours, FDB of ${live.size} live peers)`);
    if (last.behind.length || last.missing.length) process.exitCode = 1;
  } finally {
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:soak failed: ${(e as Error).stack}`);
  process.exitCode = 1;
});
