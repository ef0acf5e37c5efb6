/**
 * How the command ends on a failure it did not expect: a known errno of the file system (ENOSPC,
 * EROFS, …) is one line naming the path (exit 1; the run's newest checkpoint is what --resume
 * continues from), an input error its message (exit 2), anything else its stack (a bug, exit 1).
 */
import { InputError, errnoLine } from '../util/errors.js';

/** The line a failed run ends with: the errno's one line, else the stack (a bug). */
export function failureLine(e: unknown): string {
  const line = errnoLine(e);
  return line
    ? `e3sim: run failed: ${line}\n`
    : `e3sim: run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
}

export function failed(e: unknown): never {
  process.stderr.write(failureLine(e));
  process.exit(1);
}

function uncaught(e: unknown): never {
  if (e instanceof InputError) {
    process.stderr.write(`e3sim: ${e.message}\n`);
    process.exit(2);
  }
  failed(e);
}

/**
 * Errors thrown in callbacks (a log write in a timer, an actor's handler) end here too, not in the
 * wasm module's handler, which rethrows them (exit 7 with its minified source; tensor/backend.ts
 * removes it).
 */
export function installFatalHandlers(): void {
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
}
