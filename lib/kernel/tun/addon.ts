// Loads the twill_tuntap addon (native/tuntap.c + the userspace VXLAN engine). Only twilld
// carries it: inside the daemon's single executable it is a SEA asset written once per build
// to a content-named file in a private directory (as the netlink addon); outside a SEA the
// compiled file under build/native is loaded. TWILL_TUNTAP_ADDON overrides both.
import path from 'node:path';
import { materialize } from '../netlink/addon.js';

export interface OpenRequest {
  name: string;
  netns?: string | null;
  tap: boolean;
  vnetHdr: boolean;
  multiQueue: boolean;
  queues: number;
  persist: boolean;
  nonBlocking: boolean;
  exclusive: boolean;
  devicePath?: string;
}

export interface EngineRequest {
  tapFds: number[];
  port: number;
  vni: number;
  vnetHdr: boolean;
  batch: boolean;
  udpGso: boolean;
  udpGro: boolean;
  coalesce: boolean;
  /** the TAP's MTU */
  mtu: number;
  nice: number;
  sliceUs: number;
  cpuSteering: boolean;
  /** namespace of the UDP sockets (default: the caller's) */
  netns?: string | null;
}

/** Opaque handle of a running engine. */
export type EngineHandle = { readonly __engine: unique symbol };

export interface RawEngineStats {
  txFrames: number;
  /** of txFrames, those the receiving thread took from the TAP right after its own writes (replies, ACKs) */
  txByReceiver: number;
  txPackets: number; txBytes: number; txSends: number; txGsoFrames: number;
  txDropUnknownMac: number; txDropBadFrame: number; txDropSendError: number;
  rxPackets: number; rxBytes: number; rxFrames: number; rxWrites: number; rxCoalesced: number;
  rxDropMalformed: number; rxDropWrongVni: number; rxDropUnknownSource: number; rxDropWriteError: number;
  peerSwaps: number;
  udpGso: boolean; udpGro: boolean; threads: number; nice: number; sliceUs: number;
  cpuSteering: boolean;
  /** why CPU steering, asked for, is off (null when on or not asked for) */
  cpuSteeringRefused: string | null;
  failure: string | null;
}

export interface TunAddon {
  open(req: OpenRequest): { name: string; fds: number[] };
  setOffload(fd: number, flags: number): void;
  setPersist(fd: number, on: number): void;
  close(fd: number): void;
  engineStart(req: EngineRequest): EngineHandle;
  engineSetPeers(h: EngineHandle, table: Buffer): void;
  engineStats(h: EngineHandle): RawEngineStats;
  engineStop(h: EngineHandle): void;
}

const ASSET = 'twill_tuntap.node';
const DIGEST = 'twill_tuntap.sha256';
let loaded: TunAddon | undefined;

export function tunAddon(): TunAddon {
  if (loaded) return loaded;
  const file = process.env.TWILL_TUNTAP_ADDON || seaFile() || path.join(__dirname, '../../../native/twill_tuntap.node');
  const mod = { exports: {} as Partial<TunAddon> };
  try {
    process.dlopen(mod, file);
  } catch (e) {
    throw new Error(`cannot load the tun/tap addon ${file}: ${(e as Error).message}`);
  }
  if (typeof mod.exports.open !== 'function' || typeof mod.exports.engineStart !== 'function') {
    throw new Error(`${file} is not the twill tun/tap addon`);
  }
  loaded = mod.exports as TunAddon;
  return loaded;
}

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
  getRawAsset(key: string): ArrayBuffer;
}

function seaFile(): string | undefined {
  let sea: SeaModule;
  try {
    sea = require('node:sea') as SeaModule;
    if (!sea.isSea()) return undefined;
  } catch {
    return undefined;
  }
  let digest: string;
  try {
    digest = sea.getAsset(DIGEST, 'utf8').trim();
  } catch {
    return undefined; // a program built without the asset (never twilld)
  }
  const bytes = new Uint8Array(sea.getRawAsset(ASSET));
  const uid = process.getuid?.() ?? 0;
  const errors: string[] = [];
  for (const dir of ['/run/twill', path.join(process.env.TMPDIR || '/tmp', `twill-${uid}`)]) {
    try {
      return materialize(dir, `twill_tuntap-${digest.slice(0, 16)}.node`, bytes);
    } catch (e) {
      errors.push(`${dir}: ${(e as Error).message}`);
    }
  }
  throw new Error(`cannot write the tun/tap addon: ${errors.join('; ')}`);
}
