/**
 * summary.json's common part, once for both clocks: the run's staleness policy and bound, its
 * versions, every rollout's fate, tokens, restarts and faults. Each clock adds its own figures (the
 * real clock's wall time, transport and evaluation; the virtual clock's simulated time, events,
 * utilisation and lag histogram: src/runtime/roles/metrics.ts, src/sim/simSummary.ts).
 */
import type { FilterTotals } from './dynamicSampling.js';
import type { SampleCounters } from './metrics.js';
import type { LearnState } from './topology.js';
import type { AccountingCounts } from './ledger.js';

export interface CommonSummary {
  policy: string;
  /** η, or 'inf' for an unbounded run (JSON has no Infinity). */
  stalenessBound: number | 'inf';
  /** The learner's version: steps trained. */
  steps: number;
  /** The newest version out to the samplers (the same as `steps` at a run's end). */
  finalVersion: number;
  rolloutsGenerated: number;
  rolloutsTrained: number;
  rolloutsDroppedStale: number;
  rolloutsDroppedInvalid: number;
  rolloutsDroppedFiltered: number;
  dynamicSampling: FilterTotals;
  /** Rollouts generated and never trained or dropped: pending at a finished run's end (0 after an interrupt). */
  rolloutsLost: number;
  /** The largest lag among trained rollouts. */
  stalenessMax: number;
  tokensGenerated: number;
  /** Completion tokens of the trained rollouts. */
  tokensTrained: number;
  inflightSwaps: number;
  restarts: number;
  faultsFired: string[];
}

/** The common part's fields, in the order both clocks write them (test/parity.test.ts compares them across clocks). */
export const COMMON_SUMMARY_KEYS = [
  'policy',
  'stalenessBound',
  'steps',
  'finalVersion',
  'rolloutsGenerated',
  'rolloutsTrained',
  'rolloutsDroppedStale',
  'rolloutsDroppedInvalid',
  'rolloutsDroppedFiltered',
  'dynamicSampling',
  'rolloutsLost',
  'stalenessMax',
  'tokensGenerated',
  'tokensTrained',
  'inflightSwaps',
  'restarts',
  'faultsFired',
] as const satisfies readonly (keyof CommonSummary)[];

export function commonSummary(o: {
  policy: string;
  eta: number;
  /** The run's versions, totals and counters (its `topo`). */
  topo: LearnState & SampleCounters;
  counts: AccountingCounts;
  /** Whether the run ended at its last step (not interrupted or halted). */
  finished: boolean;
  restarts: number;
  faultsFired: string[];
}): CommonSummary {
  const c = o.counts;
  const t = o.topo;
  return {
    policy: o.policy,
    stalenessBound: Number.isFinite(o.eta) ? o.eta : 'inf',
    steps: t.learnerVersion,
    finalVersion: t.published,
    rolloutsGenerated: c.generated,
    rolloutsTrained: c.trained,
    rolloutsDroppedStale: c.droppedStale,
    rolloutsDroppedInvalid: c.droppedInvalid,
    rolloutsDroppedFiltered: c.droppedFiltered,
    dynamicSampling: { ...t.filterTotals },
    rolloutsLost: o.finished ? c.pending : 0,
    stalenessMax: t.stalenessMax,
    tokensGenerated: t.tokensGenerated,
    tokensTrained: t.tokensTrained,
    inflightSwaps: t.inflightSwaps,
    restarts: o.restarts,
    faultsFired: o.faultsFired,
  };
}
