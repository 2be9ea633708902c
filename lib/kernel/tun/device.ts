// TUN/TAP devices by name, in any network namespace: typed options over the addon's open(),
// offloads probed in order of preference, a handle that closes every queue once.
//
//   const dev = openTun({ name: 'twtap0', mode: 'tap', netns: '/var/run/netns/n1', vnetHdr: true, queues: 2 });
//   dev.fds      one fd per queue (IFF_MULTI_QUEUE when queues > 1)
//   dev.close()  detaches; a non-persistent device disappears with its last queue
import { tunAddon } from './addon.js';
import { tunError } from './errors.js';

/** TUNSETOFFLOAD bits (linux/if_tun.h). */
export const TUN_F = { CSUM: 0x01, TSO4: 0x02, TSO6: 0x04, TSO_ECN: 0x08, UFO: 0x10, USO4: 0x20, USO6: 0x40 } as const;

export interface TunOptions {
  name: string;
  /** namespace file (/var/run/netns/NAME, /proc/PID/ns/net); default: the caller's own */
  netns?: string;
  mode: 'tun' | 'tap';
  /** IFF_VNET_HDR: a virtio_net_hdr before every frame (needed for any offload) */
  vnetHdr?: boolean;
  /** > 1 opens that many queues with IFF_MULTI_QUEUE */
  queues?: number;
  /** force IFF_MULTI_QUEUE even with one queue (to attach more later) */
  multiQueue?: boolean;
  /** the device outlives its fds (TUNSETPERSIST) */
  persist?: boolean;
  nonBlocking?: boolean;
  /** fail when a device of that name exists (IFF_TUN_EXCL) instead of attaching to it */
  exclusive?: boolean;
  /**
   * Offload sets to try in order (TUN_F bits); the first the kernel accepts is applied to every
   * queue. Without vnetHdr the kernel must not hand over unchecksummed or GSO frames: ignored.
   */
  offloads?: readonly number[];
  /** default /dev/net/tun */
  devicePath?: string;
}

export class TunDevice {
  private closed = false;

  constructor(
    readonly name: string,
    readonly fds: readonly number[],
    readonly mode: 'tun' | 'tap',
    readonly vnetHdr: boolean,
    /** the TUN_F bits in effect */
    readonly offloads: number,
    readonly netns?: string,
  ) {}

  get queues(): number {
    return this.fds.length;
  }

  /** Closes every queue (idempotent). A non-persistent device is removed with the last one. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const errors: string[] = [];
    for (const fd of this.fds) {
      try {
        tunAddon().close(fd);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new Error(`closing ${this.name}: ${errors.join('; ')}`);
  }

  /** Makes the device persistent or not (it stays while persistent, even with no fd open). */
  setPersist(on: boolean): void {
    try {
      tunAddon().setPersist(this.fds[0], on ? 1 : 0);
    } catch (e) {
      throw tunError(e, { op: 'TUNSETPERSIST', device: this.name, netns: this.netns });
    }
  }
}

export function openTun(o: TunOptions): TunDevice {
  const queues = o.queues ?? 1;
  const ctx = { op: 'open', device: o.name, netns: o.netns };
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(o.name)) throw new RangeError(`tun: "${o.name}" is not a device name (1..15 characters)`);
  if (!Number.isInteger(queues) || queues < 1 || queues > 16) throw new RangeError(`tun ${o.name}: queues must be 1..16, got ${queues}`);
  const addon = tunAddon();
  let res: { name: string; fds: number[] };
  try {
    res = addon.open({
      name: o.name,
      netns: o.netns ?? null,
      tap: o.mode === 'tap',
      vnetHdr: !!o.vnetHdr,
      multiQueue: !!o.multiQueue || queues > 1,
      queues,
      persist: !!o.persist,
      nonBlocking: !!o.nonBlocking,
      exclusive: !!o.exclusive,
      devicePath: o.devicePath,
    });
  } catch (e) {
    throw tunError(e, ctx);
  }
  let offloads = 0;
  if (o.vnetHdr && o.offloads?.length) {
    try {
      offloads = probeOffloads(res.fds, o.offloads);
    } catch (e) {
      for (const fd of res.fds) addon.close(fd);
      throw tunError(e, { ...ctx, op: 'TUNSETOFFLOAD' });
    }
  }
  return new TunDevice(res.name, res.fds, o.mode, !!o.vnetHdr, offloads, o.netns);
}

/** The first candidate the kernel accepts (EINVAL = not supported here), set on every queue; 0 if none. */
function probeOffloads(fds: readonly number[], candidates: readonly number[]): number {
  const addon = tunAddon();
  for (const flags of candidates) {
    try {
      for (const fd of fds) addon.setOffload(fd, flags);
      return flags;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EINVAL') throw e;
    }
  }
  for (const fd of fds) addon.setOffload(fd, 0);
  return 0;
}
