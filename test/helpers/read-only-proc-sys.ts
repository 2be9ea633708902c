// Runs a command with /proc/sys read-only, as a container runtime gives an unprivileged
// container. Started inside a fresh mount namespace (`unshare --mount --propagation private`,
// see readOnlyProcSys below), so the read-only bind mount disappears with the process and the
// machine's own /proc/sys is never touched:
//   unshare --mount --propagation private -- node read-only-proc-sys.js COMMAND ARGS...
// Node cannot exec(), so the command runs as a child; signals are passed on and its exit
// status becomes ours.
import { execFileSync, spawn } from 'node:child_process';

/** The argv prefix that runs a command under this helper (for World.spawnIn and friends). */
export function readOnlyProcSys(): string[] {
  return ['unshare', '--mount', '--propagation', 'private', '--', process.execPath, __filename];
}

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  execFileSync('mount', ['--bind', '-o', 'ro', '/proc/sys', '/proc/sys'], { stdio: 'inherit' });
  const child = spawn(command, args, { stdio: 'inherit' });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
