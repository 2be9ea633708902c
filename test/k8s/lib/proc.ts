// Long-running child processes of the cluster (etcd, the kube components, containerd), each
// writing stdout and stderr to its own log file, so nothing blocks on a full pipe and a failure
// can be read afterwards. stopAll() ends them in reverse start order.
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { stopProcess } from '../../../harness/world.js';

export interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
}

export class Procs {
  private procs: Proc[] = [];

  constructor(private readonly logDir: string) {}

  start(name: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Proc {
    const log = path.join(this.logDir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    child.on('error', () => {}); // an exec failure shows as an exit; the log says the rest
    const p = { name, child, log };
    this.procs.push(p);
    return p;
  }

  /** Throws, with the tail of its log, when `p` has exited. */
  assertRunning(p: Proc): void {
    if (p.child.exitCode === null && p.child.signalCode === null) return;
    throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}); ${p.log}:\n${tail(p.log)}`);
  }

  async stop(p: Proc): Promise<void> {
    await stopProcess(p.child);
    this.procs = this.procs.filter((q) => q !== p);
  }

  async stopAll(): Promise<void> {
    for (const p of [...this.procs].reverse()) await stopProcess(p.child);
    this.procs = [];
  }
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
