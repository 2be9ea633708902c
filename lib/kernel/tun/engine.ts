// The userspace VXLAN engine (native/vxlan-engine.c) from JavaScript: start it on a TAP
// device's queues, hand it the peer table (VtepMAC -> public IP, swapped atomically), read
// its counters, stop it. The packet loops run on the engine's own threads; nothing here is
// on the per-packet path.
import { Ip } from '../../ip/cidr.js';
import { tunAddon, EngineHandle, RawEngineStats } from './addon.js';
import type { TunDevice } from './device.js';

export interface EngineOptions {
  vni: number;
  /** UDP port, sent to and listened on (8472: Linux's and flannel's VXLAN port) */
  port: number;
  /**
   * false: one packet per system call, no offloads (flannel's udp backend design); the
   * reference the benchmark compares the batched engine with.
   */
  batch?: boolean;
  udpGso?: boolean;
  udpGro?: boolean;
  /** merge received TCP segments into super-frames for the TAP (needs a vnet-header TAP) */
  coalesce?: boolean;
  /** the TAP device's MTU (default 1450): received frames above it are handed over as GSO frames */
  mtu?: number;
  /** nice value of the engine threads (default 0: inherit); needs CAP_SYS_NICE below 0 */
  nice?: number;
  /** scheduler slice of the engine threads in µs (EEVDF, Linux 6.12+: a waking thread preempts sooner); 0 = default */
  sliceUs?: number;
  /**
   * CPU steering (default off): queue q's threads run on CPU q, and the kernel hands each
   * frame and datagram to the queue of the CPU already handling it, so a packet's hand-offs
   * to and from the engine stay on one CPU. With one queue it stays off (nothing to steer).
   * Needs CPUs 0..queues-1, eBPF socket filters and TUNSETSTEERINGEBPF; refused, the engine
   * runs without and says why (stats().cpuSteeringRefused).
   */
  cpuSteering?: boolean;
}

export interface VtepPeer {
  /** the peer's VtepMAC, aa:bb:cc:dd:ee:ff */
  mac: string;
  /** the peer's public (underlay) IPv4 address */
  ip: string;
}

export type EngineStats = Omit<RawEngineStats, 'failure'> & { failure?: string };

export class VxlanEngine {
  private handle?: EngineHandle;

  private constructor(handle: EngineHandle, readonly device: TunDevice, readonly options: Required<EngineOptions>) {
    this.handle = handle;
  }

  static start(device: TunDevice, o: EngineOptions): VxlanEngine {
    if (device.mode !== 'tap') throw new Error(`vxlan engine: ${device.name} is a TUN device; VXLAN carries Ethernet frames (TAP)`);
    const batch = o.batch ?? true;
    const options: Required<EngineOptions> = {
      vni: o.vni, port: o.port, batch,
      udpGso: batch && (o.udpGso ?? true),
      udpGro: batch && (o.udpGro ?? true),
      coalesce: batch && device.vnetHdr && (o.coalesce ?? true),
      mtu: o.mtu ?? 1450,
      nice: o.nice ?? 0,
      sliceUs: o.sliceUs ?? 0,
      cpuSteering: o.cpuSteering ?? false,
    };
    let h: EngineHandle;
    try {
      h = tunAddon().engineStart({ tapFds: [...device.fds], vnetHdr: device.vnetHdr, netns: device.netns ?? null, ...options });
    } catch (e) {
      throw new Error(`vxlan engine on ${device.name} (port ${o.port}, VNI ${o.vni}): ${(e as Error).message}`);
    }
    return new VxlanEngine(h, device, options);
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  /** Replaces the whole peer table; returns once no engine thread can see the old one. */
  setPeers(peers: readonly VtepPeer[]): void {
    tunAddon().engineSetPeers(this.live(), encodePeers(peers));
  }

  stats(): EngineStats {
    const s = tunAddon().engineStats(this.live());
    const { failure, ...rest } = s;
    return failure ? { ...rest, failure } : rest;
  }

  /** Stops and joins the threads (idempotent); the TAP device stays open (the caller's). */
  stop(): void {
    if (!this.handle) return;
    tunAddon().engineStop(this.handle);
    this.handle = undefined;
  }

  private live(): EngineHandle {
    if (!this.handle) throw new Error(`vxlan engine on ${this.device.name} is stopped`);
    return this.handle;
  }
}

/** 12 bytes per peer: MAC, 2 bytes padding, IPv4 in network order (as the C side reads them). */
export function encodePeers(peers: readonly VtepPeer[]): Buffer {
  const buf = Buffer.alloc(peers.length * 12);
  peers.forEach((p, i) => {
    const mac = p.mac.split(':').map((h) => parseInt(h, 16));
    if (mac.length !== 6 || mac.some((b) => !(b >= 0 && b <= 255))) throw new RangeError(`vxlan engine: "${p.mac}" is not a MAC address`);
    const ip = Ip.tryParse(p.ip);
    if (!ip || ip.family !== 4) throw new RangeError(`vxlan engine: "${p.ip}" is not an IPv4 address`);
    buf.set(mac, i * 12);
    buf.writeUInt32BE(Number(ip.value), i * 12 + 8);
  });
  return buf;
}
