// The plan of a full pass two ways, for the tests of the held shortcut: from a full decode of
// the kernel's entries, and with the desired entries handed to the read (held ones skipped).
// The two must always be the same operations in the same order.
import type { DataplaneEntries } from '../../lib/dataplane/entries.js';
import { opText, planDataplane } from '../../lib/dataplane/plan.js';
import { ourEntries, readKernelDataplane } from '../../lib/kernel/dataplane.js';
import type { NetlinkSocket } from '../../lib/kernel/netlink/socket.js';
import type { Lease } from '../../lib/schema/lease.js';
import type { NetworkConfig } from '../../lib/schema/network-config.js';

export interface HeldPlans {
  full: string[];
  quick: string[];
  /** how many desired entries the read found held */
  held: number;
}

export function heldPlans(s: NetlinkSocket, devices: string[], ipv6: boolean, desired: DataplaneEntries, config: NetworkConfig, own: Lease): HeldPlans {
  const full = readKernelDataplane(s, devices, ipv6);
  const quick = readKernelDataplane(s, devices, ipv6, desired);
  return {
    full: planDataplane(desired, ourEntries(full, devices, config, own)).ops.map(opText),
    quick: planDataplane(desired, ourEntries(quick, devices, config, own), quick.held).ops.map(opText),
    held: quick.held.size,
  };
}
