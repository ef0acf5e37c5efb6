import type { Stage } from '../../machines/curriculum.js';
import { generateProblem } from '../tasks/countdown/problems.js';
import { Rng } from '../util/rng.js';

/** The stage (with its index) that learner step k (1-based) belongs to in a fixed stage list. */
export function stageOfStep(stages: readonly Stage[], k: number): Stage & { index: number } {
  let end = 0;
  for (let i = 0; i < stages.length; i++) {
    end += stages[i]!.steps;
    if (k <= end) return { ...stages[i]!, index: i };
  }
  return { ...stages.at(-1)!, index: stages.length - 1 };
}

/**
 * Step k's problems in a fixed stage list (by number count): a pure function of (seed, k), the
 * same for the real clock's samplers and the virtual clock.
 */
export function problemsOfStep(
  stages: readonly Stage[],
  seed: number,
  k: number,
  n: number,
): { id: string; numbers: number[]; target: number; difficulty: number }[] {
  const stage = stageOfStep(stages, k);
  const rng = new Rng(`problems/${seed}/${k}`);
  return Array.from({ length: n }, (_, i) => {
    const p = generateProblem(rng.fork(i), stage.difficulty!, 'train');
    return { id: `${i}:${p.id}`, numbers: p.numbers, target: p.target, difficulty: p.difficulty };
  });
}
