import { fromPromise } from 'xstate';

/** Placeholder effect: every machine's effects are injected with `.provide()`; a missing one fails loudly. */
export function notProvided<O, I>(machine: string, name: string) {
  return fromPromise<O, I>(async () => {
    throw new Error(`${machine}: effect '${name}' was not provided`);
  });
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
