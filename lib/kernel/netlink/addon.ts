// Loads the twill_netlink addon (native/netlink.c). Inside the single executable it ships as
// a SEA asset; Node can only dlopen a file, so the bytes are written once per build to a
// content-named file (/run/twill/twill_netlink-<sha256>.node, or a private directory under
// TMPDIR) via tmp + rename, so concurrent plugins never load a half-written file. Outside a
// SEA (tests, tools run from build/) the compiled file next to the build output is loaded.
// TWILL_NETLINK_ADDON overrides both (a path to a .node file).
import { closeSync, lstatSync, mkdirSync, openSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import path from 'node:path';

export interface NetlinkAddon {
  /** A NETLINK_ROUTE socket in the namespace at `netns` (null: the caller's own). */
  socketIn(netns: string | null): number;
  /** Sends each request in turn and returns every reply received, raw. */
  transact(fd: number, requests: Buffer, stopOnError: boolean): Buffer;
  /** Sends the requests many per sendmsg; returns the failures' errors and one ack per send, raw. */
  transactBatch(fd: number, requests: Buffer): Buffer;
  /**
   * Joins the RTNLGRP_* groups on a socket in that namespace; `onData` gets each burst of
   * messages, or null and an errno (ENOBUFS) when the kernel dropped some. `filter`: a
   * classic BPF program ([code, jt, jf, k] flattened) run by the kernel on every message.
   * Returns an id.
   */
  subscribe(netns: string | null, groups: number[], onData: (data: Buffer | null, errno: number) => void, filter?: number[]): number;
  unsubscribe(id: number): void;
  /** A file opened from inside the namespace at `netns` (for /proc/sys/net: that namespace's sysctl). */
  openIn(netns: string, path: string, writable: boolean): number;
  close(fd: number): void;
  /** MADV_PAGEOUT on every mapping of the running executable; returns the bytes advised. */
  pageOutExecutable(): number;
  /** mallopt(M_ARENA_MAX, n); true when glibc took it. */
  limitMallocArenas(n: number): boolean;
  /** malloc_trim(0); true when memory went back to the kernel. */
  trimMalloc(): boolean;
}

export const ASSET_NAME = 'twill_netlink.node';
export const ASSET_DIGEST = 'twill_netlink.sha256';

let loaded: NetlinkAddon | undefined;

export function netlinkAddon(): NetlinkAddon {
  if (loaded) return loaded;
  const file = process.env.TWILL_NETLINK_ADDON || seaAddonFile() || path.join(__dirname, '../../../native/twill_netlink.node');
  const mod = { exports: {} as Partial<NetlinkAddon> };
  try {
    process.dlopen(mod, file);
  } catch (e) {
    throw new Error(`cannot load the netlink addon ${file}: ${(e as Error).message}`);
  }
  const a = mod.exports;
  if (typeof a.socketIn !== 'function' || typeof a.transact !== 'function' || typeof a.openIn !== 'function' || typeof a.close !== 'function'
    || typeof a.transactBatch !== 'function' || typeof a.subscribe !== 'function') {
    throw new Error(`${file} is not the twill netlink addon`);
  }
  loaded = a as NetlinkAddon;
  return loaded;
}

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
  getRawAsset(key: string): ArrayBuffer;
}

/** The addon's file when running as the single executable, written there first if needed. */
function seaAddonFile(): string | undefined {
  let sea: SeaModule;
  try {
    sea = require('node:sea') as SeaModule;
    if (!sea.isSea()) return undefined;
  } catch {
    return undefined;
  }
  const digest = sea.getAsset(ASSET_DIGEST, 'utf8').trim();
  const bytes = new Uint8Array(sea.getRawAsset(ASSET_NAME));
  const errors: string[] = [];
  for (const dir of addonDirs()) {
    try {
      return materialize(dir, `twill_netlink-${digest.slice(0, 16)}.node`, bytes);
    } catch (e) {
      errors.push(`${dir}: ${(e as Error).message}`);
    }
  }
  throw new Error(`cannot write the netlink addon: ${errors.join('; ')}`);
}

function addonDirs(): string[] {
  const uid = process.getuid?.() ?? 0;
  return ['/run/twill', path.join(process.env.TMPDIR || '/tmp', `twill-${uid}`)];
}

/**
 * A directory only we can write to: anyone else able to plant a file under the expected
 * name would get their code run by the plugin (as root).
 */
export function privateDir(dir: string): void {
  let st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = lstatSync(dir);
  }
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new Error(`not a private directory (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)})`);
  }
}

export function materialize(dir: string, name: string, bytes: Uint8Array): string {
  privateDir(dir);
  const file = path.join(dir, name);
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (st?.isFile() && st.size === bytes.length) return file;
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o700);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  return file;
}
