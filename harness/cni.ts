// Runs the built plugin the way a container runtime does: CNI_* variables, config on stdin,
// result or error JSON on stdout, exit status.
import path from 'node:path';
import { DEFAULT_PATH, Outcome, runBinary } from './spawn.js';
import { netnsPath } from './world.js';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const TWILL_BIN = path.join(REPO_ROOT, 'dist/bin/twill');
export const TWILLD_BIN = path.join(REPO_ROOT, 'dist/bin/twilld');
export const TWILLCTL_BIN = path.join(REPO_ROOT, 'dist/bin/twillctl');

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION' | string;
  config: object | string;
  containerId?: string;
  /** pod namespace name (under /var/run/netns) or absolute path */
  netns?: string;
  ifname?: string;
  args?: string;
  /** namespace the plugin itself runs in (the "node"); default: the test's own */
  runIn?: string;
  binary?: string;
  /** CNI_PATH, for chained/delegated plugins */
  path?: string;
  extraEnv?: Record<string, string>;
}

export type CniOutcome = Outcome;

export function runCni(c: CniCall): Promise<CniOutcome> {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    CNI_COMMAND: c.command,
    ...(c.containerId !== undefined ? { CNI_CONTAINERID: c.containerId } : {}),
    ...(c.netns !== undefined ? { CNI_NETNS: c.netns.startsWith('/') || c.netns === '' ? c.netns : netnsPath(c.netns) } : {}),
    ...(c.ifname !== undefined ? { CNI_IFNAME: c.ifname } : {}),
    ...(c.args !== undefined ? { CNI_ARGS: c.args } : {}),
    CNI_PATH: c.path ?? '/usr/lib/cni',
    ...c.extraEnv,
  };
  const config = typeof c.config === 'string' ? c.config : JSON.stringify(c.config);
  return runBinary(c.binary ?? TWILL_BIN, [], { env, input: config, netns: c.runIn });
}
