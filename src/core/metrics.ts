/**
 * metrics.jsonl, once for both clocks: the row of a learner step and the line of a held-out
 * evaluation. Times are seconds (`t`: since the run began, on the run's clock — wall time on the
 * real clock, simulated time on the virtual one). TIME_FIELDS are the fields that depend on the
 * clock or the machine; everything else in a row is a function of (config, seed) on either clock.
 */
import type { AccountingCounts } from './ledger.js';

/** The stage a step was planned in. */
export interface StepStage {
  stage: number;
  difficulty: number | null;
  buckets: readonly string[] | null;
  budgetTokens: number;
}

/** What the batch of a step looked like when it formed (core/batch.ts formBatch, or the simulator's). */
export interface BatchFigures {
  rewardMean: number;
  passRate: number;
  lengthMean: number;
  /** Mean completion length of correct / incorrect rollouts (null when there are none). */
  lengthCorrect: number | null;
  lengthIncorrect: number | null;
  /** Per trained rollout: learner version − oldest token version. */
  stalenessMean: number;
  stalenessMax: number;
  zeroAdvantageGroups: number;
}

/** Fields that depend on the clock or the machine (a clock-parity comparison leaves them out). */
export const TIME_FIELDS = [
  't',
  'tokensPerSec',
  'wallMs',
  'computeMs',
  'numTensors',
  'learnerNumTensors',
  'samplerNumTensors',
] as const;

export function stepRow(x: {
  step: number;
  tSeconds: number;
  stage: StepStage;
  batch: BatchFigures;
  counts: AccountingCounts;
  tokensGenerated: number;
  tokensTrained: number;
  tokensPerSec: number;
  queueGroups: number;
  inflightSwaps: number;
  /** The learner's figures of the step (loss terms, clip fractions, …: rl/gptStep.ts). */
  learner: Record<string, unknown>;
  /** Clock-specific figures, last (TIME_FIELDS and the like). */
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  const b = x.batch;
  return {
    step: x.step,
    version: x.step,
    t: x.tSeconds,
    stage: x.stage.stage,
    difficulty: x.stage.difficulty,
    buckets: x.stage.buckets,
    budgetTokens: x.stage.budgetTokens,
    rewardMean: b.rewardMean,
    passRate: b.passRate,
    lengthMean: b.lengthMean,
    lengthCorrect: b.lengthCorrect,
    lengthIncorrect: b.lengthIncorrect,
    stalenessMean: b.stalenessMean,
    stalenessMax: b.stalenessMax,
    zeroAdvantageGroups: b.zeroAdvantageGroups,
    rolloutsTrained: x.counts.trained,
    rolloutsDroppedStale: x.counts.droppedStale,
    rolloutsDroppedInvalid: x.counts.droppedInvalid,
    tokensGenerated: x.tokensGenerated,
    tokensTrained: x.tokensTrained,
    tokensPerSec: x.tokensPerSec,
    queueGroups: x.queueGroups,
    inflightSwaps: x.inflightSwaps,
    ...x.learner,
    ...x.extra,
  };
}

/** One budget's row of an evaluation (eval/countdown.ts evalBudgets). */
export interface EvalBudgetRow {
  budget: number;
  passAt: Record<string, number>;
}

export function evalLine(x: {
  step: number;
  tSeconds: number;
  evaluatedVersion: number;
  eval: { difficulty: number; problems: number; samples: number };
  budgets: readonly EvalBudgetRow[];
}): Record<string, unknown> {
  return {
    type: 'eval',
    step: x.step,
    t: x.tSeconds,
    evaluatedVersion: x.evaluatedVersion,
    difficulty: x.eval.difficulty,
    problems: x.eval.problems,
    samples: x.eval.samples,
    budgets: x.budgets,
  };
}
