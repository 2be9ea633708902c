// Runs a built binary the way a runtime or a shell does and keeps everything it said: exit
// code, stdout, stderr, and stdout parsed as JSON when it is JSON. Optionally inside a test
// namespace (nsenter). Unlike lib/exec.ts run(), a non-zero exit is an outcome, not an error.
import { spawn } from 'node:child_process';
import { netnsPath } from './world.js';

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** parsed stdout, when it is JSON */
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface SpawnOptions {
  /** the complete environment of the child */
  env: NodeJS.ProcessEnv;
  input?: string;
  /** namespace name (under /var/run/netns) to run in */
  netns?: string;
}

export function runBinary(binary: string, args: readonly string[], o: SpawnOptions): Promise<Outcome> {
  const [cmd, argv] = o.netns ? ['nsenter', [`--net=${netnsPath(o.netns)}`, '--', binary, ...args]] : [binary, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
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

export const DEFAULT_PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
