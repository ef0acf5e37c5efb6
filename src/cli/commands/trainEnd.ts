/**
 * What `e3sim train` prints when a run ends, on either clock: the dynamic-sampling part of the end
 * line, the held-out evaluations, the run directory and what to do next.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The run's held-out evaluations (metrics.jsonl "eval" lines): pass@1 per step, one column per test budget; '' when
 * none.
 */
export function evalTable(dir: string): string {
  const file = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return '';
  const evals = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"type":"eval"'))
    .map((l) => JSON.parse(l) as { step: number; budgets: { budget: number; passAt: Record<string, number> }[] });
  if (evals.length === 0) return '';
  const budgets = evals.at(-1)!.budgets.map((r) => r.budget);
  const head = `held-out pass@1 by step (test budgets in tokens; beyond the training budget it is extrapolation):\n  ${'step'.padStart(6)}${budgets.map((b) => String(b).padStart(9)).join('')}\n`;
  return (
    head +
    evals
      .map(
        (e) =>
          `  ${String(e.step).padStart(6)}` +
          budgets
            .map((b) => (e.budgets.find((r) => r.budget === b)?.passAt['1']?.toFixed(3) ?? '—').padStart(9))
            .join(''),
      )
      .join('\n') +
    '\n'
  );
}

/** The end line's dynamic-sampling part: filtered rollouts, backfilled groups, starved steps (empty when none). */
export function filteredNote(s: { rolloutsDroppedFiltered?: unknown; dynamicSampling?: unknown }): string {
  const d = s.dynamicSampling as { backfillGroups: number; stepsStarved: number } | undefined;
  if (!d || !s.rolloutsDroppedFiltered) return '';
  return `${s.rolloutsDroppedFiltered} filtered (${d.backfillGroups} groups backfilled, ${d.stepsStarved} steps starved), `;
}

/**
 * The run directory and the next command: resume an interrupted run (to the step it was started
 * to stop at, which the run directory records: runFlags.ts), or report a finished one.
 */
export function runDirLines(out: string, interrupted: boolean): string {
  return (
    `run directory: ${out}\n` +
    (interrupted
      ? `next: e3sim train --resume ${out}   (continues from the checkpoint)\n`
      : `next: e3sim report ${out}   (an offline HTML report of the run)\n`)
  );
}
