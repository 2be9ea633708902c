// Gathers the doctor's input (etcd, subnet.env, kernel) and runs every check in order.
import { existsSync, readFileSync } from 'node:fs';
import type { EtcdRegistry } from '../../lib/etcd/registry.js';
import { InvalidLease, Lease, subnetOf } from '../../lib/schema/lease.js';
import { screenLeases } from '../../lib/schema/subnet-pool.js';
import { NetworkConfig, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { parseSubnetEnv, subnetEnvGateway, SubnetEnv } from '../../lib/schema/subnet-env.js';
import { CtlError } from '../errors.js';
import { checkIpForward, checkMasquerade, checkSubnetEnv } from './check-node.js';
import { explainPlan } from './check-dataplane.js';
import { checkHostGwPeers } from './check-routes.js';
import { checkVxlanDevice, vxlanPeers } from './check-vxlan.js';
import { readKernelDataplane } from '../../lib/kernel/dataplane.js';
import { withSocket } from '../../lib/kernel/netlink/socket.js';
import { DoctorInput, vxlanDeviceName } from './context.js';
import { Findings } from './findings.js';
import { interfaceOf, readNodeState, readNodeState6 } from './node-state.js';
import { checkIpv6 } from './check-v6.js';
import { vxlan6DeviceName } from '../../lib/dataplane/devices.js';

export interface DoctorOptions {
  publicIp?: string;
  subnetFile: string;
  /** as twilld's --nexthop-objects: false when the node's twilld runs with --no-nexthop-objects */
  nexthopObjects?: boolean;
}

export interface DoctorReport {
  node: { publicIP: string; subnet: string; backendType: string; device: string | null; interface: string | null };
  peers: number;
  findings: Findings;
}

function loadSubnetEnv(file: string): { env?: SubnetEnv; error?: string; gateway?: string } {
  if (!existsSync(file)) return { error: 'missing' };
  try {
    const text = readFileSync(file, 'utf8');
    return { env: parseSubnetEnv(text, file), gateway: subnetEnvGateway(text) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** This node's lease: by public IP when given, else by the subnet subnet.env names. */
function findOwnLease(leases: readonly Lease[], o: DoctorOptions, env?: SubnetEnv): Lease {
  if (o.publicIp) {
    // an IPv6-only node is known by its PublicIPv6
    const mine = leases.filter((l) => l.attrs.PublicIP.toString() === o.publicIp || l.attrs.PublicIPv6?.toString() === o.publicIp);
    if (mine.length === 0) throw new CtlError(`no lease has public IP ${o.publicIp}: is twilld running on this node? (twillctl leases list)`);
    // a live lease wins over a reservation the node has not picked up
    return mine.find((l) => l.leaseId) ?? mine[0];
  }
  const mySubnet = env?.subnet ?? env?.ipv6Subnet;
  if (!mySubnet) throw new CtlError(`cannot tell which node this is: pass --public-ip (subnet file ${o.subnetFile} is unusable)`);
  const own = leases.find((l) => subnetOf(l, mySubnet.family)?.contains(mySubnet.first));
  if (!own) throw new CtlError(`no lease holds ${mySubnet} (from ${o.subnetFile}): this node's lease expired or was released; restart twilld`);
  return own;
}

export async function runDoctor(r: EtcdRegistry, o: DoctorOptions): Promise<DoctorReport> {
  const [stored, { leases, invalid }] = await Promise.all([r.getConfig(), r.listLeases()]);
  if (!stored) throw new CtlError(`no network config at ${r.prefix}/config`);
  let config;
  try {
    config = parseNetworkConfig(stored.raw);
  } catch (e) {
    throw new CtlError(`stored config is invalid: ${(e as Error).message}`);
  }
  return diagnose(config, leases, o, invalid);
}

/** The checks proper, whichever source (etcd or Kubernetes Nodes) the config and leases came from. */
export async function diagnose(config: NetworkConfig, all: readonly Lease[], o: DoctorOptions, refused: readonly InvalidLease[] = []): Promise<DoctorReport> {
  // the daemon's own screen: what it ignores, doctor reports and leaves out of every check
  const { leases, invalid } = screenLeases(all, refused, config);
  const envRead = loadSubnetEnv(o.subnetFile);
  const own = findOwnLease(leases, o, envRead.env);
  const vxlan = config.Backend.Type === 'vxlan';
  const v4 = config.EnableIPv4;
  const state = await readNodeState(vxlan && v4 ? vxlanDeviceName(config) : undefined, envRead.env?.ipMasq ?? false);
  const state6 = config.EnableIPv6 ? await readNodeState6(vxlan ? vxlan6DeviceName(config.Backend.VNI) : undefined) : undefined;
  const iface = await interfaceOf(state, (v4 ? own.attrs.PublicIP : own.attrs.PublicIPv6 ?? own.attrs.PublicIP).toString());
  const input: DoctorInput = {
    config,
    own,
    peers: leases.filter((l) => l.key !== own.key),
    state,
    iface,
    subnetFile: o.subnetFile,
    subnetEnv: envRead.env,
    subnetEnvError: envRead.error,
    subnetEnvGateway: envRead.gateway,
    nexthopObjects: o.nexthopObjects !== false,
  };
  const f = new Findings();
  for (const l of invalid) {
    f.error('invalid-lease', l.key, `${l.field}: ${l.reason}; twilld ignores this lease, so no node routes to it`,
      'correct the value (or delete the key / fix the Node annotation) so that it parses');
  }
  if (!iface) {
    f.error('lease', own.attrs.PublicIP.toString(), `this node's lease publishes public IP ${own.attrs.PublicIP}, but no interface here has it`,
      'run doctor on the node that owns the lease (or pass its --public-ip); if the address changed, restart twilld');
  }
  let peerCount = input.peers.length;
  // the families whose per-peer entries twilld's planner, run dry, explains (a missing
  // device is one finding, and its entries are not planned)
  const families: (4 | 6)[] = [];
  if (v4) {
    checkSubnetEnv(input, f);
    checkIpForward(input, f);
    if (vxlan) {
      peerCount = vxlanPeers(input, f).length;
      if (checkVxlanDevice(input, f)) families.push(4);
    } else {
      checkHostGwPeers(input, f);
      families.push(4);
    }
    checkMasquerade(input, f);
  }
  if (state6 && checkIpv6(input, f, state6)) families.push(6);
  if (families.length) {
    const devices = vxlan ? [...(v4 ? [vxlanDeviceName(config)] : []), ...(config.EnableIPv6 ? [vxlan6DeviceName(config.Backend.VNI)] : [])] : [];
    const kernel = withSocket(undefined, (s) => readKernelDataplane(s, devices, !!config.EnableIPv6));
    const planned = explainPlan(input, kernel, families, f);
    if (!v4) peerCount = planned;
  }
  return {
    node: {
      publicIP: own.attrs.PublicIP.toString(),
      subnet: own.subnet.toString(),
      backendType: config.Backend.Type,
      device: vxlan ? (v4 ? vxlanDeviceName(config) : vxlan6DeviceName(config.Backend.VNI)) : null,
      interface: iface?.ifname ?? null,
    },
    peers: peerCount,
    findings: f,
  };
}
