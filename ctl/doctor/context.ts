// Everything a doctor check compares: this node's lease, the other leases, the network config,
// the kernel state and subnet.env — gathered once, so every check is a pure function of it.
import type { Link } from '../../lib/kernel/ip.js';
import type { Lease } from '../../lib/schema/lease.js';
import type { NetworkConfig } from '../../lib/schema/network-config.js';
import type { SubnetEnv } from '../../lib/schema/subnet-env.js';
import type { NodeState } from './node-state.js';

export interface DoctorInput {
  config: NetworkConfig;
  own: Lease;
  /** every other lease (live and reserved) */
  peers: Lease[];
  state: NodeState;
  /** the interface holding our public IP */
  iface?: Link;
  subnetFile: string;
  subnetEnv?: SubnetEnv;
  subnetEnvError?: string;
  /** raw FLANNEL_SUBNET (with host bits), for the gateway check */
  subnetEnvGateway?: string;
}

export const VXLAN_OVERHEAD = 50;

export function vxlanDeviceName(c: NetworkConfig): string {
  return `twill.${c.Backend.VNI}`;
}

/** The MTU pods and the overlay device must use. */
export function expectedOverlayMtu(input: DoctorInput): number | undefined {
  const { config, iface } = input;
  if (config.Backend.MTU !== undefined) return config.Backend.MTU;
  if (!iface) return undefined;
  return config.Backend.Type === 'vxlan' ? iface.mtu - VXLAN_OVERHEAD : iface.mtu;
}

/** The .0 address a peer's subnet is reached through on the VXLAN device. */
export function gatewayOf(l: Lease): string {
  return l.subnet.first.toString();
}
