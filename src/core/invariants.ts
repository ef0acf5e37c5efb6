/**
 * The run's invariants, once for both clocks. Each returns null when it holds and otherwise says
 * what broke; the real clock asserts on it, the virtual clock stops with the seed and the event.
 */
import type { AccountingCounts } from './ledger.js';

/** Every generated rollout is pending, trained, dropped-stale, dropped-invalid or dropped-filtered. */
export function accountingViolation(c: AccountingCounts): string | null {
  return c.generated === c.trained + c.droppedStale + c.droppedInvalid + c.droppedFiltered + c.pending
    ? null
    : `rollout accounting does not add up: ${c.generated} generated, ${c.trained} trained, ` +
        `${c.droppedStale} dropped stale, ${c.droppedInvalid} dropped invalid, ` +
        `${c.droppedFiltered} dropped filtered, ${c.pending} pending`;
}

/**
 * Two independent counts of what was trained: the ledger's (dispositions at batch forming) and the
 * learner's own (the rollouts each update trained on, counted where the update ran).
 */
export function learnerCountViolation(ledgerTrained: number, learnerTrained: number): string | null {
  return ledgerTrained === learnerTrained
    ? null
    : `the ledger says ${ledgerTrained} rollouts trained, the learner trained ${learnerTrained}`;
}

/** At a normal end nothing is pending (after an interrupt the pending ones are in the checkpoint). */
export function lostViolation(c: AccountingCounts, interrupted: boolean): string | null {
  return interrupted || c.pending === 0 ? null : `${c.pending} rollouts generated but neither trained nor dropped`;
}

/** Versions are published one at a time, in order. */
export function publishViolation(previous: number, published: number): string | null {
  return published === previous + 1 ? null : `version ${published} published after ${previous}`;
}

export function stalenessBoundViolation(stalenessMax: number, bound: number): string | null {
  return stalenessMax <= bound ? null : `staleness ${stalenessMax} above the bound ${bound}`;
}

/** Groups planned and not yet formed into a batch stay within the queue's capacity (core/admission). */
export function capacityViolation(outstandingGroups: number, capacityGroups: number): string | null {
  return outstandingGroups <= capacityGroups
    ? null
    : `${outstandingGroups} groups outstanding, above the queue capacity ${capacityGroups}`;
}
