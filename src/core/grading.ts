/**
 * Grading, once for both clocks: a verified group's rewards, which of its rollouts are invalid, and
 * its group-normalised advantages. The real clock's grader (runtime/grade.ts, in process or a remote
 * grader) and the virtual clock's compute (sim/policyCompute.ts `score`, `train`) call these.
 */
import { groupAdvantages } from '../rl/advantages.js';
import { overlongPenalty, type Overlong } from '../rl/overlong.js';

/** The soft overlong punishment's inputs: the step's budget and the config's `rollout.overlong`. */
export interface Shaping {
  budgetTokens: number;
  overlong: Overlong | undefined;
}

/**
 * A group's rewards: 1 for a correct rollout, else 0, plus the soft overlong penalty of its length
 * (rl/overlong.ts; 0 without `shaping` or unless `overlong.kind` is soft). A group the verifier
 * could not check (`correct` null) is invalid throughout and scores 0 (no penalty: it trains nothing).
 */
export function groupRewards(
  correct: readonly boolean[] | null,
  lengths: readonly number[],
  shaping: Shaping | undefined,
): { rewards: number[]; invalid: boolean[] } {
  const n = lengths.length;
  if (!correct) return { rewards: new Array<number>(n).fill(0), invalid: new Array<boolean>(n).fill(true) };
  const rewards = new Array<number>(n);
  for (let i = 0; i < n; i++)
    rewards[i] =
      (correct[i] ? 1 : 0) + (shaping ? overlongPenalty(lengths[i]!, shaping.budgetTokens, shaping.overlong) : 0);
  return { rewards, invalid: new Array<boolean>(n).fill(false) };
}

/** A group's advantages: group-normalised rewards (rl/advantages.ts), or all 0 for a group that could not be verified. */
export function groupAdvantagesOf(rewards: readonly number[], verified: boolean): number[] {
  return verified ? Array.from(groupAdvantages(rewards, rewards.length).advantages) : rewards.map(() => 0);
}
