// Control-plane scale: time for one real twilld to program 1000 and 5000 peers at start-up,
// its RSS at 5000 peers, and the latency from a new lease in etcd to its route in the kernel.
// Reference, same run: the same entries written straight with one `ip -batch` + one
// `bridge -batch` (the floor any daemon built on the kernel's tools can reach).
import { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface, Interface } from 'node:readline';
import { bridgeBatch, ipBatch, ipJson, Route } from '../lib/kernel/ip.js';
import { Cluster } from '../harness/cluster.js';
import { netnsPath, waitFor, World } from '../harness/world.js';
import { fmt, percentile, printTable } from './stats.js';

const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 50);
const WRITER = path.join(__dirname, 'lease-writer.js');

class Writer {
  private lines: Interface;
  private waiting: ((line: string) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    this.lines = createInterface({ input: proc.stdout! });
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }
  ask(cmd: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.stdin!.write(cmd + '\n');
    });
  }
}

async function countRoutes(ns: string): Promise<number> {
  const routes = await ipJson<Route>(netnsPath(ns), ['route', 'show', 'dev', 'twill.1']).catch(() => [] as Route[]);
  return routes.filter((r) => r.dst.startsWith('10.') && r.dst.endsWith('/24')).length;
}

function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Reference: the same N peers' neighbour/route/FDB entries in one batch each, on a fresh device. */
async function referenceProgram(world: World, nodeNs: string, nodeIp: string, n: number): Promise<number> {
  const ns = netnsPath(nodeNs);
  await ipBatch(ns, [`link add refvx type vxlan id 99 dev eth0 local ${nodeIp} dstport 4790 nolearning`, 'link set refvx up']);
  try {
    const ipLines: string[] = [];
    const fdbLines: string[] = [];
    for (let i = 0; i < n; i++) {
      const mac = `0e:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const sub = `10.${(i >> 8) & 255}.${i & 255}`;
      ipLines.push(`neigh replace ${sub}.0 lladdr ${mac} dev refvx nud permanent`);
      ipLines.push(`route replace ${sub}.0/24 via ${sub}.0 dev refvx onlink table 99`);
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

async function main(): Promise<void> {
  const world = new World('bs');
  process.on('SIGINT', () => void world.cleanup().then(() => process.exit(130)));
  try {
    const cluster = new Cluster(world, { nodes: 1, network: '10.0.0.0/8' });
    // keep the node's own subnet apart from the fake peers' 10.0-19.x.0/24
    cluster.netConfig = () => ({ Network: '10.0.0.0/8', SubnetLen: 24, SubnetMin: '10.200.0.0', SubnetMax: '10.200.255.0', Backend: { Type: 'vxlan' } });
    await cluster.create();
    const node = cluster.nodes[0];
    const writer = new Writer(world.spawnIn(cluster.ul.ns, process.execPath, [WRITER, cluster.etcdEndpoint, '/coreos.com/network'], undefined, { stdin: true }));
    writer.proc.stdin!.on('error', () => {});

    const startup: [number, number, number][] = [];
    let written = 0;
    for (const target of [1000, 5000]) {
      await writer.ask(`bulk ${written} ${target - written}`);
      written = target;
      if (node.daemon) {
        // restart from a clean kernel: removing the device drops its routes, neighbours and FDB
        node.daemon.kill('SIGTERM');
        await waitFor('twilld to stop', () => node.daemon!.exitCode !== null || node.daemon!.signalCode !== null);
        await ipBatch(netnsPath(node.ns), ['link del twill.1']);
      }
      const t0 = performance.now();
      cluster.startDaemon(node);
      await waitFor(`${target} routes`, async () => (await countRoutes(node.ns)) >= target, 120000, 20);
      const took = performance.now() - t0;
      const ref = await referenceProgram(world, node.ns, node.ip, target);
      startup.push([target, took, ref]);
    }
    const { rss, hwm } = rssMiB(node.daemon!.pid!);

    // latency: one new lease at a time, timed from just before the etcd put to the route's
    // appearance in `ip monitor` inside the node
    const monitor = world.spawnIn(node.ns, 'ip', ['monitor', 'route']);
    const seen = new Map<string, number>();
    createInterface({ input: monitor.stdout! }).on('line', (l) => {
      const m = /^(10\.\d+\.\d+\.0\/24) via/.exec(l);
      if (m && !seen.has(m[1])) seen.set(m[1], Date.now());
    });
    await new Promise((r) => setTimeout(r, 300));
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const [, subnet, sent] = (await writer.ask(`one ${written + i}`)).split(' ');
      const at = (await waitFor(`route for ${subnet}`, () => seen.get(subnet), 30000, 2)) as number;
      lat.push(at - Number(sent));
    }
    writer.proc.stdin!.end('quit\n');

    console.log('scale benchmark: one twilld, fake peers written to a real etcd');
    printTable([
      ['peers', 'twilld start -> all routes (ms)', 'reference ip/bridge -batch (ms)', 'ratio'],
      ...startup.map(([n, t, r]) => [String(n), fmt(t, 0), fmt(r, 0), fmt(t / r, 1) + 'x']),
    ]);
    console.log(`\nnew lease -> route on the node, ${LATENCY_SAMPLES} samples at 5000 peers: p50 ${fmt(percentile(lat, 50), 0)} ms, p99 ${fmt(percentile(lat, 99), 0)} ms`);
    console.log(`twilld RSS at ${written + LATENCY_SAMPLES} peers: ${fmt(rss, 1)} MiB (peak ${fmt(hwm, 1)} MiB)`);
  } finally {
    await world.cleanup();
  }
}

main().catch((e) => {
  console.error(`bench:scale failed: ${(e as Error).stack}`);
  process.exitCode = 1;
});
