// A whole local twill cluster in network namespaces: an underlay bridge in its own namespace
// with etcd on it, N node namespaces each running the real twilld, and pods attached through the
// real twill plugin binary. Used by the demo, the dataplane benchmark and end-to-end tests.
import { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readSubnetEnv } from '../lib/schema/subnet-env.js';
import { runCni, TWILLD_BIN } from './cni.js';
import { EtcdServer } from './etcd.js';
import { DualUnderlay, dualUnderlay, v6OnlyUnderlay } from './underlay6.js';
import { buildUnderlay, netnsPath, Underlay, waitFor, World } from './world.js';

export type IpFamily = 'ipv4' | 'dual' | 'ipv6';

export interface ClusterOptions {
  nodes: number;
  /** dual: an IPv6 address on every node and an IPv6 pod network beside the IPv4 one; ipv6: IPv6 only (underlay and pods) */
  ipFamily?: IpFamily;
  backend?: 'vxlan' | 'host-gw';
  network?: string;
  ipMasq?: boolean;
  /** extra twilld flags for every node */
  daemonFlags?: string[];
  /** extra twilld flags for one node (1-based index), after daemonFlags */
  nodeFlags?: (index: number) => string[];
  etcdPrefix?: string;
}

export interface ClusterNode {
  index: number;
  ns: string;
  ip: string;
  dir: string;
  subnetFile: string;
  healthzPort: number;
  daemon?: ChildProcess;
  log: string[];
}

export interface Pod {
  name: string;
  ns: string;
  node: ClusterNode;
  containerId: string;
  /** the pod's IPv4 address (its IPv6 one in an IPv6-only cluster) */
  ip: string;
  /** its IPv6 address, in a dual-stack or IPv6-only cluster */
  ip6?: string;
}

export const DEMO_NETWORK = '10.244.0.0/16';
export const DEMO_NETWORK6 = 'fd00:10:244::/56';
export const ETCD_PREFIX = '/coreos.com/network';

export class Cluster {
  readonly nodes: ClusterNode[] = [];
  readonly pods: Pod[] = [];
  ul!: Underlay;
  etcd!: EtcdServer;

  constructor(readonly world: World, readonly opts: ClusterOptions) {}

  get etcdEndpoint(): string {
    return this.etcd.endpoint;
  }

  get ipFamily(): IpFamily {
    return this.opts.ipFamily ?? 'ipv4';
  }

  netConfig(): object {
    const family = this.ipFamily;
    return {
      ...(family !== 'ipv6' ? { Network: this.opts.network ?? DEMO_NETWORK, SubnetLen: 24 } : { EnableIPv4: false }),
      ...(family !== 'ipv4' ? { EnableIPv6: true, IPv6Network: DEMO_NETWORK6 } : {}),
      Backend: this.opts.backend === 'host-gw' ? { Type: 'host-gw' } : { Type: 'vxlan', VNI: 1, Port: 8472 },
    };
  }

  /** Underlay + etcd + network config; daemons are started by startDaemons(). */
  async create(): Promise<this> {
    const family = this.ipFamily;
    this.ul = family === 'ipv4' ? await buildUnderlay(this.world, this.opts.nodes)
      : family === 'dual' ? await dualUnderlay(this.world, this.opts.nodes) : await v6OnlyUnderlay(this.world, this.opts.nodes);
    const ul6 = this.ul as DualUnderlay;
    this.etcd = new EtcdServer({ netns: this.ul.ns, host: family === 'ipv6' ? ul6.hostIp6 : this.ul.hostIp });
    this.world.onCleanup(() => this.etcd.destroy());
    await this.etcd.start();
    await this.etcd.ctl(['put', `${this.opts.etcdPrefix ?? ETCD_PREFIX}/config`, JSON.stringify(this.netConfig())]);
    this.ul.nodes.forEach((n, i) => {
      const dir = path.join(this.world.tmp, `node${i + 1}`);
      mkdirSync(dir, { recursive: true });
      const ip = family === 'ipv6' ? ul6.ip6[i] : n.ip;
      this.nodes.push({ index: i + 1, ns: n.ns, ip, dir, subnetFile: path.join(dir, 'subnet.env'), healthzPort: 10271, log: [] });
    });
    return this;
  }

  daemonArgs(node: ClusterNode): string[] {
    return [
      '--etcd-endpoints', this.etcdEndpoint,
      '--etcd-prefix', this.opts.etcdPrefix ?? ETCD_PREFIX,
      '--iface', 'eth0',
      '--subnet-file', node.subnetFile,
      '--healthz-ip', '127.0.0.1',
      '--healthz-port', String(node.healthzPort),
      ...(this.opts.ipMasq ? ['--ip-masq'] : []),
      ...(this.opts.daemonFlags ?? []),
      ...(this.opts.nodeFlags?.(node.index) ?? []),
    ];
  }

  startDaemon(node: ClusterNode): ChildProcess {
    const child = this.world.spawnIn(node.ns, TWILLD_BIN, this.daemonArgs(node));
    node.daemon = child;
    const keep = (b: Buffer) => {
      node.log.push(...b.toString().split('\n').filter(Boolean));
      if (node.log.length > 2000) node.log.splice(0, node.log.length - 2000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  }

  /** Starts every node's daemon and waits for its subnet.env. */
  async startDaemons(timeoutMs = 30000): Promise<void> {
    for (const n of this.nodes) this.startDaemon(n);
    await Promise.all(this.nodes.map((n) => this.waitReady(n, timeoutMs)));
  }

  async waitReady(node: ClusterNode, timeoutMs = 30000): Promise<void> {
    await waitFor(`twilld on node ${node.index} to write ${node.subnetFile}`, () => {
      if (node.daemon && node.daemon.exitCode !== null) {
        throw new Error(`twilld on node ${node.index} exited ${node.daemon.exitCode}: ${node.log.slice(-5).join(' | ')}`);
      }
      return existsSync(node.subnetFile);
    }, timeoutMs);
  }

  /** The plugin config a kubelet would pass for this node. */
  cniConfig(node: ClusterNode): object {
    return {
      cniVersion: '1.1.0',
      name: 'twill',
      type: 'twill',
      subnetFile: node.subnetFile,
      dataDir: path.join(node.dir, 'ipam'),
    };
  }

  /** Creates a pod namespace and runs the twill plugin's ADD for it inside the node. */
  async addPod(node: ClusterNode, name: string): Promise<Pod> {
    const ns = await this.world.addNetns(name);
    const containerId = `${ns}-${Date.now().toString(36)}`;
    const res = await runCni({ command: 'ADD', config: this.cniConfig(node), containerId, netns: ns, ifname: 'eth0', runIn: node.ns });
    if (res.code !== 0) throw new Error(`twill ADD for ${name} on node ${node.index} failed: ${res.stdout} ${res.stderr}`);
    const addrs = (res.json.ips as { address: string }[]).map((x) => x.address.split('/')[0]);
    const ip4 = addrs.find((a) => !a.includes(':'));
    const ip6 = addrs.find((a) => a.includes(':'));
    const pod: Pod = { name, ns, node, containerId, ip: ip4 ?? ip6!, ...(ip6 ? { ip6 } : {}) };
    this.pods.push(pod);
    this.world.onCleanup(async () => {
      await runCni({ command: 'DEL', config: this.cniConfig(node), containerId, netns: ns, ifname: 'eth0', runIn: node.ns });
    });
    return pod;
  }

  /** The node's pod subnet(s), as `10.244.3.0/24` or `10.244.3.0/24 fd00:10:244:3::/64`. */
  nodeSubnet(node: ClusterNode): string {
    const env = readSubnetEnv(node.subnetFile);
    return [env.subnet, env.ipv6Subnet].filter(Boolean).map(String).join(' ');
  }

  /** Average RTT in ms of `count` pings from one pod to an address, or undefined on loss. */
  async ping(from: Pod, to: string, count = 3): Promise<number | undefined> {
    try {
      const out = await this.world.exec(from.ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', '-q', to]);
      const m = /= [\d.]+\/([\d.]+)\//.exec(out);
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** TCP throughput (Gbit/s) from a pod to an iperf3 server in another namespace. */
  async iperf(clientNs: string, serverNs: string, serverIp: string, seconds = 3): Promise<number> {
    const server = this.world.spawnIn(serverNs, 'iperf3', ['-s', '-1', '-B', serverIp]);
    try {
      const listening = serverIp.includes(':') ? `[${serverIp}]:5201` : `${serverIp}:5201`;
      await waitFor('iperf3 server', async () => {
        const out = await this.world.exec(serverNs, 'ss', ['-ltn']);
        return out.includes(listening);
      }, 5000, 50);
      const out = await this.world.exec(clientNs, 'iperf3', ['-c', serverIp, '-t', String(seconds), '-J']);
      const j = JSON.parse(out);
      return j.end.sum_received.bits_per_second / 1e9;
    } finally {
      server.kill('SIGKILL');
    }
  }
}

export function podNetnsPath(pod: Pod): string {
  return netnsPath(pod.ns);
}

/** Writes a kubelet-style conflist for a node (twill, then portmap). */
export function writeConflist(file: string, node: ClusterNode): void {
  writeFileSync(file, JSON.stringify({
    cniVersion: '1.1.0',
    name: 'twill',
    plugins: [
      { type: 'twill', subnetFile: node.subnetFile, dataDir: path.join(node.dir, 'ipam') },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2));
}
