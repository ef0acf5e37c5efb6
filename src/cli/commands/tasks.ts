import { InputError } from '../../util/errors.js';

export function checkTask(task: string, allowed: readonly string[]): void {
  if (!allowed.includes(task))
    throw new InputError(
      `--task: unknown or unsupported task '${task}' for this command; expected ${allowed.join(' | ')}`,
    );
}
