// vxlan backend, userspace dataplane (twilld --vxlan-userspace): for nodes whose kernel has
// no VXLAN driver. On the wire and in etcd it is the vxlan backend: same lease (BackendType
// "vxlan", VNI, VtepMAC), same UDP port, plain RFC 7348 VXLAN, so kernel-VXLAN nodes (twill's
// and flannel's) cannot tell the difference. On the node:
//  - a TAP device named like the VXLAN device (twill.<VNI>), same MAC, MTU and /32 address,
//  - per peer the same onlink route and permanent neighbour entry as for kernel vxlan (the
//    kernel still routes and answers ARP), but no FDB entry: the TAP has no FDB. Instead the
//    peer table (VtepMAC -> public IP) goes to twill's C engine, which encapsulates frames
//    read from the TAP and decapsulates what arrives on the UDP port, on threads of its own.
// The TAP is persistent, so a restarting daemon finds its routes in place and re-attaches.
import { availableParallelism } from 'node:os';
import { getLink, ipBatch } from '../../lib/kernel/ip.js';
import { openTun, TUN_F, TunDevice } from '../../lib/kernel/tun/device.js';
import { TunDeviceExistsError } from '../../lib/kernel/tun/errors.js';
import { VxlanEngine, VtepPeer } from '../../lib/kernel/tun/engine.js';
import { Lease, vxlanData } from '../../lib/schema/lease.js';
import { vxlanDeviceName } from '../../lib/dataplane/devices.js';
import type { Backend, BackendContext, PeerEntries } from './backend.js';
import { renderEngineMetrics } from './userspace-vxlan-metrics.js';
import { createVxlanBackend, ensureTunnelAddress } from './vxlan.js';

export interface UserspaceVxlanOptions {
  /** TAP queues = engine thread pairs; 0 = one per CPU, at most 4 */
  queues: number;
  /** false: one packet per system call, no virtio header, no GSO/GRO (the per-packet reference) */
  offloads: boolean;
  /**
   * how a packet finds its queue: 'cpu', the queue of the CPU handling it, whose threads are
   * pinned there (a ping's hand-offs stay on one CPU: RTT about half, one stream 14-17% slower
   * on 2 cores); 'hash', by flow hash, threads where the scheduler puts them. See README.
   */
  steering: QueueSteering;
}

export const QUEUE_STEERINGS = ['cpu', 'hash'] as const;
export type QueueSteering = (typeof QUEUE_STEERINGS)[number];

export function createUserspaceVxlanBackend(ctx: BackendContext, o: UserspaceVxlanOptions): Backend {
  const { config, log } = ctx;
  // the engine speaks VXLAN over IPv4 only
  if (config.EnableIPv6 || !config.EnableIPv4) throw new Error('the userspace VXLAN dataplane is IPv4 only: drop --vxlan-userspace, or EnableIPv6 from the network config');
  // lease attrs, MTU and per-peer entries are the same, except that the routes stay plain: the
  // kernel deletes nexthop objects (and their routes) when their device loses its carrier,
  // which a TAP does whenever no engine holds it (a daemon restart), and pod traffic for the
  // peers would then leave by the default route instead of waiting at the TAP
  const kernel = createVxlanBackend({ ...ctx, nexthops: false });
  const vni = config.Backend.VNI;
  const dev = vxlanDeviceName(vni);
  const attrs = kernel.leaseAttrs();
  const mac = vxlanData(attrs)!.VtepMAC;
  const mtu = kernel.mtu();
  const queues = o.offloads ? (o.queues || Math.min(availableParallelism(), 4)) : 1;
  let tap: TunDevice | undefined;
  let engine: VxlanEngine | undefined;
  let peers: VtepPeer[] = [];

  function close(): void {
    engine?.stop();
    engine = undefined;
    try {
      tap?.close();
    } catch (e) {
      log.warn('closing the TAP device failed', { device: dev, error: e });
    }
    tap = undefined;
  }

  function openDevice(): TunDevice {
    return openTun({
      name: dev, mode: 'tap', queues, multiQueue: true, persist: true,
      vnetHdr: o.offloads,
      // TSO4 + checksum: TCP leaves the TAP as 64 KB super-frames the engine segments itself
      offloads: o.offloads ? [TUN_F.CSUM | TUN_F.TSO4, TUN_F.CSUM] : [],
    });
  }

  /** Opens (or re-attaches to) the TAP and starts the engine on it; true when the device was missing. */
  async function start(): Promise<boolean> {
    close();
    const link = await getLink(undefined, dev);
    let device: TunDevice;
    try {
      device = openDevice();
    } catch (e) {
      // a kernel VXLAN device (the node ran the kernel backend before) or a TAP with other
      // flags holds the name: it is ours, replace it
      if (!(e instanceof TunDeviceExistsError) || !link) throw e;
      log.warn('device has the wrong kind or flags for the userspace dataplane; re-creating it', { device: dev, kind: link.linkinfo?.info_kind });
      await ipBatch(undefined, [`link del ${dev}`]);
      device = openDevice();
    }
    tap = device;
    await ipBatch(undefined, [`link set dev ${dev} address ${mac} mtu ${mtu}`, `link set dev ${dev} up`]);
    // nice -10 and a 100 µs slice: a packet should not wait behind the node's other work for
    // its thread (on this repo's loaded 2-core test machine the slice removed the ms-long RTT
    // outliers in 5 alternating runs: worst ping average 0.8 ms instead of 4.0 ms)
    engine = VxlanEngine.start(device, { vni, port: config.Backend.Port, batch: o.offloads, mtu, nice: -10, sliceUs: 100, cpuSteering: o.steering === 'cpu' });
    engine.setPeers(peers);
    const s = engine.stats();
    log.info('userspace vxlan engine started', {
      device: dev, queues, threads: s.threads, nice: s.nice, sliceUs: s.sliceUs, tapOffloads: device.offloads, udpGso: s.udpGso, udpGro: s.udpGro, batch: o.offloads,
      steering: s.cpuSteering ? 'cpu' : 'hash',
    });
    if (s.cpuSteeringRefused) log.warn('userspace vxlan: CPU steering refused; queues chosen by flow hash', { device: dev, reason: s.cpuSteeringRefused });
    return !link;
  }

  return {
    type: 'vxlan',
    device: dev,
    devices: [dev],
    leaseAttrs: () => attrs,
    mtu: () => mtu,
    async ensureLocal(lease: Lease): Promise<boolean> {
      const link = await getLink(undefined, dev);
      const failure = engine?.stats().failure;
      let created = false;
      if (!engine || !link || failure || link.linkinfo?.info_kind !== 'tun') {
        if (failure) log.warn('userspace vxlan engine failed; restarting it', { device: dev, failure });
        // a restart of what was running is a repair, as is a missing device at start-up
        const wasRunning = engine !== undefined;
        created = (await start()) || wasRunning;
      } else {
        const lines: string[] = [];
        if (link.address !== mac.toString()) lines.push(`link set dev ${dev} address ${mac}`);
        if (link.mtu !== mtu) lines.push(`link set dev ${dev} mtu ${mtu}`);
        if (!link.flags.includes('UP')) lines.push(`link set dev ${dev} up`);
        await ipBatch(undefined, lines);
      }
      await ensureTunnelAddress(dev, 4, lease.subnet, config.Network);
      return created;
    },
    peerEntries(peer: Lease): PeerEntries | undefined {
      const e = kernel.peerEntries(peer);
      return e && { ...e, fdb: [] };
    },
    syncPeers(leases: readonly Lease[]): void {
      const next = leases.flatMap((l) => kernel.peerEntries(l)?.fdb ?? []).map((f) => ({ mac: f.mac.toString(), ip: f.dst.toString() }));
      // every pass hands over the lease set; the engine only needs a new table when it changed
      if (JSON.stringify(next) === JSON.stringify(peers)) return;
      peers = next;
      engine?.setPeers(peers);
    },
    health(): string | undefined {
      if (!engine) return 'userspace vxlan engine not running';
      const f = engine.stats().failure;
      return f ? `userspace vxlan engine failed: ${f}` : undefined;
    },
    metrics(): string[] {
      return renderEngineMetrics(engine?.stats(), tap?.offloads ?? 0, peers.length);
    },
    stop(): void {
      close();
    },
  };
}
