// iproute2 as an independent reader and writer, for tests, benchmarks and scripts (which
// check the kernel through a second implementation), plus the `ip -json` shapes (Link, Route,
// ...) that lib/kernel/netlink/decode.ts produces too. The per-peer dataplane (routes,
// neighbours, FDB, drift events) goes through netlink (lib/kernel/dataplane.ts,
// lib/kernel/netlink/), and so do the VXLAN device with its address (daemon/backend/
// vxlan.ts), the daemon's interface choice (daemon/iface.ts) and twillctl doctor's reads;
// the userspace VXLAN backend still sets its TAP device up through here. Changes are sent as one `ip -batch` / `bridge -batch`
// process per namespace, reads come back as `-json`. A batch runs every line it reads,
// `netns exec` included, so each script is checked first (assertSafeBatch): one command per
// line, printable words only.
// Sysctls are lib/kernel/sysctl.ts's.
import { NetnsPath, runIn } from './ns.js';

export interface Link {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  master?: string;
  link_netnsid?: number;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string; info_slave_data?: Record<string, unknown> };
}

export interface AddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope?: string;
  broadcast?: string;
  /** IPv6 address states `ip -json` reports as flags */
  temporary?: boolean;
  deprecated?: boolean;
  tentative?: boolean;
  dadfailed?: boolean;
}
export interface LinkAddrs {
  ifindex: number;
  ifname: string;
  addr_info: AddrInfo[];
}

export interface Route {
  dst: string; // "default" or CIDR / address
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  flags: string[];
  type?: string;
}

export interface Neighbour {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

export interface FdbEntry {
  mac: string;
  ifname: string;
  dst?: string;
  master?: string;
  state?: string;
  flags?: string[];
}

export class UnsafeBatchLineError extends Error {
  constructor(readonly tool: string, readonly index: number, reason: string) {
    super(`refusing ${tool} -batch script: line ${index + 1} ${reason}`);
    this.name = 'UnsafeBatchLineError';
  }
}

// Printable ASCII words separated by single spaces: no newline (a second command), no
// control character, no quoting games. The words that start programs are refused outright.
const SAFE_LINE = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

/**
 * The second line of defence behind typed values: a script whose line could hold another
 * command, or start a program (`netns exec`, `exec`), never reaches `ip`/`bridge`.
 */
export function assertSafeBatch(tool: string, lines: readonly string[]): void {
  lines.forEach((line, i) => {
    if (!SAFE_LINE.test(line)) throw new UnsafeBatchLineError(tool, i, `holds whitespace other than single spaces or a non-printable character: ${JSON.stringify(line.slice(0, 120))}`);
    const words = line.split(' ');
    if (words[0] === 'netns' || words.includes('exec')) throw new UnsafeBatchLineError(tool, i, `could start a program: ${JSON.stringify(line.slice(0, 120))}`);
  });
}

/** Runs `ip -batch -`; stops at the first failing line, whose error names the line. */
export async function ipBatch(netns: NetnsPath, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  assertSafeBatch('ip', lines);
  await runIn(netns, 'ip', ['-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Like ipBatch but keeps going past failing lines (for best-effort cleanup). */
export async function ipBatchForce(netns: NetnsPath, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  assertSafeBatch('ip', lines);
  await runIn(netns, 'ip', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n' }).catch(() => {});
}

export async function bridgeBatch(netns: NetnsPath, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  assertSafeBatch('bridge', lines);
  await runIn(netns, 'bridge', ['-batch', '-'], { input: lines.join('\n') + '\n' });
}

export async function ipJson<T>(netns: NetnsPath, args: readonly string[]): Promise<T[]> {
  const out = await runIn(netns, 'ip', ['-json', ...args]);
  const text = out.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

export async function listLinks(netns?: NetnsPath): Promise<Link[]> {
  return ipJson<Link>(netns, ['-details', 'link', 'show']);
}

/** The link, or undefined when it does not exist. */
export async function getLink(netns: NetnsPath, name: string): Promise<Link | undefined> {
  try {
    const [link] = await ipJson<Link>(netns, ['-details', 'link', 'show', 'dev', name]);
    return link;
  } catch (e) {
    if (/does not exist|Cannot find device/.test(String((e as Error).message))) return undefined;
    throw e;
  }
}

export async function listAddrs(netns: NetnsPath, dev?: string): Promise<LinkAddrs[]> {
  return ipJson<LinkAddrs>(netns, ['addr', 'show', ...(dev ? ['dev', dev] : [])]);
}

export async function listRoutes(netns: NetnsPath, family: 4 | 6 = 4, table = 'main'): Promise<Route[]> {
  return ipJson<Route>(netns, [`-${family}`, 'route', 'show', 'table', table]);
}

export async function listNeighbours(netns: NetnsPath, dev?: string): Promise<Neighbour[]> {
  return ipJson<Neighbour>(netns, ['neigh', 'show', ...(dev ? ['dev', dev] : [])]);
}

export async function listFdb(netns: NetnsPath, dev: string): Promise<FdbEntry[]> {
  const out = await runIn(netns, 'bridge', ['-json', 'fdb', 'show', 'dev', dev]);
  const text = out.trim();
  return text ? (JSON.parse(text) as FdbEntry[]) : [];
}

/**
 * Runs `ip -force -batch -` or `bridge -force -batch -`: every line is tried even when one
 * fails. Resolves with undefined when all succeeded, else with the failure report (stderr
 * names the failing lines), so a caller that reconciles can log it and try again later.
 */
export async function batchKeepGoing(netns: NetnsPath, tool: 'ip' | 'bridge', lines: readonly string[]): Promise<string | undefined> {
  if (lines.length === 0) return undefined;
  assertSafeBatch(tool, lines);
  try {
    await runIn(netns, tool, ['-force', '-batch', '-'], { input: lines.join('\n') + '\n' });
    return undefined;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr;
    return (stderr ?? (e as Error).message).trim() || `${tool} -batch failed`;
  }
}
