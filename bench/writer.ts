// The bench side of bench/lease-writer.ts: one command line out, one answer line back; and
// the one-node cluster bench:scale and bench:soak write their fake peers into.
import { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface, Interface } from 'node:readline';
import { Cluster } from '../harness/cluster.js';
import type { World } from '../harness/world.js';

export const WRITER = path.join(__dirname, 'lease-writer.js');

export class Writer {
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

/**
 * One node in a 10.0.0.0/8 network whose own subnet is kept apart (10.200.x.0/24) from the fake
 * peers' (bench/fake-peer.ts), and a lease writer in the underlay namespace next to etcd.
 */
export async function peerBench(world: World): Promise<{ cluster: Cluster; writer: Writer }> {
  const cluster = new Cluster(world, { nodes: 1, network: '10.0.0.0/8' });
  cluster.netConfig = () => ({ Network: '10.0.0.0/8', SubnetLen: 24, SubnetMin: '10.200.0.0', SubnetMax: '10.200.255.0', Backend: { Type: 'vxlan' } });
  await cluster.create();
  const writer = new Writer(world.spawnIn(cluster.ul.ns, process.execPath, [WRITER, cluster.etcdEndpoint, '/coreos.com/network'], undefined, { stdin: true }));
  writer.proc.stdin!.on('error', () => {});
  return { cluster, writer };
}

/** twilld's V8 heap (used / committed, MiB) from its /metrics, fetched inside the node's namespace. */
export async function heapMiB(world: World, ns: string, port: number): Promise<{ used: number; total: number }> {
  const script = `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const text = await world.exec(ns, process.execPath, ['-e', script]);
  const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return { used: get('nodejs_heap_size_used_bytes'), total: get('nodejs_heap_size_total_bytes') };
}
