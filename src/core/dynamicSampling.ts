/**
 * Dynamic sampling (DAPO; issue #19 item 4), `rollout.dynamicSampling`, once for both clocks: a
 * group whose rewards are all equal (zero advantage: no gradient) is filtered — its rollouts are
 * `dropped-filtered` — and a new problem takes its place, at most `backfillRounds` times per
 * problem slot of the step. With `metric: accuracy` the filter compares the verdicts instead, as
 * DAPO does (verl's `filter_groups.metric: acc`): the two differ only when rewards are shaped
 * (`rollout.overlong: soft`), where a group whose answers all pass or all fail may still carry a
 * length signal that `reward` keeps and `accuracy` drops.
 *
 * The slots of a step: its plan has P problems at slots 0 … P − 1 (round 0); the problem that
 * replaces a filtered group at slot q is the step's problem at slot q + P (round ⌊q / P⌋ + 1).
 * Position s of the step is thus a chain s, P + s, 2P + s, … that ends at its first kept group
 * or, when every round is used, at a filtered group. The step's batch forms when all P chains
 * have ended — a pure function of the groups held, whatever order they arrived in (samplers race)
 * and whichever checkpoint they were restored from. A step that ends a chain on a filtered group
 * trains fewer than P groups: it is *starved*.
 *
 * Backfills do not count against the planning bound (core/admission: they replace groups already
 * planned, and waiting for capacity that later steps hold would deadlock); the batcher's queue
 * holds at most plannedGroups × (1 + backfillRounds) groups.
 */
import { z } from 'zod';

export const DynamicSamplingSchema = z
  .object({
    /** How many times a slot's filtered group may be replaced by a new problem (0 = filter only). */
    backfillRounds: z.number().int().min(0).max(16).default(3),
    /** What a group must have all equal to be filtered: its rewards, or its verdicts (DAPO). */
    metric: z.enum(['reward', 'accuracy']).default('reward'),
  })
  .strict();
export type DynamicSampling = z.infer<typeof DynamicSamplingSchema>;
/** As a config file writes it (defaults not yet applied). */
export type DynamicSamplingInput = z.input<typeof DynamicSamplingSchema>;

/** Problem slots a step may use: P, or P × (1 + backfillRounds) with dynamic sampling. */
export function slotsPerStep(problemsPerStep: number, ds: DynamicSampling | undefined): number {
  return problemsPerStep * (1 + (ds?.backfillRounds ?? 0));
}

/** All rewards equal: group-normalised advantages are exactly 0 (rl/advantages.ts). */
export function zeroAdvantage(rewards: ArrayLike<number>): boolean {
  for (let i = 1; i < rewards.length; i++) if (rewards[i] !== rewards[0]) return false;
  return true;
}

/** What the filter reads of a scored group: its rewards and its rollouts' verdicts. */
export interface GroupOutcome {
  rewards: ArrayLike<number>;
  correct: (i: number) => boolean;
}

/**
 * A scored group's outcome, on both clocks: a rollout is correct when its verifier said so; a group
 * scored without verdicts (the virtual clock's cost-model groups, which carry rewards only) counts a
 * positive reward as correct.
 */
export function outcomeOf(rewards: ArrayLike<number>, verdict?: (i: number) => boolean): GroupOutcome {
  return { rewards, correct: verdict ?? ((i) => correctAt(rewards, undefined, i)) };
}

/** Rollout i's outcome by the same rule, from arrays (the hot loops' form): its verdict, else reward > 0. */
export function correctAt(rewards: ArrayLike<number>, verdicts: ArrayLike<boolean> | undefined, i: number): boolean {
  return verdicts ? verdicts[i] === true : rewards[i]! > 0;
}

/** Every rollout of the group passed, or every one failed. */
export function sameVerdict(g: GroupOutcome): boolean {
  const first = g.correct(0);
  for (let i = 1; i < g.rewards.length; i++) if (g.correct(i) !== first) return false;
  return true;
}

/** Whether a scored group is filtered: dynamic sampling is on and its metric is the same for all. */
export function isFiltered(ds: DynamicSampling | undefined, g: GroupOutcome): boolean {
  if (ds === undefined) return false;
  return ds.metric === 'accuracy' ? sameVerdict(g) : zeroAdvantage(g.rewards);
}

/** The backfill round a slot belongs to (0 = the step's plan). */
export function roundOf(slot: number, problemsPerStep: number): number {
  return Math.floor(slot / problemsPerStep);
}

/** The slot of the problem that replaces a filtered group at `slot`, or null when its rounds are used. */
export function backfillSlot(slot: number, problemsPerStep: number, ds: DynamicSampling | undefined): number | null {
  if (!ds || roundOf(slot, problemsPerStep) >= ds.backfillRounds) return null;
  return slot + problemsPerStep;
}

/** Whether a group ends its position's chain: kept, or filtered with no round left. */
export function endsChain(
  slot: number,
  filtered: boolean,
  problemsPerStep: number,
  ds: DynamicSampling | undefined,
): boolean {
  return !filtered || backfillSlot(slot, problemsPerStep, ds) === null;
}

/**
 * Whether a step's held groups complete its batch: every one of its P positions has ended its
 * chain. Without dynamic sampling every group ends its chain: one group per slot.
 */
export function stepComplete<T>(
  groups: readonly T[],
  problemsPerStep: number,
  ds: DynamicSampling | undefined,
  slotOf: (g: T) => number,
  outcomeOf: (g: T) => GroupOutcome,
): boolean {
  if (!ds) return groups.length === problemsPerStep; // the same count, without a pass (large topologies)
  let ended = 0;
  for (const g of groups) if (endsChain(slotOf(g), isFiltered(ds, outcomeOf(g)), problemsPerStep, ds)) ended++;
  return ended === problemsPerStep;
}

/** A step's dynamic-sampling figures (metrics.jsonl, per step). */
export interface FilterFigures {
  /** Groups of the step filtered (zero advantage, or one verdict with metric accuracy). */
  groupsFiltered: number;
  /** Groups of the step generated to replace filtered ones. */
  backfillGroups: number;
  /** The step's deepest backfill round (0 = none). */
  backfillRounds: number;
  /** The step trained fewer than problemsPerStep groups (a chain ended on a filtered group). */
  starved: boolean;
}

/** Tallies a step's groups as they form its batch. */
export class FilterTally {
  private filtered = 0;
  private backfill = 0;
  private deepest = 0;
  private kept = 0;

  constructor(private readonly problemsPerStep: number) {}

  add(slot: number, filtered: boolean): void {
    const r = roundOf(slot, this.problemsPerStep);
    if (r > 0) this.backfill++;
    if (r > this.deepest) this.deepest = r;
    if (filtered) this.filtered++;
    else this.kept++;
  }

  figures(): FilterFigures {
    return {
      groupsFiltered: this.filtered,
      backfillGroups: this.backfill,
      backfillRounds: this.deepest,
      starved: this.kept < this.problemsPerStep,
    };
  }
}

/** A run's dynamic-sampling counters (summary.json; kept in both clocks' checkpoints). */
export interface FilterTotals {
  groupsFiltered: number;
  backfillGroups: number;
  stepsStarved: number;
}

export function noFilterTotals(): FilterTotals {
  return { groupsFiltered: 0, backfillGroups: 0, stepsStarved: 0 };
}

export function addFilterFigures(t: FilterTotals, f: FilterFigures): void {
  t.groupsFiltered += f.groupsFiltered;
  t.backfillGroups += f.backfillGroups;
  if (f.starved) t.stepsStarved++;
}
