// Runs the built plugin the way a container runtime does: CNI_* variables, config on stdin,
// result or error JSON on stdout, exit status.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { netnsPath } from './world.js';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
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

export interface CniOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** parsed stdout, when it is JSON */
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function runCni(c: CniCall): Promise<CniOutcome> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: c.command,
    ...(c.containerId !== undefined ? { CNI_CONTAINERID: c.containerId } : {}),
    ...(c.netns !== undefined ? { CNI_NETNS: c.netns.startsWith('/') || c.netns === '' ? c.netns : netnsPath(c.netns) } : {}),
    ...(c.ifname !== undefined ? { CNI_IFNAME: c.ifname } : {}),
    ...(c.args !== undefined ? { CNI_ARGS: c.args } : {}),
    CNI_PATH: c.path ?? '/usr/lib/cni',
    ...c.extraEnv,
  };
  const bin = c.binary ?? TWILL_BIN;
  const [cmd, argv] = c.runIn ? ['nsenter', [`--net=${netnsPath(c.runIn)}`, '--', bin]] : [bin, []];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => {
      let json;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(typeof c.config === 'string' ? c.config : JSON.stringify(c.config));
  });
}
