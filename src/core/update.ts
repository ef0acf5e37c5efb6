/**
 * An update applied — the version bump — once for both clocks (docs/ARCHITECTURE.md "One definition
 * each", 5): the step's dispositions, decided when its batch formed and kept with it, go into the
 * ledger; the step folds out of it, checked whole; the run's totals move; and two independent
 * records are compared — the ledger's sums, and its trained count against the learner's own.
 * The real clock calls it when the learner publishes (roles/learner.ts), the virtual clock when its
 * update ends (sim/learning.ts `trained`).
 */
import { addFilterFigures, type FilterFigures, type FilterTotals } from './dynamicSampling.js';
import { accountingViolation, learnerCountViolation } from './invariants.js';
import type { AccountingCounts, RolloutLedger } from './ledger.js';

/** The run's totals an update moves (each clock holds them in its own state; checkpoints carry them). */
export interface UpdateTotals {
  stalenessMax: number;
  tokensTrained: number;
  filterTotals: FilterTotals;
  /** Rollouts the learner reports it trained on (its own count). */
  learnerTrained: number;
}

/** A formed step as the update reads it: each group's disposition codes by sample, its figures. */
export interface UpdateBatch {
  step: number;
  /** `codes` absent: a virtual-clock batch from a checkpoint written before this rule, accounted when it formed. */
  groups: Iterable<{ slot: number; codes?: readonly number[] }>;
  /** The largest lag among the trained rollouts. */
  lagMax: number;
  /** Completion tokens of the trained rollouts. */
  tokens: number;
  filter: FilterFigures;
}

/**
 * Applies step `b`'s update; `updateRollouts` is the learner's own count, `running` a clock's own
 * running counts of the same events where it keeps them (the virtual clock), compared with the
 * ledger's. Returns the first violation, or null.
 */
export function applyUpdate(
  ledger: RolloutLedger,
  totals: UpdateTotals,
  b: UpdateBatch,
  updateRollouts: number,
  running?: AccountingCounts,
): string | null {
  for (const g of b.groups) {
    if (g.codes === undefined) continue;
    const bad = ledger.disposeGroup(b.step, g.slot, g.codes);
    if (bad) return bad;
  }
  const unsettled = ledger.settle(b.step);
  if (unsettled) return unsettled;
  totals.stalenessMax = Math.max(totals.stalenessMax, b.lagMax);
  totals.tokensTrained += b.tokens;
  addFilterFigures(totals.filterTotals, b.filter);
  totals.learnerTrained += updateRollouts;
  const counts = ledger.counts();
  return (
    accountingViolation(counts) ??
    learnerCountViolation(counts.trained, totals.learnerTrained) ??
    (running ? countsViolation(counts, running) : null)
  );
}

/** The ledger's counts against a clock's running ones (two records of the same events). */
function countsViolation(ledger: AccountingCounts, run: AccountingCounts): string | null {
  for (const k of ['generated', 'trained', 'droppedStale', 'droppedInvalid', 'droppedFiltered', 'pending'] as const)
    if (ledger[k] !== run[k]) return `the ledger counts ${ledger[k]} ${k}, the run ${run[k]}`;
  return null;
}

/**
 * Whether the update that made version `v` is followed by a periodic checkpoint: at every multiple
 * of `every`, counted from step 0 on both clocks — so a run resumed from an odd step (an interrupt's
 * checkpoint) checkpoints at the steps an uninterrupted run does. (The real clock used to count
 * `every` from its last checkpoint.)
 */
export function checkpointDue(v: number, every: number): boolean {
  return v % every === 0;
}

/** Whether the held-out evaluation runs after version `v`: every `eval.every` steps (if set) and at the last step. */
export function evalDue(v: number, ev: { every?: number | undefined } | undefined, maxSteps: number): boolean {
  return ev !== undefined && ((ev.every !== undefined && ev.every > 0 && v % ev.every === 0) || v === maxSteps);
}
