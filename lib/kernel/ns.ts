// Network namespaces are addressed by path (/var/run/netns/NAME, /proc/PID/ns/net), as the
// CNI spec hands them over. `ip -n` takes names only, so namespaced commands go through
// nsenter, which enters the namespace and execs the command: one process either way.
import { statSync } from 'node:fs';
import { run, RunOptions } from '../exec.js';

/** undefined means "the namespace this process runs in". */
export type NetnsPath = string | undefined;

export function runIn(netns: NetnsPath, command: string, args: readonly string[], opts?: RunOptions): Promise<string> {
  if (!netns) return run(command, args, opts);
  return run('nsenter', [`--net=${netns}`, '--', command, ...args], opts);
}

/** Identity of a namespace file: equal ids mean the same namespace. */
export function netnsId(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
}

export function isOwnNetns(path: string): boolean {
  return netnsId(path) === netnsId('/proc/self/ns/net');
}

/** A namespace path is valid when it is an nsfs mount (or /proc/PID/ns/net). */
export function isNetnsFile(path: string): boolean {
  try {
    const st = statSync(path);
    // nsfs inodes report st_dev of the nsfs pseudo-filesystem and are not directories.
    return !st.isDirectory() && netnsId(path) !== '' && isNsfs(path);
  } catch {
    return false;
  }
}

function isNsfs(path: string): boolean {
  // nsfs files have size 0 and a device number shared with /proc/self/ns/net.
  const st = statSync(path);
  const own = statSync('/proc/self/ns/net');
  return st.size === 0 && st.dev === own.dev;
}
