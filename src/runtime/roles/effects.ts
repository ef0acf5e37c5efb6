/** What the role modules share: promise actors from async functions, and the backend-error rule. */
import { fromPromise } from 'xstate';
import { InputError } from '../../util/errors.js';

/** A promise actor from an async function of its input (the machines' injected effects). */
export function fromAsync<O, I>(f: (a: { input: I }) => Promise<O>) {
  return fromPromise<O, I>(({ input }) => f({ input }));
}

/**
 * A backend that cannot start in a worker (`--backend webgpu` without a GPU, …) is bad input, not
 * a crash: the worker's InputError arrives as a plain Error (comlink keeps only the message).
 */
export function asInputErrorIfBackend(e: unknown): never {
  if (e instanceof Error && e.message.startsWith('--backend '))
    throw new InputError(`backend (config or --backend): ${e.message.replace(/^--backend /, '')}`);
  throw e;
}
