// Everything a doctor check compares: this node's lease, the other leases, the network config,
// the kernel state and subnet.env — gathered once, so every check is a pure function of it.
import { overlayMtu, vxlanDeviceName as deviceName } from '../../lib/dataplane/devices.js';
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
  /** twilld's --nexthop-objects (the kernel must have them too) */
  nexthopObjects: boolean;
}

export function vxlanDeviceName(c: NetworkConfig): string {
  return deviceName(c.Backend.VNI);
}

/** The MTU the family's overlay device must have (twilld's rule: the interface MTU minus the tunnel header). */
export function expectedDeviceMtu(input: DoctorInput, family: 4 | 6 = 4): number | undefined {
  const { config, iface } = input;
  if (config.Backend.MTU !== undefined) return config.Backend.MTU;
  return iface ? overlayMtu(config.Backend, iface.mtu, family) : undefined;
}

/** The MTU pods must use: the smallest of the network's families' overlays. */
export function expectedOverlayMtu(input: DoctorInput): number | undefined {
  const families = [...(input.config.EnableIPv4 ? [4 as const] : []), ...(input.config.EnableIPv6 ? [6 as const] : [])];
  const mtus = families.map((f) => expectedDeviceMtu(input, f)).filter((m): m is number => m !== undefined);
  return mtus.length ? Math.min(...mtus) : undefined;
}

/** The .0 address a peer's subnet is reached through on the VXLAN device. */
export function gatewayOf(l: Lease): string {
  return l.subnet.first.toString();
}
