// A "node" for CNI plugin tests: a namespace the plugin runs in (it will hold cni0), a
// subnet.env and an IPAM dir in the world's temp dir, and helpers that call the built
// plugin for pods in their own namespaces, the way a runtime does.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CniOutcome, runCni } from '../../harness/cni.js';
import { netnsPath, World } from '../../harness/world.js';

export interface PluginNodeOptions {
  network?: string;
  subnet?: string; // gateway/len, as flannel writes it
  /** dual stack / IPv6 only: FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET (gateway/len) */
  ipv6Network?: string;
  ipv6Subnet?: string;
  /** IPv6 only: no FLANNEL_NETWORK / FLANNEL_SUBNET */
  noIpv4?: boolean;
  mtu?: number;
  /** write no subnet file (STATUS / code 11 tests) */
  noSubnetFile?: boolean;
}

export class PluginNode {
  readonly subnetFile: string;
  readonly dataDir: string;
  private pods = 0;

  constructor(
    readonly world: World,
    readonly ns: string,
    readonly name: string,
  ) {
    this.subnetFile = path.join(world.tmp, `${name}-subnet.env`);
    this.dataDir = path.join(world.tmp, `${name}-ipam`);
  }

  static async create(world: World, name: string, opts: PluginNodeOptions = {}): Promise<PluginNode> {
    const ns = await world.addNetns(name);
    const n = new PluginNode(world, ns, name);
    if (!opts.noSubnetFile) n.writeSubnetFile(opts);
    return n;
  }

  writeSubnetFile(opts: PluginNodeOptions = {}): void {
    const text = [
      ...(opts.noIpv4 ? [] : [`FLANNEL_NETWORK=${opts.network ?? '10.244.0.0/16'}`, `FLANNEL_SUBNET=${opts.subnet ?? '10.244.3.1/24'}`]),
      ...(opts.ipv6Network ? [`FLANNEL_IPV6_NETWORK=${opts.ipv6Network}`] : []),
      ...(opts.ipv6Subnet ? [`FLANNEL_IPV6_SUBNET=${opts.ipv6Subnet}`] : []),
      `FLANNEL_MTU=${opts.mtu ?? 1450}`,
      'FLANNEL_IPMASQ=true',
      '',
    ].join('\n');
    writeFileSync(this.subnetFile, text);
  }

  /** A plugin config for this node; `extra` overrides or adds fields. */
  conf(cniVersion = '1.1.0', extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { cniVersion, name: `${this.name}-net`, type: 'twill', subnetFile: this.subnetFile, dataDir: this.dataDir, ...extra };
  }

  async addPod(): Promise<{ ns: string; path: string; id: string }> {
    const i = ++this.pods;
    const ns = await this.world.addNetns(`${this.name}p${i}`);
    return { ns, path: netnsPath(ns), id: `${this.world.prefix}-${this.name}-pod${i}` };
  }

  call(command: string, config: object | string, pod?: { path: string; id: string }, extra: { ifname?: string; args?: string; env?: Record<string, string> } = {}): Promise<CniOutcome> {
    return runCni({
      command,
      config,
      runIn: this.ns,
      ...(pod ? { containerId: pod.id, netns: pod.path, ifname: extra.ifname ?? 'eth0' } : {}),
      ...(extra.args !== undefined ? { args: extra.args } : {}),
      ...(extra.env ? { extraEnv: extra.env } : {}),
    });
  }
}

/** Throws with the plugin's own words when it did not succeed. */
export function expectOk(o: CniOutcome, what: string): CniOutcome {
  if (o.code !== 0) throw new Error(`${what}: exit ${o.code}: ${o.stdout}${o.stderr}`);
  return o;
}
