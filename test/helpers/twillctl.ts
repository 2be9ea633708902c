// Runs the built twillctl the way an operator's shell does: argv, optional stdin, optional
// network namespace (nsenter), and a clean environment unless the test adds to it.
import { spawn } from 'node:child_process';
import { TWILLCTL_BIN } from './cni.js';
import { netnsPath } from './world.js';

export interface CtlOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** parsed stdout when it is JSON */
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CtlRunOptions {
  input?: string;
  env?: Record<string, string>;
  /** namespace name (under /var/run/netns) to run in */
  netns?: string;
}

export function runCtl(args: readonly string[], o: CtlRunOptions = {}): Promise<CtlOutcome> {
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...o.env };
  const [cmd, argv] = o.netns ? ['nsenter', [`--net=${netnsPath(o.netns)}`, '--', TWILLCTL_BIN, ...args]] : [TWILLCTL_BIN, [...args]];
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
    child.stdin.end(o.input ?? '');
  });
}

/** twillctl pointed at one etcd endpoint. */
export function ctlAt(endpoint: string, prefix?: string) {
  const base = ['--etcd-endpoints', endpoint, ...(prefix ? ['--etcd-prefix', prefix] : [])];
  return (args: readonly string[], o: CtlRunOptions = {}) => runCtl([...args, ...base], o);
}
