/**
 * The run directory's layout, once for both clocks:
 *
 *   config.json          the resolved config
 *   run.json             the real clock's flags a resume keeps: --max-steps, --inject (cli/commands/runFlags.ts)
 *   virtual.json         the virtual clock's settings: profile, compute, faults, the step to stop at
 *   metrics.jsonl        one line per learner step (core/metrics.ts) and typed lines (eval, stage, …)
 *   transitions.jsonl    one line per actor state change
 *   trace.json           Perfetto trace (real clock)
 *   summary.json         the run's figures at its end
 *   checkpoints/step-N/  a whole checkpoint, written to a temporary and renamed (util/atomic)
 *   checkpoints/latest   the name of the newest complete one; readers follow it and nothing else
 *
 * Only the newest `checkpoint.keep` step directories are kept (never the one `latest` names).
 */

export const RUN_FILES = {
  config: 'config.json',
  virtual: 'virtual.json',
  run: 'run.json',
  metrics: 'metrics.jsonl',
  transitions: 'transitions.jsonl',
  trace: 'trace.json',
  summary: 'summary.json',
  buckets: 'buckets.json',
  checkpoints: 'checkpoints',
  latest: 'latest',
} as const;

const STEP_DIR = /^step-(\d+)$/;

export function stepDirName(step: number): string {
  return `step-${step}`;
}

/** The step of a `step-N` name, or null for anything else (temporaries, stray files). */
export function stepOfDirName(name: string): number | null {
  const m = STEP_DIR.exec(name);
  return m ? Number(m[1]) : null;
}

/** The step directories to remove once `latest` names `latestName`: all but the newest `keep`. */
export function checkpointsToRemove(names: readonly string[], keep: number, latestName: string): string[] {
  const steps = names
    .map((n) => ({ n, k: stepOfDirName(n) }))
    .filter((x): x is { n: string; k: number } => x.k !== null)
    .sort((a, b) => b.k - a.k);
  return steps
    .slice(Math.max(1, keep))
    .map((x) => x.n)
    .filter((n) => n !== latestName);
}
