/**
 * metrics.jsonl, once for both clocks: the row of a learner step and the line of a held-out
 * evaluation. Times are seconds (`t`: since the run began, on the run's clock — wall time on the
 * real clock, simulated time on the virtual one). CLOCK_FIELDS are the fields that depend on the
 * clock or the machine (CLOCK_FIELDS); everything else in a row is a function of (config, seed) on
 * either clock, in sync and one-step-off modes (test/parity.test.ts).
 */
import type { AccountingCounts } from './ledger.js';
import type { FilterFigures } from './dynamicSampling.js';

/** The stage a step was planned in. */
export interface StepStage {
  stage: number;
  difficulty: number | null;
  buckets: readonly string[] | null;
  budgetTokens: number;
}

/**
 * A step's stage as its metrics row names it, both clocks: the stage and budget its plan was given
 * (the curriculum controller's plan, or the fixed stage list's), the stage's difficulty or buckets.
 */
export function stepStageOf(
  stages: readonly { difficulty?: number | undefined; buckets?: readonly string[] | undefined }[],
  plan: { stage: number; budgetTokens: number },
): StepStage {
  const st = stages[plan.stage]!;
  return {
    stage: plan.stage,
    difficulty: st.difficulty ?? null,
    buckets: st.buckets ?? null,
    budgetTokens: plan.budgetTokens,
  };
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
  /** The step's generated rollouts against those it trained (length-bias audit). */
  lengths: LengthFigures;
  /** Dynamic sampling's figures of the step (core/dynamicSampling.ts). */
  filter: FilterFigures;
}

/**
 * Length-bias audit (issue #19): completion lengths of every rollout the step generated (trained,
 * dropped or invalid) and of those it trained — so a correction that drops stale rollouts shows
 * whether it drops the long ones (they take longest to sample, so they are the stalest). Quantiles
 * by nearest rank; null where there is no rollout.
 */
export interface LengthFigures {
  lengthGeneratedP50: number | null;
  lengthGeneratedP90: number | null;
  lengthTrainedMean: number | null;
  lengthTrainedP50: number | null;
  lengthTrainedP90: number | null;
}

/** Collects a step's lengths in typed arrays (the virtual clock audits millions of rollouts a run). */
export class LengthAudit {
  private readonly generated: Float64Array;
  private readonly trained: Float64Array;
  private nGenerated = 0;
  private nTrained = 0;
  private trainedSum = 0;

  /** `rollouts`: how many rollouts the step has (the most `add` is called). */
  constructor(rollouts: number) {
    this.generated = new Float64Array(rollouts);
    this.trained = new Float64Array(rollouts);
  }

  add(completionTokens: number, trained: boolean): void {
    this.generated[this.nGenerated++] = completionTokens;
    if (trained) {
      this.trained[this.nTrained++] = completionTokens;
      this.trainedSum += completionTokens;
    }
  }

  figures(): LengthFigures {
    const g = this.generated.subarray(0, this.nGenerated);
    const [g50, g90] = nearestRanks(g, 0.5, 0.9);
    // every rollout trained (the common step): the same lengths in the same order, the same quantiles
    const [t50, t90] =
      this.nTrained === this.nGenerated ? [g50, g90] : nearestRanks(this.trained.subarray(0, this.nTrained), 0.5, 0.9);
    return {
      lengthGeneratedP50: g50,
      lengthGeneratedP90: g90,
      lengthTrainedMean: this.nTrained ? this.trainedSum / this.nTrained : null,
      lengthTrainedP50: t50,
      lengthTrainedP90: t90,
    };
  }
}

/**
 * The q1- and q2-quantiles (q1 ≤ q2) of `xs` by nearest rank (the smallest x with at least q of the
 * values ≤ x), by quickselect, O(n), reordering `xs` in place, in one pass and a half: the q1
 * select leaves every value from its rank on at least as large, so q2 is selected among those.
 */
export function nearestRanks(xs: Float64Array, q1: number, q2: number): [number | null, number | null] {
  const n = xs.length;
  if (n === 0) return [null, null];
  const k1 = rankOf(n, q1);
  const a = select(xs, 0, k1);
  return [a, select(xs, k1, Math.max(k1, rankOf(n, q2)))];
}

const rankOf = (n: number, q: number) => Math.max(0, Math.ceil(q * n) - 1);

/**
 * The value of rank k among xs[from …] (Hoare quickselect, in place): afterwards xs[k] holds it,
 * every value before k (from `from` on) is ≤ it and every value after is ≥.
 */
function select(xs: Float64Array, from: number, k: number): number {
  let lo = from,
    hi = xs.length - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1]!;
    let i = lo,
      j = hi;
    while (i <= j) {
      while (xs[i]! < pivot) i++;
      while (xs[j]! > pivot) j--;
      if (i <= j) {
        const x = xs[i]!;
        xs[i++] = xs[j]!;
        xs[j--] = x;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return xs[k]!;
  }
  return xs[k]!;
}

/**
 * Fields that depend on the clock or the machine, left out when two clocks' rows are compared:
 * times and rates, tensor counts, and the progress other actors had made by the time the row was
 * written (tokens generated so far, groups planned ahead), which depends on their relative speeds.
 */
export const CLOCK_FIELDS = [
  't',
  'tokensPerSec',
  'tokensGenerated',
  'queueGroups',
  'wallMs',
  'computeMs',
  'numTensors',
  'learnerNumTensors',
  'samplerNumTensors',
  /** The virtual clock's event number (its `fault` lines). */
  'event',
] as const;

/** The sampling side's running counters (each clock's `topo`, core/topology TopologyState). */
export interface SampleCounters {
  tokensGenerated: number;
  /** In-flight weight swaps (core/staleness swapsInFlight), cumulative. */
  inflightSwaps: number;
  /** Swaps that recomputed the KV cache / started a generation over (rollout.kv), cumulative like inflightSwaps. */
  inflightRecomputes: number;
  inflightAborts: number;
}

export function stepRow(x: {
  step: number;
  tSeconds: number;
  stage: StepStage;
  batch: BatchFigures;
  counts: AccountingCounts;
  /** The run's counters and tokens trained (its `topo`). */
  totals: SampleCounters & { tokensTrained: number };
  tokensPerSec: number;
  queueGroups: number;
  /** TrainedDigest of the step's trained rollouts. */
  trained: string;
  /** The learner's figures of the step (loss terms, clip fractions, …: rl/gptStep.ts). */
  learner: Record<string, unknown>;
  /** Clock-specific figures, last (CLOCK_FIELDS and the like). */
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
    ...b.lengths,
    ...b.filter,
    rolloutsTrained: x.counts.trained,
    rolloutsDroppedStale: x.counts.droppedStale,
    rolloutsDroppedInvalid: x.counts.droppedInvalid,
    rolloutsDroppedFiltered: x.counts.droppedFiltered,
    tokensGenerated: x.totals.tokensGenerated,
    tokensTrained: x.totals.tokensTrained,
    tokensPerSec: x.tokensPerSec,
    queueGroups: x.queueGroups,
    inflightSwaps: x.totals.inflightSwaps,
    inflightRecomputes: x.totals.inflightRecomputes,
    inflightAborts: x.totals.inflightAborts,
    trainedDigest: x.trained,
    ...x.learner,
    ...x.extra,
  };
}

/** One budget's row of an evaluation (eval/countdown.ts evalBudgets). */
export interface EvalBudgetRow {
  budget: number;
  passAt: Record<string, number>;
}

/** A fired fault's line of metrics.jsonl (core/faults firedName), both clocks; the virtual clock adds its event number. */
export function faultLine(tSeconds: number, fault: string, event?: number): Record<string, unknown> {
  return event === undefined ? { type: 'fault', t: tSeconds, fault } : { type: 'fault', t: tSeconds, event, fault };
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

/**
 * A step's trained rollouts as one number: FNV-1a (32-bit words) over (step, slot, sample) of every
 * trained rollout in batch order (core/batch.ts: by slot, then sample). Two runs that trained the
 * same rollouts in the same order have the same digest on either clock (the parity test's key); a
 * dropped rollout changes it.
 */
export class TrainedDigest {
  /** The hash word, in a typed array (a number field outside V8's small integers is boxed: util/rng.ts). */
  private readonly h = Int32Array.of(0x811c9dc5);

  constructor(private readonly step: number) {}

  add(slot: number, sample: number): void {
    // one 32-bit word at a time (the virtual clock adds millions of rollouts a run)
    let h = this.h[0]!;
    h = Math.imul(h ^ this.step, 0x01000193);
    h = Math.imul(h ^ slot, 0x01000193);
    h = Math.imul(h ^ sample, 0x01000193);
    this.h[0] = h;
  }

  hex(): string {
    return (this.h[0]! >>> 0).toString(16).padStart(8, '0');
  }
}
