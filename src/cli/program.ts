/**
 * The e3sim command as a function: `main(args)` parses the arguments after `e3sim`, runs the
 * command and resolves to its exit code — 0 success, 1 run failed, 2 bad input (one message
 * naming the input, the field and what was expected). It does not exit the process, so tests call
 * it in-process; src/cli/main.ts is the executable around it.
 */
import { Command, CommanderError } from 'commander';
import { failure } from './fatal.js';
import { registerFor } from './commands/index.js';
import { packageVersion } from './common.js';

export async function main(args: readonly string[]): Promise<number> {
  const program = new Command();
  program
    .name('e3sim')
    .description('Train a small LM policy with the e3 recipe, as message-passing actors')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const before = process.exitCode;
  try {
    await registerFor(program, args);
    for (const c of program.commands) c.exitOverride();
    await program.parseAsync([...args], { from: 'user' });
    return Number(process.exitCode ?? 0); // a command that ends otherwise than 0 sets it (130 on SIGINT, …)
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed "error: unknown option '--x'" etc.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
    }
    const f = failure(e);
    process.stderr.write(f.line);
    return f.code;
  } finally {
    process.exitCode = before;
  }
}
