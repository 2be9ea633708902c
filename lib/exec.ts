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
