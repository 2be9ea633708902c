// Kernel change notifications: a long-running `ip monitor` whose output lines are handed to a
// callback. Used only to react faster; callers must not depend on seeing every event (the
// stream can lag or the process can die, and periodic reconciles cover that).
import { ChildProcess, spawn } from 'node:child_process';
import type { NetnsPath } from './ns.js';

export interface KernelMonitor {
  stop(): void;
}

/** `ip monitor <objects>` (link, route, neigh, ...) or `bridge monitor <objects>` (fdb). */
export function monitorKernel(
  netns: NetnsPath, tool: 'ip' | 'bridge', objects: readonly string[], onLine: (line: string) => void, onExit?: (why: string) => void,
): KernelMonitor {
  // setpriv --pdeathsig: the monitor dies with its parent even when the parent is SIGKILLed,
  // instead of living on in the namespace.
  const argv = ['--pdeathsig', 'TERM', '--', tool, 'monitor', ...objects];
  const child: ChildProcess = netns
    ? spawn('nsenter', [`--net=${netns}`, '--', 'setpriv', ...argv], { stdio: ['ignore', 'pipe', 'ignore'] })
    : spawn('setpriv', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  let buf = '';
  let stopped = false;
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
  });
  child.on('error', (e) => onExit?.(`${tool} monitor failed: ${e.message}`));
  child.on('exit', (code, sig) => {
    if (!stopped) onExit?.(`${tool} monitor exited (${sig ?? code})`);
  });
  return {
    stop() {
      stopped = true;
      child.kill('SIGTERM');
    },
  };
}
