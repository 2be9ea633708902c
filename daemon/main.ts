// twilld entry: flags → typed options → the daemon, until SIGTERM or SIGINT.
// Exit status: 0 after a clean stop (or --help), 2 for bad flags, 1 for a fatal error.
import { createLogger } from './log.js';
import { limitCArenas } from './memory.js';
import { HelpShown, OptionsError, parseOptions } from './options.js';
import { runDaemon } from './run.js';

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (e instanceof HelpShown) return 0;
    if (e instanceof OptionsError) {
      process.stderr.write(`twilld: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger(opts.logLevel);
  try {
    limitCArenas();
  } catch (e) {
    log.debug('could not limit the C heap arenas', { error: e });
  }
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (!stop.signal.aborted) log.info('stopping', { signal: sig });
      stop.abort();
    });
  }
  try {
    await runDaemon(opts, log, stop.signal);
    return 0;
  } catch (e) {
    if (stop.signal.aborted) return 0; // whatever the loops threw on their way out of a stop
    log.error('fatal', { error: e });
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`twilld: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
