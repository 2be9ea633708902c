// The one way this project runs a child process: an argument array (never a shell string),
// optional stdin, and an error that names the command, its exit code and its stderr.
import type * as ChildProcessModule from 'node:child_process';

// Loaded on first use: node:child_process drags in net, stream and dgram (~2.5 ms of start-up
// here), which the CNI plugin's ADD path avoids altogether (see runSync).
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
 * run() for short-lived callers that have nothing to do while the child runs (the CNI
 * plugin's ADD). Synchronous, so no stream or socket objects per child, and through Node's
 * own spawn_sync binding when it is there, which is what child_process.spawnSync calls
 * underneath: skipping the node:child_process module saves ~3.5 ms of CPU in a process whose
 * whole life is ~35 ms. Anything unexpected falls back to the public spawnSync. Same error
 * contract as run().
 */
export function runSync(command: string, args: readonly string[], opts: RunOptions = {}): string {
  const r = spawnCapture(command, args, opts);
  if (r.errno !== undefined) throw new CommandError([command, ...args], null, r.stderr || `cannot start ${command}: ${errnoName(r.errno)}`);
  if (r.status !== 0) throw new CommandError([command, ...args], r.status, r.stderr, r.signal);
  return r.stdout;
}

/**
 * Runs a child to completion and captures its output. `via: 'module'` forces the public
 * child_process.spawnSync (tests compare both ways).
 */
export function spawnCapture(command: string, args: readonly string[], opts: RunOptions = {}, via: 'auto' | 'module' = 'auto'): SyncOutcome {
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const input = opts.input ?? '';
  const fast = via === 'auto' ? spawnSyncFast(command, args, input, env, opts.timeoutMs) : undefined;
  return fast ?? spawnSyncPublic(command, args, input, env, opts.timeoutMs);
}

export interface SyncOutcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** set when the child could not be started */
  errno?: number;
  /** which spawn path ran it */
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

interface SpawnSyncBinding {
  spawn(options: Record<string, unknown>): { status?: number | null; signal?: string | null; output?: (Buffer | null)[] | null; error?: number };
}

let fastBinding: SpawnSyncBinding | null | undefined;

function toEnvPairs(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
}

/** undefined when the binding is unavailable or answers in a shape this code does not know. */
function spawnSyncFast(command: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv, timeout?: number): SyncOutcome | undefined {
  if (fastBinding === undefined) {
    try {
      const b = (process as unknown as { binding(name: string): unknown }).binding('spawn_sync') as SpawnSyncBinding;
      fastBinding = typeof b?.spawn === 'function' ? b : null;
    } catch {
      fastBinding = null;
    }
  }
  if (!fastBinding) return undefined;
  const envPairs = toEnvPairs(env);
  let r;
  try {
    r = fastBinding.spawn({
      file: command,
      args: [command, ...args],
      envPairs,
      stdio: [
        { type: 'pipe', readable: true, writable: false, input: Buffer.from(input) },
        { type: 'pipe', readable: false, writable: true },
        { type: 'pipe', readable: false, writable: true },
      ],
      maxBuffer: MAX_OUTPUT,
      killSignal: 15, // SIGTERM, as spawnSync's default
      ...(timeout ? { timeout } : {}),
    });
  } catch {
    return undefined;
  }
  if (typeof r?.error === 'number') return { status: null, signal: null, stdout: '', stderr: '', errno: r.error, via: 'binding' };
  if (!Array.isArray(r?.output) || !(r.output[1] instanceof Uint8Array) || !(r.output[2] instanceof Uint8Array)) return undefined;
  return {
    status: typeof r.status === 'number' ? r.status : null,
    signal: (r.signal ?? null) as NodeJS.Signals | null,
    stdout: r.output[1].toString(),
    stderr: r.output[2].toString(),
    via: 'binding',
  };
}
