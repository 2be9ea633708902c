// twillctl: the operator CLI. Parses the command line (yargs), runs one command, and maps
// the outcome to the exit code: 0 ok, 1 problem found or operation failed, 2 usage error.
// Messages go to stderr without stack traces.
import yargs, { Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { configCommand } from './commands/config.js';
import { doctorCommand } from './commands/doctor.js';
import { leasesCommand } from './commands/leases.js';
import { reserveCommands } from './commands/reserve.js';
import { usageCommand } from './commands/usage.js';
import { STDIN_PATH } from './args.js';
import { describeFailure, EXIT_USAGE, UsageError } from './errors.js';
import { GlobalArgs, withGlobalOptions } from './options.js';
import { VERSION } from '../lib/version.js';

/** Each command group adds itself to the parser; order is the order of --help. */
const COMMANDS: ((y: Argv<GlobalArgs>) => Argv<GlobalArgs>)[] = [configCommand, leasesCommand, reserveCommands, usageCommand, doctorCommand];

export async function main(argv: string[]): Promise<number> {
  const base: Argv<GlobalArgs> = withGlobalOptions(yargs(argv))
    .scriptName('twillctl')
    .usage('$0 <command> [options]\n\nInspect and edit a twill (flannel-compatible) overlay network.')
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .recommendCommands()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .completion('completion', 'print a bash/zsh completion script (source <(twillctl completion))')
    .demandCommand(1, 'a command is required')
    .fail((msg, err) => {
      // yargs reports its own validation problems as msg; errors thrown by handlers as err.
      throw err ?? new UsageError(msg);
    })
    .epilogue('Exit codes: 0 ok, 1 problem found or operation failed, 2 usage error.');
  const parser = COMMANDS.reduce((y, register) => register(y), base)
    .example('$0 leases list', 'which node holds which subnet')
    .example('$0 usage', 'how full the network is')
    .example('$0 doctor --public-ip 192.0.2.17', "why this node's pods cannot reach others");
  try {
    await parser.parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const { code, message } = describeFailure(e);
    process.stderr.write(`twillctl: ${message}\n`);
    if (code === EXIT_USAGE) process.stderr.write('Run with --help for usage.\n');
    return code;
  }
}

// `twillctl leases watch | head -1`: a closed pipe ends the command quietly, as for any CLI.
process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));
// Anything unexpected still ends as one line on stderr and exit 1, never a stack trace.
const die = (e: unknown) => {
  process.stderr.write(`twillctl: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

// yargs-parser reads a lone "-" as an empty flag; FILE|- arguments need it as a value.
const args = hideBin(process.argv).map((a) => (a === '-' ? STDIN_PATH : a));
void main(args).then((code) => {
  process.exitCode = code;
  // Open gRPC channels or a pending stdin read must not keep a finished command alive.
  process.stdout.write('', () => process.exit(code));
});
