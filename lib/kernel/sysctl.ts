// Sysctls of the caller's own network namespace, straight through /proc/sys: no process, no
// async wrapper (lib/kernel/ip.ts readSysctl/writeSysctl run `cat`/`tee` so they can enter
// other namespaces; the CNI plugin only ever touches its own).
import { readFileSync, writeFileSync } from 'node:fs';

const file = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

export function readOwnSysctl(key: string): string {
  return readFileSync(file(key), 'utf8').trim();
}

export function writeOwnSysctl(key: string, value: string): void {
  writeFileSync(file(key), value);
}
