// Sysctls straight through /proc/sys: no process, no async wrapper (lib/kernel/ip.ts
// readSysctl/writeSysctl run `cat`/`tee` so they can enter other namespaces). The CNI plugin
// touches its own namespace's, and a pod's through a file the netlink addon opens from
// inside the pod's namespace (/proc/sys/net resolves by the opener's namespace).
import { closeSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { netlinkAddon } from './netlink/addon.js';

const file = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

export function readOwnSysctl(key: string): string {
  return readFileSync(file(key), 'utf8').trim();
}

export function writeOwnSysctl(key: string, value: string): void {
  writeFileSync(file(key), value);
}

/**
 * A network sysctl of another namespace, by path segments so that an interface name with a
 * dot stays one segment: ['net', 'ipv6', 'conf', 'eth0', 'accept_ra']. Errors carry the
 * errno's code like fs errors do (ENOENT: no such sysctl there).
 */
export function writeSysctlIn(netns: string, segments: readonly string[], value: string): void {
  const key = segments.join('.');
  if (segments[0] !== 'net' || segments.some((s) => !s || s === '.' || s === '..' || s.includes('/'))) {
    throw new Error(`writeSysctlIn: ${key} is not a network sysctl`);
  }
  let fd: number;
  try {
    fd = netlinkAddon().openIn(netns, `/proc/sys/${segments.join('/')}`, true);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    throw Object.assign(new Error(`cannot open sysctl ${key} in ${netns}: ${(e as Error).message}`), { code: errno === 2 ? 'ENOENT' : undefined, errno });
  }
  try {
    writeSync(fd, value);
  } catch (e) {
    throw new Error(`cannot write ${key}=${value} in ${netns}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
