/**
 * How the command ends on a failure it did not expect: a known errno of the file system (ENOSPC,
 * EROFS, …) is one line naming the path (exit 1; the run's newest checkpoint is what --resume
 * continues from), an input error its message (exit 2), anything else its stack (a bug, exit 1).
 */
import { InputError, errnoLine } from '../util/errors.js';

/**
 * How an error ends the command: bad input is its message and exit 2; a known errno its one line
 * and exit 1; anything else its stack (a bug) and exit 1.
 */
export function failure(e: unknown): { code: 1 | 2; line: string } {
  if (e instanceof InputError) return { code: 2, line: `e3sim: ${e.message}\n` };
  const errno = errnoLine(e);
  const what = errno ?? (e instanceof Error ? (e.stack ?? e.message) : String(e));
  return { code: 1, line: `e3sim: run failed: ${what}\n` };
}

export function failed(e: unknown): never {
  const f = failure(e);
  process.stderr.write(f.line);
  process.exit(f.code);
}

/**
 * Errors thrown in callbacks (a log write in a timer, an actor's handler) end here too, not in the
 * wasm module's handler, which rethrows them (exit 7 with its minified source; tensor/backend.ts
 * removes it).
 */
export function installFatalHandlers(): void {
  process.on('uncaughtException', failed);
  process.on('unhandledRejection', failed);
}
