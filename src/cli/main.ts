/**
 * The e3sim command. Exit codes: 0 success, 1 run failed, 2 bad input (with one message naming
 * the input, the field and what was expected).
 */
import { Command, CommanderError } from 'commander';
import { InputError, errnoLine } from '../util/errors.js';
import { registerFor } from './commands/index.js';
import { packageVersion } from './common.js';

/**
 * A failure once a run is under way: a known errno of the file system (ENOSPC, EROFS, …) is one
 * line naming the path, anything else keeps its stack (a bug). Exit 1; the run's newest checkpoint
 * is what --resume continues from.
 */
function failed(e: unknown): never {
  const line = errnoLine(e);
  process.stderr.write(
    line
      ? `e3sim: run failed: ${line}\n`
      : `e3sim: run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
}
// Errors thrown in callbacks (a log write in a timer, an actor's handler) end here too, not in the
// wasm module's handler, which rethrows them (exit 7 with its minified source: tensor/backend.ts
// removes it).
const uncaught = (e: unknown) => {
  if (e instanceof InputError) {
    process.stderr.write(`e3sim: ${e.message}\n`);
    process.exit(2);
  }
  failed(e);
};
process.on('uncaughtException', uncaught);
process.on('unhandledRejection', uncaught);

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
