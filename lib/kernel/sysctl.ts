// Sysctls, the one way in: straight through /proc/sys, no process. Our own namespace's by
// path; another namespace's through a file the netlink addon opens from inside it
// (/proc/sys/net resolves by the opener's namespace). Synchronous: loading node:fs/promises
// costs the CNI plugin ~1 ms of start-up, and a sysctl never blocks for long. Errors carry
// the errno's code as fs errors do (ENOENT: no such sysctl there).
import { closeSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { netlinkAddon } from './netlink/addon.js';

/**
 * A dotted key ('net.ipv4.ip_forward'), or path segments, so that an interface name with a
 * dot stays one segment: ['net', 'ipv6', 'conf', 'eth0.100', 'accept_ra'].
 */
export type SysctlKey = string | readonly string[];

const segmentsOf = (key: SysctlKey): readonly string[] => (typeof key === 'string' ? key.split('.') : key);
const nameOf = (key: SysctlKey): string => segmentsOf(key).join('.');
const file = (key: SysctlKey): string => `/proc/sys/${segmentsOf(key).join('/')}`;

export function readOwnSysctl(key: SysctlKey): string {
  return readFileSync(file(key), 'utf8').trim();
}

export function writeOwnSysctl(key: SysctlKey, value: string): void {
  writeFileSync(file(key), value);
}

/** Our own namespace's value, or undefined when it cannot be read (no such sysctl, no /proc). */
export function tryReadOwnSysctl(key: SysctlKey): string | undefined {
  try {
    return readOwnSysctl(key);
  } catch {
    return undefined;
  }
}

function openIn(netns: string, key: SysctlKey, writable: boolean): number {
  const segments = segmentsOf(key);
  if (segments[0] !== 'net' || segments.some((s) => !s || s === '.' || s === '..' || s.includes('/'))) {
    throw new Error(`${nameOf(key)} is not a network sysctl (only those are per namespace)`);
  }
  try {
    return netlinkAddon().openIn(netns, file(segments), writable);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    throw Object.assign(new Error(`cannot open sysctl ${nameOf(key)} in ${netns}: ${(e as Error).message}`), { code: errno === 2 ? 'ENOENT' : undefined, errno });
  }
}

/** A network sysctl of the namespace at `netns` (an nsfs path). */
export function readSysctlIn(netns: string, key: SysctlKey): string {
  const fd = openIn(netns, key, false);
  try {
    return readFileSync(fd, 'utf8').trim();
  } finally {
    closeSync(fd);
  }
}

export function writeSysctlIn(netns: string, key: SysctlKey, value: string): void {
  const fd = openIn(netns, key, true);
  try {
    writeSync(fd, value);
  } catch (e) {
    throw new Error(`cannot write ${nameOf(key)}=${value} in ${netns}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Either namespace: ours when `netns` is undefined, else that one's. */
export function readSysctl(netns: string | undefined, key: SysctlKey): string {
  return netns ? readSysctlIn(netns, key) : readOwnSysctl(key);
}

export function writeSysctl(netns: string | undefined, key: SysctlKey, value: string): void {
  if (netns) writeSysctlIn(netns, key, value);
  else writeOwnSysctl(key, value);
}
