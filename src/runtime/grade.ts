/**
 * The grader's work: a verified group becomes rewards and group-normalised advantages. Pure, so
 * the grader actor runs it in process or a remote grader (`e3sim worker --role grader`) runs it.
 * A group the verifier could not check (verdicts null) is marked invalid with zero advantages. With
 * `shaping`, the soft overlong punishment (rl/overlong.ts) is added to each reward.
 */
import { groupAdvantages } from '../rl/advantages.js';
import { overlongPenalty } from '../rl/overlong.js';
import type { ScoredGroup, VerdictMsg } from './messages.js';
import type { GradeJob } from '../../machines/grader.js';

export function gradeGroup(j: GradeJob): ScoredGroup {
  const G = j.job.rollouts.length;
  const invalid = j.verdicts ? j.job.rollouts.map(() => false) : j.job.rollouts.map(() => true);
  const verdicts: VerdictMsg[] =
    j.verdicts ?? j.job.rollouts.map(() => ({ correct: false, reason: 'unverified', attempts: 0, selfChecks: 0 }));
  const shaping = j.shaping;
  const rewards = verdicts.map(
    (v, i) =>
      (v.correct ? 1 : 0) +
      (shaping ? overlongPenalty(j.job.rollouts[i]!.completion.length, shaping.budgetTokens, shaping.overlong) : 0),
  );
  const advantages = j.verdicts ? Array.from(groupAdvantages(rewards, G).advantages) : rewards.map(() => 0);
  return {
    type: 'ScoredGroup',
    step: j.job.step,
    problemId: j.job.problemId,
    rollouts: j.job.rollouts,
    verdicts,
    rewards,
    advantages,
    invalid,
  };
}
