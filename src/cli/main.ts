/**
 * The e3sim executable (bin/e3sim.js loads it through tsx): the command of program.ts on this
 * process's arguments, then exit with its code. Errors thrown outside the command's promise (a
 * callback, an actor's handler) end in fatal.ts's handlers.
 */
import { installFatalHandlers } from './fatal.js';
import { main } from './program.js';
import { setSelfExecutable } from './self.js';

installFatalHandlers();
if (process.argv[1]) setSelfExecutable(process.argv[1]);
process.exit(await main(process.argv.slice(2)));
