import type { z } from 'zod';

/** A zod error as `path: message; …` (the first `max` issues; `(top level)` for the root). */
export function zodIssues(e: z.ZodError, max = 5): string {
  return e.issues
    .slice(0, max)
    .map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`)
    .join('; ');
}
