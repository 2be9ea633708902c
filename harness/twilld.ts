// Runs the built twilld inside a node namespace of a test world, the way a DaemonSet would
// run it on a node: its own subnet file, its own health port, JSON-lines logs kept for
// assertions and for the failure message.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TWILLD_BIN } from './cni.js';
import { EtcdServer } from './etcd.js';
import { buildUnderlay, netnsPath, stopProcess, tmpPath, Underlay, UnderlayNode, waitFor, World } from './world.js';
import { runIn } from '../lib/kernel/ns.js';
import { addPod, Pod } from './pods.js';

export interface TwilldOptions {
  etcd: string;
  /** extra flags */
  args?: string[];
  healthzPort?: number;
  /** default: a file in the world's temp dir named after the node */
  subnetFile?: string;
  /** a command prefix twilld runs under (e.g. readOnlyProcSys()) */
  wrap?: string[];
  /** extra environment (over the test's own) */
  env?: NodeJS.ProcessEnv;
}

export class Twilld {
  child?: ChildProcess;
  logs = '';
  readonly subnetFile: string;
  readonly port: number;

  constructor(private readonly world: World, readonly node: UnderlayNode, private readonly o: TwilldOptions) {
    this.subnetFile = o.subnetFile ?? tmpPath(world, `${node.ns}.subnet.env`);
    this.port = o.healthzPort ?? 9100;
  }

  start(): this {
    const args = [
      '--etcd-endpoints', this.o.etcd,
      '--iface', this.node.iface,
      '--subnet-file', this.subnetFile,
      '--healthz-ip', '127.0.0.1',
      '--healthz-port', String(this.port),
      '--subnet-lease-ttl', '30s',
      '--subnet-lease-renew-margin', '20s',
      '--reconcile-interval', '1s',
      '--log-level', 'debug',
      ...(this.o.args ?? []),
    ];
    const [command, ...prefix] = [...(this.o.wrap ?? []), TWILLD_BIN];
    this.child = this.world.spawnIn(this.node.ns, command, [...prefix, ...args], this.o.env);
    this.child.stdout!.on('data', (b) => (this.logs += b));
    this.child.stderr!.on('data', (b) => (this.logs += b));
    return this;
  }

  async stop(): Promise<number | null> {
    if (!this.child) return null;
    const c = this.child;
    await stopProcess(c);
    this.child = undefined;
    return c.exitCode;
  }

  /** GET on the daemon's HTTP server, from inside the node namespace. */
  async http(path: string): Promise<{ status: number; body: string }> {
    const script = `fetch('http://127.0.0.1:${this.port}${path}').then(async r => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })) }, e => { console.error(e.message); process.exit(3) })`;
    const out = await runIn(netnsPath(this.node.ns), process.execPath, ['-e', script]);
    return JSON.parse(out) as { status: number; body: string };
  }

  /** A metric's value (first series matching name and optional label text). */
  async metric(name: string, labels = ''): Promise<number | undefined> {
    const { body } = await this.http('/metrics');
    const line = body.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
    return line ? Number(line.split(' ').pop()) : undefined;
  }

  async waitReady(timeoutMs = 30000): Promise<void> {
    const exited = () => this.child === undefined || this.child.exitCode !== null || this.child.signalCode !== null;
    await waitFor(`twilld on ${this.node.ns} ready`, async () => {
      if (exited()) return true; // reported below, without waiting out the timeout
      if (!existsSync(this.subnetFile)) return false;
      return (await this.http('/readyz')).status === 200;
    }, timeoutMs, 200).then(() => {
      if (exited()) throw new Error(`twilld on ${this.node.ns} exited (${this.child?.exitCode})`);
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- twilld log ---\n${this.logs.slice(-4000)}`);
    });
  }

  /** Log lines parsed as JSON (non-JSON lines dropped). */
  logLines(): Record<string, unknown>[] {
    return this.logs.split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
}

/** A network config JSON for etcd. */
export function netConfig(extra: Record<string, unknown> = {}, backend: Record<string, unknown> = {}): string {
  return JSON.stringify({ Network: '10.244.0.0/16', SubnetLen: 24, ...extra, Backend: { Type: 'vxlan', ...backend } });
}

/**
 * netConfig's extra for tests that write leases on fixed keys while nodes run: the nodes lease
 * random subnets, and kept below 10.244.200.0 they never hold a key from 10.244.200.0/24 up
 * (a put on a node's own key would replace that node's lease). Leases outside
 * [SubnetMin, SubnetMax] are still routed, so the fixed keys stay ordinary peers.
 */
export const FIXED_KEYS_ABOVE_NODES = { SubnetMax: '10.244.199.0' };

export const CONFIG_KEY = '/coreos.com/network/config';

/** An underlay of `nodes` node namespaces with a real etcd on it, holding `config` when given. */
export async function startEtcdWorld(world: World, nodes: number, config?: string): Promise<{ ul: Underlay; etcd: EtcdServer }> {
  const ul = await buildUnderlay(world, nodes);
  const etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
  world.onCleanup(() => etcd.destroy());
  await etcd.start();
  if (config !== undefined) await etcd.ctl(['put', CONFIG_KEY, config]);
  return { ul, etcd };
}

/**
 * twilld on the first two nodes (with extra flags), both ready, then one pod on each.
 * `beforePods` runs between the two, for node set-up the pods must already see.
 */
export async function startTwoNodes(world: World, ul: Underlay, etcd: EtcdServer, args: string[] = [], beforePods?: () => Promise<void>) {
  const d1 = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, args }).start();
  const d2 = new Twilld(world, ul.nodes[1], { etcd: etcd.endpoint, args }).start();
  await Promise.all([d1.waitReady(), d2.waitReady()]);
  await beforePods?.();
  const p1: Pod = await addPod(world, ul.nodes[0].ns, d1.subnetFile, 1);
  const p2: Pod = await addPod(world, ul.nodes[1].ns, d2.subnetFile, 1);
  return { d1, d2, p1, p2 };
}
