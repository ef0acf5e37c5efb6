import type { Stage } from '../../machines/curriculum.js';

/** The stage (with its index) that learner step k (1-based) belongs to in a fixed stage list. */
export function stageOfStep(stages: readonly Stage[], k: number): Stage & { index: number } {
  let end = 0;
  for (let i = 0; i < stages.length; i++) {
    end += stages[i]!.steps;
    if (k <= end) return { ...stages[i]!, index: i };
  }
  return { ...stages.at(-1)!, index: stages.length - 1 };
}
