/**
 * Bad input from the user (flags, configs, checkpoints): the CLI prints the message and exits 2.
 * The message names the input, the field and what was expected.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** The input or field the message names first (`--checkpoint`, `model.checkpoint`), when the thrower gave it. */
  readonly field: string | null;
  /** The message without the field. */
  readonly detail: string;
  constructor(message: string, field?: string) {
    super(field ? `${field}: ${message}` : message);
    this.field = field ?? null;
    this.detail = message;
  }

  /** The same complaint named by the field the user actually wrote (a config field that fed a flag's check). */
  as(field: string): InputError {
    return new InputError(this.field ? this.detail : this.message, field);
  }
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${message}`);
}

/** What an errno of the machine around a run means, for one-line messages (no stack traces). */
export const ERRNO_MEANING: Record<string, string> = {
  ENOTDIR: 'a path component is a file, not a directory',
  EEXIST: 'it exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
};

/**
 * One line for a failed file-system call of a known errno — `PATH: MEANING (CODE) in SYSCALL` —
 * or null for any other error (those keep their stack: they are bugs).
 */
export function errnoLine(e: unknown): string | null {
  const x = e as NodeJS.ErrnoException | null;
  const code = x?.code;
  if (!code || !(code in ERRNO_MEANING)) return null;
  const where = x.path ? `${x.path}: ` : '';
  return `${where}${ERRNO_MEANING[code]} (${code}${x.syscall ? ` in ${x.syscall}` : ''})`;
}

/**
 * Names `file` in an errno error that has no path (a write to an open descriptor reports none), so
 * errnoLine can say which file; returns the error.
 */
export function withPath<E>(e: E, file: string): E {
  const x = e as NodeJS.ErrnoException | null;
  if (x && typeof x === 'object' && x.code && !x.path) x.path = file;
  return e;
}
