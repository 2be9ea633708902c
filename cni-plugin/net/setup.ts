// Pod plumbing in two `ip -batch` processes: one in the node namespace (bridge, veth pair
// created with its peer already inside the pod namespace, port settings) and one inside the
// pod namespace (address, up, routes). Everything a batch needs is computed up front, so
// nothing is read back from the kernel.
import { CommandError } from '../../lib/exec.js';
import { ipBatchForceSync, ipBatchSync } from '../../lib/kernel/ip.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { CniRoute } from '../../lib/cni/result.js';
import { macFromIp } from './names.js';

export interface PodLink {
  bridge: string;
  gateway: Ip;
  subnet: Cidr;
  mtu: number;
  hairpin: boolean;
  hostVeth: string;
  hostMac: string;
  netns: string;
  ifname: string;
  podIp: Ip;
  podMac: string;
  routes: CniRoute[];
}

export function bridgeMac(gateway: Ip): string {
  return macFromIp(gateway);
}

/**
 * Lines that make an existing bridge right (MTU, up, gateway address). The first line fails
 * with "Cannot find device" when the bridge is missing, before anything changed. The MAC is
 * set only when twill creates the bridge (see createBridgeLine): setting it again, even to
 * the same value, makes the kernel announce NETDEV_CHANGEADDR, which flushes every ARP entry
 * on the bridge, i.e. the node would forget all its pods' MACs on every pod start.
 */
export function bridgeLines(l: PodLink): string[] {
  return [`link set dev ${l.bridge} mtu ${l.mtu} up`, `addr replace ${l.gateway}/${l.subnet.prefix} dev ${l.bridge}`];
}

/**
 * A fixed MAC pins the bridge's address: without one the bridge takes the lowest MAC of its
 * ports, and changes it (flushing its ARP entries) as pods come and go.
 */
export function createBridgeLine(l: PodLink): string {
  return `link add name ${l.bridge} address ${bridgeMac(l.gateway)} mtu ${l.mtu} type bridge`;
}

export function hostLines(l: PodLink): string[] {
  return [
    ...bridgeLines(l),
    `link add name ${l.hostVeth} mtu ${l.mtu} address ${l.hostMac} type veth peer name ${l.ifname} mtu ${l.mtu} address ${l.podMac} netns ${l.netns}`,
    `link set dev ${l.hostVeth} master ${l.bridge} up`,
    ...(l.hairpin ? [`link set dev ${l.hostVeth} type bridge_slave hairpin on`] : []),
    // Read back in the same process (no extra cost): a bridge twill did not create keeps its own MAC.
    `link show dev ${l.bridge}`,
  ];
}

/** The MAC in the `link show` output that ends the host batch. */
export function parseLinkMac(stdout: string): string | undefined {
  return /link\/ether ([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(stdout)?.[1];
}

export function podLines(l: PodLink): string[] {
  return [
    `addr add ${l.podIp}/${l.subnet.prefix} dev ${l.ifname}`,
    `link set dev ${l.ifname} up`,
    // `add`, not `replace`: a pod that already has a default route is a conflict to report.
    ...l.routes.map((r) => `route add ${r.dst === '0.0.0.0/0' ? 'default' : r.dst}${r.gw ? ` via ${r.gw}` : ''} dev ${l.ifname}`),
  ];
}

/** A host-side failure, and whether the veth pair already existed by then (undo needed). */
export class HostSetupError extends Error {
  constructor(
    readonly reason: unknown,
    readonly vethCreated: boolean,
    /** `link add` found the host veth name or the pod's CNI_IFNAME taken */
    readonly nameTaken = false,
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

/**
 * Runs the host batch. When the bridge is missing, creates it and runs the batch again:
 * concurrent ADDs may all find it missing, so "File exists" from the create is success.
 * A failure at or before the `link add` line means this ADD created no veth, so the undo
 * must not delete one (it may belong to an earlier ADD of the same container).
 *
 * Synchronous on purpose: the plugin has nothing else to do while `ip` runs, and spawnSync
 * costs ~3 ms less CPU per child than an event-loop child (no streams, no sockets). On a
 * busy node CPU time is latency, so this beats overlapping the two batches.
 */
export function setupHostSide(l: PodLink): { bridgeMac?: string } {
  const lines = hostLines(l);
  const vethLine = lines.findIndex((x) => x.startsWith('link add ')) + 1; // 1-based, as ip reports
  const attempt = (): { bridgeMac?: string } => {
    try {
      const mac = parseLinkMac(ipBatchSync(undefined, lines));
      return mac ? { bridgeMac: mac } : {};
    } catch (e) {
      const failed = failedLine(e);
      const nameTaken = failed === vethLine && e instanceof CommandError && /File exists/.test(e.stderr);
      throw new HostSetupError(e, failed === undefined || failed > vethLine, nameTaken);
    }
  };
  try {
    return attempt();
  } catch (e) {
    if (!isMissingBridge((e as HostSetupError).reason, l.bridge)) throw e;
  }
  try {
    ipBatchSync(undefined, [createBridgeLine(l)]);
  } catch (e) {
    if (!(e instanceof CommandError && /File exists/.test(e.stderr))) throw new HostSetupError(e, false);
  }
  return attempt();
}

/** `ip -batch` names the failing line as "Command failed -:N". */
export function failedLine(e: unknown): number | undefined {
  const m = e instanceof CommandError ? /Command failed -:(\d+)/.exec(e.stderr) : null;
  return m ? Number(m[1]) : undefined;
}

export function setupPodSide(l: PodLink): void {
  ipBatchSync(l.netns, podLines(l));
}

/** Deleting the host end destroys the pair, wherever the peer is. Missing is fine. */
export function removeHostVeths(names: string[]): void {
  ipBatchForceSync(undefined, names.map((n) => `link del dev ${n}`));
}

function isMissingBridge(e: unknown, bridge: string): boolean {
  return e instanceof CommandError && e.stderr.includes(`Cannot find device "${bridge}"`) && failedLine(e) === 1;
}
