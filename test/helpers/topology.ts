/** A learning side (core/topology LearnContext) over planted groups, for stepping it without a run. */
import type { BatchGroup } from '../../src/core/batch.js';
import { StepQueue } from '../../src/core/stepQueue.js';
import { outcomeOf, type DynamicSampling } from '../../src/core/dynamicSampling.js';
import { noFilterTotals, slotsPerStep } from '../../src/core/dynamicSampling.js';
import { RolloutLedger } from '../../src/core/ledger.js';
import type { LearnContext, TopologyRules, LearnState } from '../../src/core/topology.js';

/** A planted group: its slot, rewards, and the oldest version its rollouts' tokens came from. */
export interface PlantedGroup {
  slot: number;
  rewards: number[];
  oldest: number;
  invalid?: boolean[];
  lengths?: number[];
}

export function plantedView(g: PlantedGroup): BatchGroup {
  return {
    slot: g.slot,
    rewards: g.rewards,
    invalid: g.invalid ?? g.rewards.map(() => false),
    lengths: g.lengths ?? g.rewards.map(() => 3),
    oldest: g.oldest,
  };
}

/** A learning side at `version` (trained and published), `groupsPerStep` problems of `groupSize` rollouts. */
export function learningAt(
  over: Partial<TopologyRules> & { groupSize?: number } = {},
  version = 0,
): LearnContext<PlantedGroup> & { state: LearnState } {
  const { groupSize = 2, ...r } = over;
  const rules: TopologyRules = {
    groupsPerStep: 2,
    eta: 1,
    maxSteps: 10,
    capacityGroups: 64,
    correction: { kind: 'none' },
    checkpointEvery: null,
    brokenSteps: [],
    ...r,
  };
  const ds: DynamicSampling | undefined = rules.dynamicSampling;
  const slots = slotsPerStep(rules.groupsPerStep, ds);
  const ledger = new RolloutLedger({ slotsPerStep: slots, groupSize, problemsPerStep: rules.groupsPerStep });
  const queue = new StepQueue<PlantedGroup>(
    rules.groupsPerStep,
    64,
    ds,
    (g) => g.slot,
    (g) => outcomeOf(g.rewards),
  );
  const state: LearnState = {
    learnerVersion: version,
    published: version,
    formedThrough: version,
    stalenessMax: 0,
    tokensTrained: 0,
    filterTotals: noFilterTotals(),
    learnerTrained: 0,
  };
  return { rules, state, ledger, queue, viewOf: plantedView };
}

/** The learning side of a run already at `version`, for its `published` answers only. */
export function publishing(rules: Partial<TopologyRules>, version: number): LearnContext<PlantedGroup> {
  return learningAt(rules, version);
}
