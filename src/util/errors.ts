/**
 * Bad input from the user (flags, configs, checkpoints): the CLI prints the message and exits 2.
 * The message names the input, the field and what was expected.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(message: string) {
    super(message);
  }
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${message}`);
}
