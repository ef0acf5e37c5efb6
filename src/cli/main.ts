/**
 * The e3sim command. Exit codes: 0 success, 1 run failed, 2 bad input (with one message naming
 * the input, the field and what was expected).
 */
import { Command, CommanderError } from 'commander';
import { InputError } from '../util/errors.js';
import { failed, installFatalHandlers } from './fatal.js';
import { registerFor } from './commands/index.js';
import { packageVersion } from './common.js';

installFatalHandlers();

const program = new Command();
program
  .name('e3sim')
  .description('Train a small LM policy with the e3 recipe, as message-passing actors')
  .version(packageVersion(), '-V, --version')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });
try {
  await registerFor(program, process.argv);
  for (const c of program.commands) c.exitOverride();
  await program.parseAsync(process.argv);
  process.exit(process.exitCode ?? 0);
} catch (e) {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) process.exit(0);
    process.exit(2); // commander already printed "error: unknown option '--x'" etc.
  }
  if (e instanceof InputError) {
    process.stderr.write(`e3sim: ${e.message}\n`);
    process.exit(2);
  }
  failed(e);
}
