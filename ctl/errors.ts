// The three ways twillctl ends, as the exit code tells a script: 0 ok, 1 a problem was found
// or an operation failed, 2 the command line was wrong. Only these messages reach stderr;
// stack traces never do.

/** Bad flags, arguments or input shape: exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation failed or a check found a problem: exit 1. */
export class CtlError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'CtlError';
  }
}

export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

/** Exit code and one-line message for anything thrown out of a command. */
export function describeFailure(e: unknown): { code: number; message: string } {
  if (e instanceof UsageError) return { code: EXIT_USAGE, message: e.message };
  if (e instanceof CtlError) return { code: e.exitCode, message: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  return { code: EXIT_PROBLEM, message: msg };
}
