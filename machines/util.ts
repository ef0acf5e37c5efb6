import { fromPromise } from 'xstate';

/** Placeholder effect: every machine's effects are injected with `.provide()`; a missing one fails loudly. */
export function notProvided<O, I>(machine: string, name: string) {
  return fromPromise<O, I>(async () => {
    throw new Error(`${machine}: effect '${name}' was not provided`);
  });
}

/**
 * Placeholder action: like `notProvided` for effects, an action the caller forgot to `.provide()`
 * throws (an error path such as grader `overflow` must never be silently dropped).
 */
export function actionNotProvided<P = void>(machine: string, name: string) {
  return (_: unknown, _params: P): void => {
    throw new Error(`${machine}: action '${name}' was not provided`);
  };
}

/** Placeholder guard: a guard the caller must provide (it answers from run state) throws until it does. */
export function guardNotProvided(machine: string, name: string) {
  return (_: unknown): boolean => {
    throw new Error(`${machine}: guard '${name}' was not provided`);
  };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
