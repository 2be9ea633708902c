// Test worlds built from network namespaces. Every name carries a per-run prefix, and
// cleanup() removes every namespace, link and process the world made (also after failures:
// call it from an `after` hook). Nothing is created in the root namespace.
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../lib/exec.js';
import { ipBatch } from '../lib/kernel/ip.js';
import { runIn } from '../lib/kernel/ns.js';

/** Short, unique per test process: names must fit IFNAMSIZ (15) with a suffix. */
export const RUN_PREFIX = `tw${randomBytes(2).toString('hex')}`;

export function netnsPath(name: string): string {
  return `/var/run/netns/${name}`;
}

export class World {
  readonly prefix: string;
  readonly tmp: string;
  private namespaces: string[] = [];
  private procs: ChildProcess[] = [];
  private cleanups: (() => Promise<void> | void)[] = [];

  constructor(tag: string) {
    this.prefix = `${RUN_PREFIX}${tag}`;
    this.tmp = mkdtempSync(path.join(tmpdir(), `${this.prefix}-`));
  }

  /** Creates namespace `<prefix>-<name>` with lo up; returns its name. */
  async addNetns(name: string): Promise<string> {
    const full = `${this.prefix}-${name}`;
    await run('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    await ipBatch(netnsPath(full), ['link set lo up']);
    return full;
  }

  /** Runs a command inside a namespace (by name), resolving to stdout. */
  exec(ns: string, command: string, args: readonly string[], input?: string): Promise<string> {
    return runIn(netnsPath(ns), command, args, { input });
  }

  /** Starts a long-running process inside a namespace; it is killed by cleanup(). */
  spawnIn(ns: string | undefined, command: string, args: readonly string[], env?: NodeJS.ProcessEnv, opts: { stdin?: boolean } = {}): ChildProcess {
    const argv = ns ? ['--net=' + netnsPath(ns), '--', command, ...args] : args;
    const child = spawn(ns ? 'nsenter' : command, argv, {
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.procs.push(child);
    return child;
  }

  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* keep cleaning */
      }
    }
    this.cleanups = [];
    await Promise.all(this.procs.map(stopProcess));
    this.procs = [];
    for (const ns of this.namespaces.reverse()) {
      await run('ip', ['netns', 'del', ns]).catch(() => {});
    }
    this.namespaces = [];
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** SIGTERM, then SIGKILL after 3 s. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface Underlay {
  /** namespace holding the underlay bridge (and etcd, and the "outside" host) */
  ns: string;
  /** address of the underlay namespace on the bridge */
  hostIp: string;
  nodes: UnderlayNode[];
}

export interface UnderlayNode {
  ns: string;
  /** node's underlay interface name inside its namespace */
  iface: string;
  ip: string;
}

/** 198.18.0.0/15 is reserved for benchmarking (RFC 2544): it never clashes with a real network. */
export const UNDERLAY_NET = '198.18.0';

/**
 * An underlay L2 segment: namespace `<prefix>-ul` with bridge br0 (198.18.0.1/24) and one
 * namespace per node, each with eth0 (198.18.0.<10+i>/24) plugged into the bridge and a
 * default route via 198.18.0.1.
 */
export async function buildUnderlay(world: World, nodeCount: number, mtu = 1500): Promise<Underlay> {
  const ul = await world.addNetns('ul');
  const hostIp = `${UNDERLAY_NET}.1`;
  const ulLines = ['link add br0 type bridge', `link set br0 mtu ${mtu} up`, `addr add ${hostIp}/24 dev br0`];
  const nodes: UnderlayNode[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    const ns = await world.addNetns(`n${i}`);
    ulLines.push(`link add ul${i} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${netnsPath(ns)}`);
    ulLines.push(`link set ul${i} master br0 up`);
    nodes.push({ ns, iface: 'eth0', ip: `${UNDERLAY_NET}.${10 + i}` });
  }
  await ipBatch(netnsPath(ul), ulLines);
  for (const n of nodes) {
    await ipBatch(netnsPath(n.ns), [`addr add ${n.ip}/24 dev eth0`, 'link set eth0 up', `route add default via ${hostIp}`]);
  }
  return { ns: ul, hostIp, nodes };
}

/** Adds one more node to an existing underlay. */
export async function addUnderlayNode(world: World, ul: Underlay, mtu = 1500): Promise<UnderlayNode> {
  const i = ul.nodes.length + 1;
  const ns = await world.addNetns(`n${i}`);
  await ipBatch(netnsPath(ul.ns), [
    `link add ul${i} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${netnsPath(ns)}`,
    `link set ul${i} master br0 up`,
  ]);
  const node = { ns, iface: 'eth0', ip: `${UNDERLAY_NET}.${10 + i}` };
  await ipBatch(netnsPath(ns), [`addr add ${node.ip}/24 dev eth0`, 'link set eth0 up', `route add default via ${ul.hostIp}`]);
  ul.nodes.push(node);
  return node;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with the last error). */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 20000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function tmpPath(world: World, ...parts: string[]): string {
  return path.join(world.tmp, ...parts);
}
