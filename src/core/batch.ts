/**
 * Batch forming, once for both clocks: the bounded queue of scored groups by step, the order a
 * step's groups are trained in (by problem slot, whatever order they arrived in), and the forming
 * of a TrainBatch with its dispositions, staleness figures and learning figures.
 */
import { assert } from '../util/errors.js';
import type { Correction } from '../rl/loss.js';
import type { ScoredGroup } from '../runtime/messages.js';
import type { TrainRollout } from '../rl/gptStep.js';
import { overlongMasked, type Overlong } from '../rl/overlong.js';
import type { KvPolicy } from '../runtime/kvPolicy.js';
import { dispositionOf, lagOf, oldestVersion, stalenessViolation, type Disposition } from './staleness.js';
import { LengthAudit, TrainedDigest, type LengthFigures } from './metrics.js';
import {
  FilterTally,
  isFiltered,
  outcomeOf as outcomeOfRewards,
  stepComplete,
  zeroAdvantage,
  type DynamicSampling,
  type FilterFigures,
  type GroupOutcome,
} from './dynamicSampling.js';

/**
 * A step's problem ids are `${slot}:${problem}` (runtime/stages.ts, runtime/curriculum.ts): the slot
 * is the problem's position in the step's plan, the order both clocks train a step's groups in.
 */
export function slotOf(problemId: string): number {
  const slot = Number.parseInt(problemId, 10);
  assert(Number.isInteger(slot) && slot >= 0, `problem id '${problemId}' does not start with its slot`);
  return slot;
}

/** A scored group's rewards and verdicts, as dynamic sampling's filter reads them. */
function outcomeOf(g: ScoredGroup): GroupOutcome {
  return outcomeOfRewards(g.rewards, (i) => g.verdicts[i]?.correct === true);
}

/**
 * Scored groups waiting for their step, bounded. A step is complete when each of its
 * `groupsPerStep` positions has ended its chain (core/dynamicSampling: without dynamic sampling,
 * when it holds one group per slot).
 */
export class GroupQueue {
  private readonly byStep = new Map<number, ScoredGroup[]>();
  private size_ = 0;

  constructor(
    readonly groupsPerStep: number,
    readonly capacity: number,
    readonly dynamicSampling?: DynamicSampling,
  ) {}

  add(g: ScoredGroup): void {
    assert(this.size_ < this.capacity, `batcher queue over its capacity of ${this.capacity} groups`);
    const list = this.byStep.get(g.step) ?? [];
    assert(!list.some((x) => x.problemId === g.problemId), `group ${g.step}/${g.problemId} queued twice`);
    list.push(g);
    this.byStep.set(g.step, list);
    this.size_++;
  }

  complete(step: number): boolean {
    return stepComplete(
      this.byStep.get(step) ?? [],
      this.groupsPerStep,
      this.dynamicSampling,
      (g) => slotOf(g.problemId),
      outcomeOf,
    );
  }

  /** Whether dynamic sampling filters the group (its rollouts will be dropped-filtered). */
  filtered(g: ScoredGroup): boolean {
    return isFiltered(this.dynamicSampling, outcomeOf(g));
  }

  has(step: number, problemId: string): boolean {
    return this.byStep.get(step)?.some((g) => g.problemId === problemId) ?? false;
  }

  take(step: number): ScoredGroup[] {
    const list = this.byStep.get(step) ?? [];
    this.byStep.delete(step);
    this.size_ -= list.length;
    // The plan's order whatever the arrival order (samplers race in async modes).
    return list.sort((a, b) => slotOf(a.problemId) - slotOf(b.problemId));
  }

  get size(): number {
    return this.size_;
  }

  all(): ScoredGroup[] {
    return [...this.byStep.values()].flat();
  }
}

export interface FormedBatch {
  rollouts: TrainRollout[];
  dispositions: [string, Disposition][];
  /** Per trained rollout: learnerVersion − oldest token version. */
  lagMean: number;
  lagMax: number;
  rewardMean: number;
  passRate: number;
  lengthMean: number;
  /** Mean completion length of correct / incorrect rollouts (null when there are none). */
  lengthCorrect: number | null;
  lengthIncorrect: number | null;
  zeroAdvantageGroups: number;
  lengths: LengthFigures;
  filter: FilterFigures;
  /** TrainedDigest of the trained rollouts (core/metrics.ts). */
  trainedDigest: string;
}

export function formBatch(
  groups: readonly ScoredGroup[],
  learnerVersion: number,
  eta: number,
  correction: Correction,
  /**
   * The run's rollout settings: what trained rollouts carry to the loss (overlong mask, stale-prefix
   * mask) and dynamic sampling (a filtered group's rollouts are dropped-filtered).
   */
  rollout: { problemsPerStep: number; overlong?: Overlong; kv?: KvPolicy; dynamicSampling?: DynamicSampling },
): FormedBatch {
  const rollouts: TrainRollout[] = [];
  const dispositions: [string, Disposition][] = [];
  let lagSum = 0,
    lagMax = 0,
    rewardSum = 0,
    correct = 0,
    lengthSum = 0,
    n = 0,
    zero = 0,
    lenC = 0,
    lenI = 0;
  const audit = new LengthAudit(groups.reduce((a, g) => a + g.rollouts.length, 0));
  const digest = new TrainedDigest(groups[0]?.step ?? 0);
  const tally = new FilterTally(rollout.problemsPerStep);
  // A step's groups arrive in slot order (GroupQueue.take).
  for (const g of groups) {
    const slot = slotOf(g.problemId);
    if (zeroAdvantage(g.rewards)) zero++;
    const outcome = outcomeOf(g);
    const filtered = isFiltered(rollout.dynamicSampling, outcome);
    tally.add(slot, filtered);
    g.rollouts.forEach((r, i) => {
      n++;
      rewardSum += g.rewards[i]!;
      if (outcome.correct(i)) {
        correct++;
        lenC += r.completion.length;
      } else lenI += r.completion.length;
      lengthSum += r.completion.length;
      const lag = lagOf(learnerVersion, oldestVersion(r.versions));
      const d = dispositionOf(g.invalid[i]!, r.completion.length, lag, correction, filtered);
      dispositions.push([r.id, d]);
      audit.add(r.completion.length, d === 'trained');
      if (d === 'dropped-invalid') return;
      const bad = stalenessViolation(r.id, lag, eta);
      assert(bad === null, bad!);
      if (d !== 'trained') return;
      digest.add(slot, i);
      lagSum += lag;
      lagMax = Math.max(lagMax, lag);
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
  }
  return {
    rollouts,
    dispositions,
    lagMean: rollouts.length ? lagSum / rollouts.length : 0,
    lagMax,
    rewardMean: n ? rewardSum / n : 0,
    passRate: n ? correct / n : 0,
    lengthMean: n ? lengthSum / n : 0,
    lengthCorrect: correct ? lenC / correct : null,
    lengthIncorrect: n - correct ? lenI / (n - correct) : null,
    zeroAdvantageGroups: zero,
    lengths: audit.figures(),
    filter: tally.figures(),
    trainedDigest: digest.hex(),
  };
}
