// Asking before a destructive change. Without a terminal there is nobody to ask: the command
// then needs --yes, and its absence is a usage error rather than a silent yes or no.
import { createInterface } from 'node:readline/promises';
import { CtlError, UsageError } from './errors.js';

export async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) throw new UsageError(`${question} — stdin is not a terminal; pass --yes to confirm`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new CtlError('aborted: nothing changed');
  } finally {
    rl.close();
  }
}
