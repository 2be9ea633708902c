// The one way this project runs a child process: an argument array (never a shell string),
// optional stdin, and an error that names the command, its exit code and its stderr.
import type * as ChildProcessModule from 'node:child_process';

// Loaded on first use: node:child_process drags in net, stream and dgram (~2.5 ms of start-up
// here), which short-lived programs that never spawn (the CNI plugin) should not pay for.
let childProcessModule: typeof ChildProcessModule | undefined;
function childProcess(): typeof ChildProcessModule {
  childProcessModule ??= require('node:child_process') as typeof ChildProcessModule;
  return childProcessModule;
}

export class CommandError extends Error {
  constructor(
    readonly command: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly signal: NodeJS.Signals | null = null,
  ) {
    const status = signal ? `signal ${signal}` : `exit code ${exitCode}`;
    super(`${command.join(' ')} failed (${status}): ${stderr.trim() || '(no stderr)'}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  /** Extra environment; the child otherwise inherits ours. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new CommandError([command, ...args], null, e.message)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString();
      if (code === 0) resolve(stdout);
      else reject(new CommandError([command, ...args], code, Buffer.concat(err).toString(), signal));
    });
    // A child that exits before reading stdin closes the pipe; its exit status tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A child started ahead of time whose stdin is sent later (see start()). */
export interface StartedCommand {
  /** Sends stdin, closes it, and resolves to stdout (rejects with CommandError). */
  send(input: string): Promise<string>;
  /** Closes stdin unsent; the child sees an empty input and exits on its own. */
  cancel(): void;
}

/**
 * Starts a child now and feeds its stdin later, so its exec and start-up (1-3 ms for `ip`)
 * overlap with the caller's own work. Same error contract as run().
 */
export function start(command: string, args: readonly string[], opts: Omit<RunOptions, 'input'> = {}): StartedCommand {
  const child = childProcess().spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    timeout: opts.timeoutMs,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => {});
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', (e) => reject(new CommandError([command, ...args], null, e.message)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new CommandError([command, ...args], code, Buffer.concat(err).toString(), signal));
    });
  });
  done.catch(() => {}); // a cancelled child's outcome is nobody's business
  let sent = false;
  return {
    send(input: string): Promise<string> {
      if (sent) throw new Error(`${command}: stdin already sent`);
      sent = true;
      child.stdin.end(input);
      return done;
    },
    cancel(): void {
      if (sent) return;
      sent = true;
      child.stdin.end();
    },
  };
}

/**
 * run() for callers that have nothing to do while the child runs. Synchronous, through the
 * public child_process.spawnSync. (The CNI plugin used to run `ip` this way on its ADD path,
 * through Node's internal spawn_sync binding to save start-up time; it now talks netlink
 * in-process, lib/kernel/netlink, and spawns nothing.) Same error contract as run().
 */
export function runSync(command: string, args: readonly string[], opts: RunOptions = {}): string {
  const r = spawnCapture(command, args, opts);
  if (r.errno !== undefined) throw new CommandError([command, ...args], null, r.stderr || `cannot start ${command}: ${errnoName(r.errno)}`);
  if (r.status !== 0) throw new CommandError([command, ...args], r.status, r.stderr, r.signal);
  return r.stdout;
}

/**
 * Runs a child to completion and captures its output. `via` is accepted for callers written
 * when there were two paths; both now mean child_process.spawnSync.
 */
export function spawnCapture(command: string, args: readonly string[], opts: RunOptions = {}, _via: 'auto' | 'module' = 'auto'): SyncOutcome {
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  return spawnSyncPublic(command, args, opts.input ?? '', env, opts.timeoutMs);
}

export interface SyncOutcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** set when the child could not be started */
  errno?: number;
  /** which spawn path ran it (always 'module' since the binding path was removed) */
  via: 'binding' | 'module';
}

const MAX_OUTPUT = 64 * 1024 * 1024;

function errnoName(errno: number): string {
  try {
    return (require('node:util') as typeof import('node:util')).getSystemErrorName(errno);
  } catch {
    return `errno ${errno}`;
  }
}

function spawnSyncPublic(command: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv, timeout?: number): SyncOutcome {
  const r = childProcess().spawnSync(command, args, { input, env, timeout, encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  if (r.error) {
    const errno = (r.error as NodeJS.ErrnoException).errno;
    return { status: null, signal: null, stdout: '', stderr: r.error.message, errno: typeof errno === 'number' ? errno : -1, via: 'module' };
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', via: 'module' };
}
