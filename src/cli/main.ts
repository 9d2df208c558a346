/** The `berth` command line: parses arguments and dispatches to one module per command. */
import { Command, CommanderError, Option } from 'commander';
import { BerthError, isBerthError } from '../api/errors.js';
import { OUTPUT_FORMATS, parseOutputFormat } from './output.js';
import { validateCommand, type CommandIO } from './validate.js';

export const VERSION = '0.1.0';

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  the thing checked failed (invalid manifests, a failed rollout, …)
  2  usage error, unreadable input, or the server could not be reached`;

/** `extraCommands` are the commands the composition root adds (those needing concrete drivers). */
export async function runCli(argv: string[], io: CommandIO = defaultIO(), extraCommands: ((program: Command) => void)[] = []): Promise<number> {
  let exitCode = 0;
  const program = new Command('berth')
    .description('Berth: a GitOps reconciler and the orchestrator it deploys to')
    .version(VERSION)
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run berth --help for usage)');

  program
    .command('validate')
    .description('check manifests (files or directories) as Berth would load them from Git')
    .argument('[paths...]', 'files or directories to check', [])
    .option('--strict', 'treat unknown fields as errors', false)
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .addHelpText('after', '\nExit codes: 0 valid (warnings allowed), 1 errors found, 2 usage or I/O error.')
    .action(async (paths: string[], opts: { strict: boolean; output: string }) => {
      exitCode = await validateCommand(paths, { strict: opts.strict, output: parseOutputFormat(opts.output) }, io);
    });

  for (const add of extraCommands) add(program);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isBerthError(e)) {
      io.stderr(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr(`internal error: ${(e as Error).stack ?? String(e)}\n`);
    return new BerthError('Internal', '').exitCode;
  }
}

function defaultIO(): CommandIO {
  return { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };
}
