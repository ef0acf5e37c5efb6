/**
 * The grader's work: a verified group becomes rewards and group-normalised advantages. Pure, so
 * the grader actor runs it in process or a remote grader (`e3sim worker --role grader`) runs it.
 * The rule is core/grading.ts (the virtual clock's too): a group the verifier could not check
 * (verdicts null) is invalid, with zero rewards and advantages; with `shaping`, the soft overlong
 * punishment is added to each verified reward.
 */
import { groupAdvantagesOf, groupRewards } from '../core/grading.js';
import type { ScoredGroup, VerdictMsg } from './messages.js';
import type { GradeJob } from '../../machines/grader.js';

export function gradeGroup(j: GradeJob): ScoredGroup {
  const verdicts: VerdictMsg[] =
    j.verdicts ?? j.job.rollouts.map(() => ({ correct: false, reason: 'unverified', attempts: 0, selfChecks: 0 }));
  const { rewards, invalid } = groupRewards(
    j.verdicts ? j.verdicts.map((v) => v.correct) : null,
    j.job.rollouts.map((r) => r.completion.length),
    j.shaping,
  );
  return {
    type: 'ScoredGroup',
    step: j.job.step,
    problemId: j.job.problemId,
    rollouts: j.job.rollouts,
    verdicts,
    rewards,
    advantages: groupAdvantagesOf(rewards, j.verdicts !== null),
    invalid,
  };
}
