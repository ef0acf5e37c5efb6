/**
 * Batch forming, once for both clocks: the order a step's groups are trained in (by problem slot,
 * whatever order they arrived in), each rollout's disposition and lag, the batch's figures, and
 * the real clock's TrainBatch. The queue the groups wait in is core/stepQueue.ts.
 */
import { assert } from '../util/errors.js';
import type { Correction } from '../rl/loss.js';
import type { ScoredGroup } from '../runtime/messages.js';
import type { TrainRollout } from '../rl/gptStep.js';
import { overlongMasked, type Overlong } from '../rl/overlong.js';
import type { KvPolicy } from '../policy/kvPolicy.js';
import {
  DISPOSITION_BY_CODE,
  DISPOSITION_CODE,
  dispositionCodeOf,
  lagOf,
  oldestVersion,
  stalenessViolation,
  type Disposition,
} from './staleness.js';
import { LengthAudit, TrainedDigest, type BatchFigures } from './metrics.js';
import {
  FilterTally,
  correctAt,
  isFiltered,
  outcomeOf as outcomeOfRewards,
  zeroAdvantage,
  type DynamicSampling,
} from './dynamicSampling.js';

/**
 * A step's problem ids are `${slot}:${problem}` (curriculum/stages.ts, curriculum/controller.ts): the slot
 * is the problem's position in the step's plan, the order both clocks train a step's groups in.
 */
export function slotOf(problemId: string): number {
  const slot = Number.parseInt(problemId, 10);
  assert(Number.isInteger(slot) && slot >= 0, `problem id '${problemId}' does not start with its slot`);
  return slot;
}

/**
 * The figures of a forming batch, both clocks (one definition: core/batch.ts formBatch on the real
 * clock, sim/learning.ts on the virtual one): each group and each rollout is told once, with its
 * disposition and lag; `figures()` is the step row's batch part (core/metrics BatchFigures).
 */
export class BatchTally {
  /** Rollouts told, correct ones, and their sums. */
  n = 0;
  correct = 0;
  rewardSum = 0;
  lengthSum = 0;
  lengthCorrectSum = 0;
  /** Trained rollouts' lags (learner version − oldest token version). */
  lagSum = 0;
  lagMax = 0;
  zero = 0;
  /** Rollouts by disposition, and the trained ones' completion tokens. */
  trained = 0;
  stale = 0;
  invalid = 0;
  filtered = 0;
  tokens = 0;
  readonly digest: TrainedDigest;
  readonly audit: LengthAudit;
  readonly filter: FilterTally;

  constructor(step: number, rollouts: number, problemsPerStep: number) {
    this.digest = new TrainedDigest(step);
    this.audit = new LengthAudit(rollouts);
    this.filter = new FilterTally(problemsPerStep);
  }

  /** A group of problem slot `slot`, before its rollouts: filtered by dynamic sampling, all rewards equal. */
  group(slot: number, rewards: ArrayLike<number>, filtered: boolean): void {
    this.filter.add(slot, filtered);
    if (zeroAdvantage(rewards)) this.zero++;
  }

  /** Rollout `sample` of slot `slot`: its length, verdict, reward, disposition and lag. */
  rollout(
    slot: number,
    sample: number,
    length: number,
    correct: boolean,
    reward: number,
    d: Disposition,
    lag: number,
  ): void {
    this.n++;
    this.rewardSum += reward;
    this.lengthSum += length;
    if (correct) {
      this.correct++;
      this.lengthCorrectSum += length;
    }
    this.audit.add(length, d === 'trained');
    if (d === 'trained') {
      this.trained++;
      this.tokens += length;
      this.digest.add(slot, sample);
      this.lagSum += lag;
      if (lag > this.lagMax) this.lagMax = lag;
    } else if (d === 'dropped-stale') this.stale++;
    else if (d === 'dropped-invalid') this.invalid++;
    else this.filtered++;
  }

  figures(): BatchFigures {
    const { n, correct, lengthSum, lengthCorrectSum } = this;
    return {
      rewardMean: n ? this.rewardSum / n : 0,
      passRate: n ? correct / n : 0,
      lengthMean: n ? lengthSum / n : 0,
      lengthCorrect: correct ? lengthCorrectSum / correct : null,
      lengthIncorrect: n - correct ? (lengthSum - lengthCorrectSum) / (n - correct) : null,
      stalenessMean: this.trained ? this.lagSum / this.trained : 0,
      stalenessMax: this.lagMax,
      zeroAdvantageGroups: this.zero,
      lengths: this.audit.figures(),
      filter: this.filter.figures(),
    };
  }
}

/** One group of a forming batch, as either clock holds it (arrays indexed by sample). */
export interface BatchGroup {
  /** Problem slot within its step: the order a step's groups are told in. */
  slot: number;
  rewards: ArrayLike<number>;
  invalid: ArrayLike<boolean>;
  /** Completion tokens per rollout. */
  lengths: ArrayLike<number>;
  /** The verifier's verdicts; absent (cost-model groups): reward > 0 is correct (`outcomeOf`). */
  correct?: ArrayLike<boolean>;
  /** The oldest version among each rollout's tokens, or one for the whole group (its rows start and swap together). */
  oldest: number | ArrayLike<number>;
}

/** What decides dispositions: the learner's version, the bound, the correction, dynamic sampling. */
export interface BatchRules {
  learnerVersion: number;
  eta: number;
  correction: Correction;
  dynamicSampling?: DynamicSampling;
}

/**
 * One group of step `step` into a forming batch, once for both clocks: each rollout's lag
 * (core/staleness lagOf) and disposition (dispositionCodeOf), written into `codes`, told to the
 * tally; the staleness bound checked on every rollout not dropped-invalid. Returns the first
 * bound violation (the clock aborts the run with it), or null.
 */
export function disposeGroup(
  step: number,
  g: BatchGroup,
  rules: BatchRules,
  t: BatchTally,
  codes: number[],
  lags?: number[],
): string | null {
  const verdicts = g.correct;
  const filtered =
    rules.dynamicSampling !== undefined &&
    isFiltered(rules.dynamicSampling, outcomeOfRewards(g.rewards, verdicts ? (i) => verdicts[i]! : undefined));
  t.group(g.slot, g.rewards, filtered);
  const perRollout = typeof g.oldest !== 'number';
  let bad: string | null = null;
  for (let j = 0; j < g.lengths.length; j++) {
    const lag = lagOf(rules.learnerVersion, perRollout ? (g.oldest as ArrayLike<number>)[j]! : (g.oldest as number));
    const len = g.lengths[j]!;
    const d = dispositionCodeOf(g.invalid[j]!, len, lag, rules.correction, filtered);
    codes[j] = d;
    if (lags) lags[j] = lag;
    t.rollout(g.slot, j, len, correctAt(g.rewards, verdicts, j), g.rewards[j]!, DISPOSITION_BY_CODE[d], lag);
    // (the rollout's name is built only for a breach: this loop runs for every rollout)
    if (bad === null && d !== DISPOSITION_CODE['dropped-invalid'] && (lag < 0 || lag > rules.eta))
      bad = stalenessViolation(`${step}/${g.slot}/${j}`, lag, rules.eta);
  }
  return bad;
}

/** A group of a formed step: the clock's own form of it, its slot, each rollout's disposition code, its lag. */
export interface DisposedGroup<G> {
  group: G;
  slot: number;
  /** Disposition codes by sample (core/staleness DISPOSITION_CODE). */
  codes: number[];
  /** The lag of the group's oldest token (the largest of its rollouts' lags). */
  lag: number;
}

/** A step's batch as it formed, either clock: its groups in slot order with their codes, and its figures. */
export interface DisposedStep<G> {
  step: number;
  groups: DisposedGroup<G>[];
  /** Completion tokens of the trained rollouts, and the largest lag among them. */
  tokens: number;
  lagMax: number;
  /** The step row's batch part (core/metrics BatchFigures). */
  figures: BatchFigures;
  /** TrainedDigest of the trained rollouts (core/metrics.ts). */
  trainedDigest: string;
}

/**
 * Step `step`'s groups (in slot order: StepQueue.take) into a batch, once for both clocks, over
 * each clock's own form of a group (`viewOf` reads it as a BatchGroup): every group through
 * `disposeGroup`, the figures tallied. Returns the step, or the first staleness-bound violation.
 */
export function disposeStep<G>(
  step: number,
  groups: readonly G[],
  viewOf: (g: G) => BatchGroup,
  rules: BatchRules,
  problemsPerStep: number,
): DisposedStep<G> | { violation: string } {
  const views = groups.map(viewOf);
  let n = 0;
  for (const v of views) n += v.lengths.length;
  const t = new BatchTally(step, n, problemsPerStep);
  const out: DisposedGroup<G>[] = [];
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!;
    const codes = new Array<number>(v.lengths.length);
    const bad = disposeGroup(step, v, rules, t, codes);
    if (bad !== null) return { violation: bad };
    out.push({ group: groups[i]!, slot: v.slot, codes, lag: lagOf(rules.learnerVersion, oldestOf(v.oldest)) });
  }
  return {
    step,
    groups: out,
    tokens: t.tokens,
    lagMax: t.lagMax,
    figures: t.figures(),
    trainedDigest: t.digest.hex(),
  };
}

/** The oldest version among a group's tokens. */
function oldestOf(oldest: number | ArrayLike<number>): number {
  if (typeof oldest === 'number') return oldest;
  let m = Number.POSITIVE_INFINITY;
  for (let j = 0; j < oldest.length; j++) if (oldest[j]! < m) m = oldest[j]!;
  return m;
}

/** The real clock's group (a ScoredGroup message) as the batch rule reads it. */
export function scoredGroupView(g: ScoredGroup): BatchGroup {
  return {
    slot: slotOf(g.problemId),
    rewards: g.rewards,
    invalid: g.invalid,
    lengths: g.rollouts.map((r) => r.completion.length),
    correct: g.rollouts.map((_, i) => g.verdicts[i]?.correct === true),
    oldest: g.rollouts.map((r) => oldestVersion(r.versions)),
  };
}

export interface FormedBatch {
  /** The trained rollouts, as the learner takes them. */
  rollouts: TrainRollout[];
  /** Each group's disposition codes by sample (core/staleness DISPOSITION_CODE), kept until the update. */
  groups: { slot: number; codes: number[] }[];
  /** The step row's batch part (core/metrics BatchFigures). */
  figures: BatchFigures;
  /** Completion tokens of the trained rollouts. */
  tokens: number;
  /** TrainedDigest of the trained rollouts (core/metrics.ts). */
  trainedDigest: string;
}

/** What trained rollouts carry to the loss (overlong mask, stale-prefix mask), and dynamic sampling. */
export interface RolloutRules {
  problemsPerStep: number;
  overlong?: Overlong;
  kv?: KvPolicy;
  dynamicSampling?: DynamicSampling;
}

/** A disposed step's trained rollouts, as the learner takes them (the real clock's payload). */
export function trainRollouts(d: DisposedStep<ScoredGroup>, rollout: RolloutRules): FormedBatch {
  const rollouts: TrainRollout[] = [];
  for (const { group: g, codes } of d.groups)
    g.rollouts.forEach((r, i) => {
      if (codes[i] !== DISPOSITION_CODE.trained) return;
      rollouts.push({
        prompt: r.prompt,
        completion: r.completion,
        behaviourLogprobs: r.behaviourLogprobs,
        versions: r.versions,
        advantage: g.advantages[i]!,
        ...(overlongMasked(r.stop, rollout.overlong) ? { overlongMasked: true } : {}),
        ...(rollout.kv?.maskStalePrefix ? { maskStalePrefix: true } : {}),
      });
    });
  return {
    rollouts,
    groups: d.groups.map(({ slot, codes }) => ({ slot, codes })),
    figures: d.figures,
    tokens: d.tokens,
    trainedDigest: d.trainedDigest,
  };
}

/** A step's scored groups (slot order) formed into the learner's batch; throws on a bound violation. */
export function formBatch(
  groups: readonly ScoredGroup[],
  learnerVersion: number,
  eta: number,
  correction: Correction,
  rollout: RolloutRules,
): FormedBatch {
  const rules = { learnerVersion, eta, correction, dynamicSampling: rollout.dynamicSampling };
  const d = disposeStep(groups[0]?.step ?? 0, groups, scoredGroupView, rules, rollout.problemsPerStep);
  assert(!('violation' in d), 'violation' in d ? d.violation : '');
  return trainRollouts(d, rollout);
}
